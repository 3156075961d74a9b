// The non-template core of mapped_file<Layout> and mapped_reader<Layout> (memory/mapped_file.hpp
// holds the file format and the reader protocol). Everything that does not depend on the page
// type (file creation, validation, mmap, the bank tables, publish and the seqlock copy) is
// compiled once into libmmsb (src/memory/mapped_file.cpp). The templates pass what they know of
// the page (its header fields and a few page_ops) and cast the bytes back to page<Layout>.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <vector>

namespace mmsb {

// create(): refuse an existing path (the default), or atomically replace it.
enum class create_mode : std::uint8_t { exclusive = 0, truncate = 1 };

namespace detail::mapped {

inline constexpr std::uint32_t format_version = 1;

// What the file header records of a layout; checked field by field when a file is opened.
struct header_fields {
  std::uint32_t version = format_version;
  std::uint8_t kind = 0, value_class = 0;
  std::uint32_t value_bytes = 0, fields = 1;
  std::uint64_t extent = 0, page_bytes = 0;
  std::uint32_t capacity = 0;
  std::uint64_t file_bytes = 0;
};

template <class T>
constexpr std::uint8_t value_class() noexcept
{
  if constexpr (std::is_same_v<T, bool>) return 4;
  else if constexpr (std::is_floating_point_v<T>) return 1;
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) return 2;
  else if constexpr (std::is_integral_v<T>) return 3;
  else return 0;
}

template <layout Layout>
constexpr header_fields layout_fields() noexcept
{
  header_fields h;
  h.kind = static_cast<std::uint8_t>(Layout::kind);
  h.value_class = value_class<typename Layout::value_type>();
  h.value_bytes = static_cast<std::uint32_t>(sizeof(typename Layout::value_type));
  if constexpr (requires { Layout::fields; }) h.fields = static_cast<std::uint32_t>(Layout::fields);
  h.extent = Layout::extent;
  h.page_bytes = sizeof(page<Layout>);
  return h;
}

// What the core needs to do with a page it only knows as page_bytes bytes.
struct page_ops {
  void (*make)(void* at, page_id id) noexcept;  // constructs page_type(id) at `at`
  void (*clear)(void* at) noexcept;             // constructs page_type() at `at`
  page_id (*id_of)(const void* at) noexcept;
  void (*hash)(state_hasher& h, const void* at);
};

template <layout Layout>
inline constexpr page_ops ops_for = {
  [](void* at, page_id id) noexcept { ::new (at) page<Layout>(id); },
  [](void* at) noexcept { ::new (at) page<Layout>(); },
  [](const void* at) noexcept { return static_cast<const page<Layout>*>(at)->id(); },
  [](state_hasher& h, const void* at) { hash_into(h, *static_cast<const page<Layout>*>(at)); },
};

struct live_entry {
  std::uint32_t id, slot;
  std::uint64_t checksum;
};

// The writer's state: file, mapping, bank tables, page index and dirty sets. Move-only.
class writer {
public:
  static writer create(const std::filesystem::path& path, header_fields fields, std::uint32_t capacity, create_mode mode,
                       std::filesystem::perms permissions, const page_ops& ops);
  static writer open(const std::filesystem::path& path, const header_fields& fields, const page_ops& ops);

  writer(writer&&) noexcept;
  writer& operator=(writer&&) noexcept;
  ~writer();

  page_id create_page();
  page_id create_page(page_id id);
  void destroy_page(page_id id);
  [[nodiscard]] void* page_at(page_id id);  // marks the page dirty
  [[nodiscard]] const void* page_at(page_id id) const;
  [[nodiscard]] void* find(page_id id);  // marks the page dirty
  [[nodiscard]] const void* find(page_id id) const noexcept;
  [[nodiscard]] bool contains(page_id id) const noexcept;

  void publish(mmsb::epoch e);
  void sync();

  [[nodiscard]] mmsb::epoch published() const noexcept;
  [[nodiscard]] std::uint64_t generation() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] std::uint32_t capacity() const noexcept;
  [[nodiscard]] const std::filesystem::path& path() const noexcept;
  [[nodiscard]] std::vector<page_id> ids() const;
  [[nodiscard]] state_hash hash() const;

private:
  struct state;
  explicit writer(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> s_;
};

// The reader's state: a read-only mapping of a validated file.
class reader {
public:
  reader(const std::filesystem::path& path, const header_fields& fields);
  reader(reader&&) noexcept;
  reader& operator=(reader&&) noexcept;
  ~reader();

  // What one consistent copy held.
  struct copy_result {
    mmsb::epoch epoch{};
    std::uint64_t generation = 0;
    std::uint32_t attempts = 0;
  };
  // Copies the newest published generation under the seqlock: `entries` gets its live pages in
  // id order and resize(ctx, n) must return room for n pages, page_bytes apart.
  copy_result snapshot(std::vector<live_entry>& entries, void* (*resize)(void* ctx, std::size_t n), void* ctx,
                       page_id (*id_of)(const void*) noexcept, std::uint32_t max_attempts) const;
  [[nodiscard]] mmsb::epoch published(std::uint32_t max_attempts) const;

  [[nodiscard]] std::uint32_t capacity() const noexcept;
  [[nodiscard]] const std::filesystem::path& path() const noexcept;

private:
  struct state;
  std::unique_ptr<state> s_;
};

} // namespace detail::mapped
} // namespace mmsb

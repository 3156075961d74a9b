// mapped_reader<Layout>: the read-only side of a mapped_file<Layout> (memory/mapped_file.hpp holds
// the file format and the reader protocol), for any number of other processes or threads, and
// mapped_snapshot<Layout>, a reader's private copy of one published generation.
//
// The seqlock copy and the validation are compiled into libmmsb (src/memory/mapped_file.cpp)
// through detail::mapped::reader; this template only owns the pages it copies into.
#pragma once

#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/memory/detail/mapped_core.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace mmsb {

template <layout Layout>
class mapped_reader;

// A reader's private copy of one published generation: pages in ascending id order.
template <layout Layout>
class mapped_snapshot {
public:
  using page_type = page<Layout>;  // a private copy of one page

  // The epoch the copied generation was published as (0 before the first snapshot).
  [[nodiscard]] mmsb::epoch epoch() const noexcept { return epoch_; }
  // The copied generation (mapped_file::generation() when it was published).
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
  // The copied pages, ascending by id; valid until this snapshot is refilled or destroyed.
  [[nodiscard]] const std::vector<page_type>& pages() const noexcept { return pages_; }
  // How many tries the seqlock needed for this snapshot (1 = no retry).
  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempts_; }
  // The copied page with this id (binary search), or nullptr when it was not live.
  [[nodiscard]] const page_type* find(page_id id) const noexcept
  {
    const auto it = std::lower_bound(pages_.begin(), pages_.end(), id, [](const page_type& p, page_id x) { return p.id() < x; });
    return it != pages_.end() && it->id() == id ? &*it : nullptr;
  }
  // The state hash of the copied pages: equal to mapped_file::hash() right after that publish.
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    for (const auto& p : pages_) hash_into(h, p);
    return h.digest();
  }

private:
  template <layout>
  friend class mapped_reader;
  mmsb::epoch epoch_{};
  std::uint64_t generation_ = 0;
  std::uint32_t attempts_ = 0;
  std::vector<page_type> pages_;
  std::vector<detail::mapped::live_entry> entries_;  // scratch, kept to avoid reallocating
};

// The read-only side, for any number of other processes (or threads). It maps the file
// PROT_READ, never writes to it and never blocks the writer. A file replaced by
// create(truncate) is not followed: open a new reader. Each snapshot() is independent; const
// calls may run concurrently on one reader.
template <layout Layout>
class mapped_reader {
public:
  using page_type = page<Layout>;  // the page object a snapshot holds
  // Seqlock tries before snapshot() gives up with errc::conflict.
  static constexpr std::uint32_t default_max_attempts = 100000;

  // Validates the header against Layout (as mapped_file::open does); throws mmsb::error.
  explicit mapped_reader(const std::filesystem::path& path) : r_(path, detail::mapped::layout_fields<Layout>()) {}

  // Copies the newest published generation into `into` (reusing its buffers), retrying under the
  // seqlock. Throws errc::conflict after max_attempts torn copies, errc::corrupt when a stable
  // copy is inconsistent or fails a checksum.
  void snapshot(mapped_snapshot<Layout>& into, std::uint32_t max_attempts = default_max_attempts) const
  {
    const auto resize = [](void* ctx, std::size_t n) -> void* {
      auto& pages = *static_cast<std::vector<page_type>*>(ctx);
      pages.resize(n);
      return pages.data();
    };
    const auto got = r_.snapshot(into.entries_, resize, &into.pages_, detail::mapped::ops_for<Layout>.id_of, max_attempts);
    into.epoch_ = got.epoch;
    into.generation_ = got.generation;
    into.attempts_ = got.attempts;
  }
  // The newest published generation as a new snapshot; throws as the overload above does.
  [[nodiscard]] mapped_snapshot<Layout> snapshot(std::uint32_t max_attempts = default_max_attempts) const
  {
    mapped_snapshot<Layout> s;
    snapshot(s, max_attempts);
    return s;
  }
  // The newest published epoch, read under the same protocol.
  [[nodiscard]] mmsb::epoch published() const { return r_.published(default_max_attempts); }

  // The file's page slots (fixed when the writer created it).
  [[nodiscard]] std::uint32_t capacity() const noexcept { return r_.capacity(); }
  // The file's path, as given to the constructor.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return r_.path(); }

private:
  detail::mapped::reader r_;
};

} // namespace mmsb

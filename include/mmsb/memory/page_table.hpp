// page_table<Layout, Allocator>: maps page_id to the page's storage and its lifecycle flags.
// Pages are created, looked up and destroyed here; each page's epoch lives in the page itself.
// Metadata: one 16-byte entry per id ever issued (plus the free-id list when ids are reused).
//
// Id policy: by default ids are never reused, so a destroyed id stays an error forever and log
// records or provenance can never name the wrong page. id_reuse::lowest_free hands the lowest
// destroyed id out again, for long-running buses that churn pages.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/alignment.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/memory/allocator.hpp>
#include <mmsb/memory/host_heap.hpp>
#include <mmsb/page/layout.hpp>
#include <mmsb/page/page.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace mmsb {

// Whether a page_table issues destroyed ids again: never (the default: a destroyed id stays an
// error forever) or lowest_free (the lowest destroyed id is issued next).
enum class id_reuse : std::uint8_t { never, lowest_free };

// Owns the pages of one Layout, each in its own block from Allocator (which must be host
// accessible). Not copyable or movable; not thread-safe (one writer, as the bus arranges).
template <layout Layout, page_allocator Allocator = host_heap>
class page_table {
  static_assert(host_accessible(Allocator::space),
                "mmsb: page_table<Layout, Allocator>: the host constructs and reads pages in place, so Allocator must "
                "hand out host-accessible memory (host_heap, host_pool, mapped_file, cuda_pinned, cuda_managed), "
                "not device memory");

public:
  using page_type = page<Layout>;  // the page object stored in each block
  using allocator_type = Allocator;  // where the pages' blocks come from
  // Bytes of each page's block: sizeof(page_type) rounded up to page_alignment.
  static constexpr std::size_t block_bytes = round_up(sizeof(page_type), page_alignment);
  // The largest id a table issues; the one above it is never valid, so it can mean "none".
  static constexpr std::uint32_t max_id = std::numeric_limits<std::uint32_t>::max() - 1;

  // An empty table with a default-constructed allocator.
  explicit page_table(id_reuse reuse = id_reuse::never) : reuse_(reuse) {}
  // Constructs the table's allocator in place from args (allocators hold atomics: not movable).
  template <class... Args>
  page_table(id_reuse reuse, std::in_place_t, Args&&... args) : alloc_(std::forward<Args>(args)...), reuse_(reuse) {}
  page_table(const page_table&) = delete;
  page_table& operator=(const page_table&) = delete;
  ~page_table()
  {
    for (auto& e : entries_)
      if (e.page) release(e.page);
  }

  // Creates a page whose storage is zero bytes (every byte, padding included) at epoch 0 under
  // the next id. Throws mmsb::error (out_of_memory, or
  // out_of_range when ids are exhausted) with the table unchanged.
  page_id create()
  {
    if (reuse_ == id_reuse::lowest_free && !free_ids_.empty()) {
      const page_id id{free_ids_.front()};
      place(id);  // may throw: the id stays free
      std::pop_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
      free_ids_.pop_back();
      return id;
    }
    if (entries_.size() > max_id)
      throw error(errc::out_of_range, "page table: all " + std::to_string(std::uint64_t{max_id} + 1) + " page ids are in use");
    const page_id id{static_cast<std::uint32_t>(entries_.size())};
    create(id);
    return id;
  }

  // Creates the page with this exact id (for replay and recovery). Throws mmsb::error if the id
  // is live (invalid_argument) or past max_id (out_of_range); nothing changes then.
  void create(page_id id)
  {
    if (id.value() > max_id)
      throw error(errc::out_of_range, "page table: page " + std::to_string(id.value()) + " is past the largest id " +
                                        std::to_string(max_id));
    if (id.value() < entries_.size() && entries_[id.value()].page)
      throw error(errc::invalid_argument, "page table: page " + std::to_string(id.value()) + " already exists");
    const std::size_t old_bound = entries_.size();
    if (id.value() >= old_bound) {
      try {
        entries_.resize(std::size_t{id.value()} + 1);  // nothing placed yet
      } catch (const std::bad_alloc&) {
        throw error(errc::out_of_memory, "page table: no memory for the entries of ids up to " +
                                           std::to_string(id.value()) + " (" +
                                           std::to_string((std::size_t{id.value()} + 1) * sizeof(entry)) + " bytes)");
      }
    }
    try {
      place(id);
    } catch (...) {
      entries_.resize(old_bound);  // shrinking never throws
      throw;
    }
    if (reuse_ == id_reuse::lowest_free) {
      const auto it = std::find(free_ids_.begin(), free_ids_.end(), id.value());
      if (it != free_ids_.end()) {
        free_ids_.erase(it);
        std::make_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
      }
    }
  }

  // Destroys a live page. Throws mmsb::error (unknown_page) naming the id otherwise.
  void destroy(page_id id)
  {
    page_type& p = at(id);  // validates
    if (reuse_ == id_reuse::lowest_free) {
      reserve_for(free_ids_, free_ids_.size() + 1);  // may throw: nothing destroyed yet
      free_ids_.push_back(id.value());
      std::push_heap(free_ids_.begin(), free_ids_.end(), std::greater<>{});
    }
    release(&p);
    entries_[id.value()] = entry{nullptr, flag_destroyed, 0};
    --live_;
  }

  // The page, or mmsb::error (unknown_page) naming the id and why: never issued, or destroyed.
  [[nodiscard]] page_type& at(page_id id) { return *checked(id); }
  // The page (read-only), or mmsb::error (unknown_page) as above.
  [[nodiscard]] const page_type& at(page_id id) const { return *const_cast<page_table*>(this)->checked(id); }

  // The page, or nullptr.
  [[nodiscard]] page_type* find(page_id id) noexcept
  {
    return id.value() < entries_.size() ? entries_[id.value()].page : nullptr;
  }
  // The page (read-only), or nullptr when the id is not live.
  [[nodiscard]] const page_type* find(page_id id) const noexcept
  {
    return id.value() < entries_.size() ? entries_[id.value()].page : nullptr;
  }
  // Whether the id names a live page.
  [[nodiscard]] bool contains(page_id id) const noexcept { return find(id) != nullptr; }

  // Number of live pages.
  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  // Ids issued so far (live or destroyed): every live id is below this.
  [[nodiscard]] std::size_t id_bound() const noexcept { return entries_.size(); }

  // Calls f(page) for every live page in ascending id order.
  template <class F>
  void for_each(F&& f) const
  {
    for (const auto& e : entries_)
      if (e.page) f(static_cast<const page_type&>(*e.page));
  }
  // Calls f(page) for every live page in ascending id order, with write access.
  template <class F>
  void for_each(F&& f)
  {
    for (auto& e : entries_)
      if (e.page) f(*e.page);
  }

  // The state hash of every live page (ids and payloads, ascending).
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    for_each([&](const page_type& p) { hash_into(h, p); });
    return h.digest();
  }

  // Bytes the table itself holds (entries and free ids), not the pages.
  [[nodiscard]] std::size_t metadata_bytes() const noexcept
  {
    return entries_.capacity() * sizeof(entry) + free_ids_.capacity() * sizeof(std::uint32_t);
  }

  // The allocator the pages' blocks come from (for its stats, or a test seam's arming).
  [[nodiscard]] Allocator& allocator() noexcept { return alloc_; }
  // The allocator the pages' blocks come from (read-only).
  [[nodiscard]] const Allocator& allocator() const noexcept { return alloc_; }

private:
  static constexpr std::uint32_t flag_destroyed = 1;
  struct entry {
    page_type* page = nullptr;
    std::uint32_t flags = 0;
    std::uint32_t reserved = 0;
  };
  static_assert(sizeof(entry) == 16, "page table entries are 16 bytes");

  void place(page_id id)
  {
    void* mem = alloc_.allocate(block_bytes);  // may throw; nothing recorded yet
    // Every byte defined, padding included: the storage's alignment can leave bytes that no
    // slot covers (bits<256> is 32 B of words in a 64 B block), and the state hash and
    // checkpoints read the whole storage. A fresh block from the allocator is indeterminate.
    // (After construction: stores before a constructor are dead to GCC's lifetime DSE.)
    page_type* p = ::new (mem) page_type(id);
    std::memset(static_cast<void*>(&p->storage()), 0, sizeof(typename page_type::storage_type));
    entries_[id.value()] = entry{p, 0, 0};
    ++live_;
  }
  void release(page_type* p) noexcept
  {
    p->~page_type();
    alloc_.deallocate(p, block_bytes);
  }
  page_type* checked(page_id id)
  {
    if (id.value() >= entries_.size())
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) + ": no such page was created (ids issued: " +
                                        std::to_string(entries_.size()) + ")");
    page_type* p = entries_[id.value()].page;
    if (!p) {
      const bool destroyed = entries_[id.value()].flags & flag_destroyed;
      throw error(errc::unknown_page, "unknown page " + std::to_string(id.value()) +
                                        (destroyed ? ": it was destroyed" : ": no such page was created"));
    }
    return p;
  }

  Allocator alloc_;
  id_reuse reuse_;
  std::vector<entry> entries_;
  std::vector<std::uint32_t> free_ids_;  // min-heap, lowest_free only
  std::size_t live_ = 0;
};

} // namespace mmsb

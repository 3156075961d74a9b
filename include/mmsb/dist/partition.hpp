// partition: which rank owns each page of a bus split across ranks (dist/mpi_bus.hpp;
// docs/distributed.md). Every rank builds the same partition from the same rule, so every rank knows
// every page's owner without communication. A rank's pages get local ids 0, 1, ... in ascending
// global order, so a rank's local bus keeps its pages in the global order.
//
// Rules: block (contiguous ranges, the first pages % ranks ranks one page more), hash (a fixed
// 64-bit mix of the page id, modulo the ranks: scatters neighbours) and owners (a table the user
// supplies). The fingerprint names the rule and its table, so ranks built differently disagree
// at start-up (mpi_bus checks it).
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mmsb::dist {

// The pages [0, pages()) of a bus, each owned by one of ranks() ranks (see the top of this
// header). Immutable once built; copyable.
class partition {
public:
  // Contiguous ranges: rank r owns [r * n / ranks + min(r, n % ranks) ...), the first n % ranks
  // ranks one page more than the others. Throws mmsb::error (invalid_argument) for ranks == 0.
  [[nodiscard]] static partition block(std::uint32_t pages, std::uint32_t ranks)
  {
    check_ranks(ranks);
    std::vector<std::uint32_t> owners(pages);
    const std::uint32_t base = pages / ranks, extra = pages % ranks;
    std::uint32_t g = 0;
    for (std::uint32_t r = 0; r < ranks; ++r)
      for (std::uint32_t k = 0; k < base + (r < extra ? 1u : 0u); ++k) owners[g++] = r;
    return partition("block", ranks, std::move(owners));
  }
  // Page g on rank mix(g) % ranks, mix the splitmix64 finalizer: neighbouring ids on different
  // ranks. Throws as block.
  [[nodiscard]] static partition hash(std::uint32_t pages, std::uint32_t ranks)
  {
    check_ranks(ranks);
    std::vector<std::uint32_t> owners(pages);
    for (std::uint32_t g = 0; g < pages; ++g) owners[g] = static_cast<std::uint32_t>(mix(g) % ranks);
    return partition("hash", ranks, std::move(owners));
  }
  // owners[g] is page g's rank. Throws mmsb::error (invalid_argument) naming the first page whose
  // rank is not below `ranks`.
  [[nodiscard]] static partition from_owners(std::vector<std::uint32_t> owners, std::uint32_t ranks)
  {
    check_ranks(ranks);
    for (std::size_t g = 0; g < owners.size(); ++g)
      if (owners[g] >= ranks)
        throw error(errc::invalid_argument, "partition: page " + std::to_string(g) + " is given to rank " + std::to_string(owners[g]) +
                                              ", but there are " + std::to_string(ranks) + " ranks");
    return partition("owners", ranks, std::move(owners));
  }

  // Pages in the bus.
  [[nodiscard]] std::uint32_t pages() const noexcept { return static_cast<std::uint32_t>(owner_.size()); }
  // Ranks the pages are spread over.
  [[nodiscard]] std::uint32_t ranks() const noexcept { return ranks_; }
  // The rule's name: "block", "hash" or "owners".
  [[nodiscard]] const std::string& rule() const noexcept { return rule_; }
  // Whether g names a page of the bus.
  [[nodiscard]] bool contains(page_id g) const noexcept { return g.value() < owner_.size(); }
  // The rank that owns page g (a page of the bus: see checked_owner).
  [[nodiscard]] std::uint32_t owner(page_id g) const noexcept { return owner_[g.value()]; }
  // Page g's local id on its owner (a page of the bus).
  [[nodiscard]] page_id local(page_id g) const noexcept { return page_id{local_[g.value()]}; }
  // The global ids of rank r's pages, ascending: local id i is owned(r)[i].
  [[nodiscard]] const std::vector<page_id>& owned(std::uint32_t r) const noexcept { return owned_[r]; }
  // The owner of page g; throws mmsb::error (unknown_page) naming g and the bus's range when g is
  // not a page of the bus.
  [[nodiscard]] std::uint32_t checked_owner(page_id g) const
  {
    if (!contains(g))
      throw error(errc::unknown_page, "page " + std::to_string(g.value()) + " is out of range: the bus has pages [0, " +
                                        std::to_string(pages()) + ") on " + std::to_string(ranks_) + " ranks");
    return owner(g);
  }
  // 64 bits naming the rule, the ranks and every page's owner: equal partitions, equal values.
  [[nodiscard]] std::uint64_t fingerprint() const noexcept
  {
    const std::uint64_t seed = XXH3_64bits(rule_.data(), rule_.size()) ^ (std::uint64_t{ranks_} << 32);
    return XXH3_64bits_withSeed(owner_.data(), owner_.size() * sizeof(std::uint32_t), seed);
  }

private:
  partition(std::string rule, std::uint32_t ranks, std::vector<std::uint32_t> owners)
      : rule_(std::move(rule)), ranks_(ranks), owner_(std::move(owners)), local_(owner_.size()), owned_(ranks)
  {
    for (std::uint32_t g = 0; g < owner_.size(); ++g) {
      auto& mine = owned_[owner_[g]];
      local_[g] = static_cast<std::uint32_t>(mine.size());
      mine.push_back(page_id{g});
    }
  }
  static void check_ranks(std::uint32_t ranks)
  {
    if (ranks == 0) throw error(errc::invalid_argument, "partition: 0 ranks");
  }
  static std::uint64_t mix(std::uint64_t x) noexcept
  {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }

  std::string rule_;
  std::uint32_t ranks_;
  std::vector<std::uint32_t> owner_;     // by global id
  std::vector<std::uint32_t> local_;     // by global id: the local id on its owner
  std::vector<std::vector<page_id>> owned_;  // by rank: its pages' global ids, ascending
};

} // namespace mmsb::dist

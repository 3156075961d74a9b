// The state hash: xxh3-64 over (page id, byte count, page bytes) in ascending id order. Every
// determinism and replay test compares these; equal hashes are the equality check for state.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>

#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mmsb {

// The 64-bit hash of a whole state, as state_hasher::digest() gives it; equal states hash equal.
struct state_hash {
  std::uint64_t value{0};  // the xxh3-64 digest (fmt prints it as 16 hex digits)
  // Hashes compare by value.
  friend constexpr bool operator==(state_hash, state_hash) noexcept = default;
};

// Streaming hasher. Pages must be added in strictly ascending id order; anything else is bad
// input and throws mmsb::error without changing the running hash. The byte count is hashed too,
// so page boundaries cannot be shifted without changing the result.
class state_hasher {
public:
  state_hasher() : state_(XXH3_createState())
  {
    if (!state_) throw error(errc::out_of_memory, "state hash: could not allocate the xxh3 state");
    XXH3_64bits_reset(state_.get());
  }

  // Adds one page's bytes. Throws errc::invalid_argument, leaving the hash as it was, when id is
  // not above the last id added or bytes is null with a non-zero size.
  void add(page_id id, span<const std::byte> bytes)
  {
    if (has_last_ && !(last_ < id))
      throw error(errc::invalid_argument,
                  "state hash: page " + std::to_string(id.value()) + " added after page " +
                    std::to_string(last_.value()) + "; pages must be added in ascending id order");
    if (bytes.data() == nullptr && !bytes.empty())
      throw error(errc::invalid_argument,
                  "state hash: page " + std::to_string(id.value()) + " has a null buffer of " +
                    std::to_string(bytes.size()) + " bytes");
    unsigned char head[12];
    const auto v = id.value();
    const auto n = static_cast<std::uint64_t>(bytes.size());
    for (int i = 0; i < 4; ++i) head[i] = static_cast<unsigned char>(v >> (8 * i));
    for (int i = 0; i < 8; ++i) head[4 + i] = static_cast<unsigned char>(n >> (8 * i));
    XXH3_64bits_update(state_.get(), head, sizeof head);
    if (!bytes.empty()) XXH3_64bits_update(state_.get(), bytes.data(), bytes.size());
    last_ = id;
    has_last_ = true;
  }

  // The hash of the pages added so far; adding more afterwards is allowed.
  [[nodiscard]] state_hash digest() const noexcept { return {XXH3_64bits_digest(state_.get())}; }

private:
  struct deleter {
    void operator()(XXH3_state_t* s) const noexcept { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, deleter> state_;
  page_id last_{};
  bool has_last_ = false;
};

} // namespace mmsb

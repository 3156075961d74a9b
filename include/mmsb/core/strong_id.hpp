// strong_id<Tag, Rep>: an integer that does not mix with plain integers or with ids of another kind.
#pragma once

#include <mmsb/config/macros.hpp>

#include <compare>
#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>

namespace mmsb {

namespace detail {
template <class...>
inline constexpr bool always_false = false;
} // namespace detail

// Construction from the representation is explicit; comparison is only with the same kind.
// Mixing kinds (page_id == epoch) or comparing with a plain integer is refused at compile time
// with an `mmsb:` message. Tag::name is used in error messages ("page 42").
template <class Tag, std::unsigned_integral Rep>
class strong_id {
public:
  using tag_type = Tag;  // the kind of id; Tag::name is the word messages print ("page")
  using rep_type = Rep;  // the unsigned integer it holds

  constexpr strong_id() noexcept = default;
  // An id holding `value`; explicit, so a plain integer never becomes an id by accident.
  MMSB_HD constexpr explicit strong_id(Rep value) noexcept : value_(value) {}

  // The integer held (0 for a default-constructed id).
  [[nodiscard]] MMSB_HD constexpr Rep value() const noexcept { return value_; }
  // The id after this one; wraps at the top of Rep, which callers treat as exhaustion.
  [[nodiscard]] MMSB_HD constexpr strong_id next() const noexcept { return strong_id(Rep(value_ + 1u)); }

  // Ids of the same kind compare by value.
  friend constexpr bool operator==(strong_id, strong_id) noexcept = default;
  // Ids of the same kind order by value, so they can key ordered containers.
  friend constexpr std::strong_ordering operator<=>(strong_id, strong_id) noexcept = default;

  // Comparing with an id of another kind does not compile (an `mmsb:` static_assert).
  template <class OtherTag, class OtherRep>
    requires(!std::is_same_v<OtherTag, Tag>)
  constexpr bool operator==(strong_id<OtherTag, OtherRep>) const noexcept
  {
    static_assert(detail::always_false<OtherTag>,
                  "mmsb: cannot compare ids of different kinds (for example a page_id with an "
                  "epoch); compare their .value() explicitly if you really mean it");
    return false;
  }

  // Comparing with a plain number does not compile (an `mmsb:` static_assert naming the fix).
  template <class T>
    requires std::is_arithmetic_v<T>
  constexpr bool operator==(T) const noexcept
  {
    static_assert(detail::always_false<T>,
                  "mmsb: cannot compare an id with a plain number; write `id == page_id{n}` "
                  "or `id.value() == n`");
    return false;
  }

private:
  Rep value_{0};
};

// True when T is some strong_id<Tag, Rep>.
template <class T>
inline constexpr bool is_strong_id_v = false;
// True when T is some strong_id<Tag, Rep>.
template <class Tag, class Rep>
inline constexpr bool is_strong_id_v<strong_id<Tag, Rep>> = true;

} // namespace mmsb

// Ids hash as their value, so they can key unordered containers. Kept out of the API reference:
// doxygen cannot place a specialization declared in namespace std.
/// @cond
template <class Tag, class Rep>
struct std::hash<mmsb::strong_id<Tag, Rep>> {
  std::size_t operator()(mmsb::strong_id<Tag, Rep> id) const noexcept { return std::hash<Rep>{}(id.value()); }
};
/// @endcond

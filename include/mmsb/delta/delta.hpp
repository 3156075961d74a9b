// delta<Semiring, Layout>: a change to one page in whichever encoding suits its density, and
// delta_builder, which collects changes slot by slot and picks the encoding when it builds.
//
// The choice follows GraphBLAS's bitmap-vs-sparse switch: a delta touching at most 1/16 of the
// page's slots is stored sparse (sorted entries), a denser one as a bitmap with a full payload.
// Both encodings apply and merge to identical bits; the choice only affects speed and size.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/delta/apply.hpp>
#include <mmsb/delta/dense_delta.hpp>
#include <mmsb/delta/merge.hpp>
#include <mmsb/delta/sparse_delta.hpp>
#include <mmsb/page/page.hpp>

#include <cstdint>
#include <memory>
#include <utility>

namespace mmsb {

// Which encoding a delta holds: dense_delta (bitmap and full payload) or sparse_delta (entries).
enum class delta_encoding : std::uint8_t { dense = 1, sparse = 2 };

// True when `count` changed slots out of `extent` are best stored sparse.
[[nodiscard]] constexpr bool prefer_sparse(std::size_t count, std::size_t extent) noexcept
{
  return count * 16 <= extent;
}

// The same change in the sparse encoding, into `out` (cleared first; its storage reused).
template <class Semiring, class Layout>
void to_sparse_into(const dense_delta<Semiring, Layout>& d, sparse_delta<Semiring, Layout>& out)
{
  out.clear();
  out.retarget(d.target());
  out.reserve(d.count());
  for (std::size_t w = 0; w < dense_delta<Semiring, Layout>::words; ++w)
    for (word_t bits = d.mask_words()[w]; bits != 0; bits &= bits - 1) {
      const auto i = static_cast<std::uint32_t>(w * word_bits + static_cast<std::size_t>(countr_zero(bits)));
      out.push_back_unchecked(i, d.is_assign(i) ? delta_op::assign : delta_op::accumulate, d.value(i));
    }
}

// The same change in the sparse encoding.
template <class Semiring, class Layout>
[[nodiscard]] sparse_delta<Semiring, Layout> to_sparse(const dense_delta<Semiring, Layout>& d)
{
  sparse_delta<Semiring, Layout> s;
  to_sparse_into(d, s);
  return s;
}

// A change to one page, in either encoding (sparse held inline, dense on the heap); value
// semantics (copying copies the change). Not thread-safe.
template <class Semiring, class Layout>
class delta {
public:
  using dense_type = dense_delta<Semiring, Layout>;  // the bitmap encoding
  using sparse_type = sparse_delta<Semiring, Layout>;  // the list encoding
  using value_type = typename Layout::value_type;  // the element type of one slot

  delta() = default;
  // Holds a sparse change (implicit, so a sparse_delta converts where a delta is expected).
  delta(sparse_type s) : sparse_(std::move(s)) {}  // NOLINT: implicit by design
  // Dense deltas are large (a full page of payload): held on the heap so delta stays cheap to move.
  delta(const dense_type& d) : dense_(std::make_unique<dense_type>(d)), encoding_(delta_encoding::dense) {}  // NOLINT
  // Takes a dense change already on the heap, without copying it.
  explicit delta(std::unique_ptr<dense_type> d) : dense_(std::move(d)), encoding_(delta_encoding::dense) {}
  // Copies the change, in the same encoding (allocates a page-sized block for a dense one).
  delta(const delta& other) : encoding_(other.encoding_)
  {
    if (other.as_sparse()) sparse_ = other.sparse_;
    else dense_ = std::make_unique<dense_type>(*other.dense_);
  }
  // A moved-from delta is an empty sparse delta (no change), still safe to use.
  delta(delta&& other) noexcept
    : sparse_(std::move(other.sparse_)), dense_(std::move(other.dense_)), encoding_(std::exchange(other.encoding_, delta_encoding::sparse))
  {
    other.sparse_ = sparse_type{};
  }
  // Copies other's change into this; on std::bad_alloc this is unchanged.
  delta& operator=(const delta& other)
  {
    if (this != &other) *this = delta(other);
    return *this;
  }
  // Takes other's change; other becomes an empty sparse delta, as after a move construction.
  delta& operator=(delta&& other) noexcept
  {
    if (this != &other) {
      sparse_ = std::move(other.sparse_);
      dense_ = std::move(other.dense_);
      encoding_ = std::exchange(other.encoding_, delta_encoding::sparse);
      other.sparse_ = sparse_type{};
    }
    return *this;
  }

  // Which encoding it holds.
  [[nodiscard]] delta_encoding encoding() const noexcept { return encoding_; }
  // The page this change is for.
  [[nodiscard]] page_id target() const noexcept
  {
    return visit([](const auto& d) { return d.target(); });
  }
  // The number of changed slots.
  [[nodiscard]] std::size_t count() const noexcept
  {
    return visit([](const auto& d) { return d.count(); });
  }
  // The sparse encoding, or nullptr when it holds the dense one.
  [[nodiscard]] const sparse_type* as_sparse() const noexcept { return encoding_ == delta_encoding::sparse ? &sparse_ : nullptr; }
  // The dense encoding, or nullptr when it holds the sparse one.
  [[nodiscard]] const dense_type* as_dense() const noexcept { return encoding_ == delta_encoding::dense ? dense_.get() : nullptr; }

  // Calls f with the sparse_delta or dense_delta this holds.
  template <class F>
  decltype(auto) visit(F&& f) const
  {
    if (const auto* s = as_sparse()) return f(*s);
    return f(*as_dense());
  }

  // Reuse in place (a hot loop's way to rebuild a delta without allocating once warm): makes
  // this an empty delta to `target` in the chosen encoding and returns it to be filled. The
  // other encoding's storage is kept for a later reuse; only a dense page the first time, or a
  // sparse list past its capacity, allocates. Throws std::bad_alloc with this unchanged.
  sparse_type& reuse_sparse(page_id target) noexcept
  {
    sparse_.clear();
    sparse_.retarget(target);
    encoding_ = delta_encoding::sparse;
    return sparse_;
  }
  // Allocates the dense encoding's storage now (if not yet), so no later reuse_dense does.
  void reserve_dense()
  {
    if (!dense_) dense_ = std::make_unique<dense_type>(target());
  }
  // As reuse_sparse, in the dense encoding: the first time allocates the page-sized block.
  dense_type& reuse_dense(page_id target)
  {
    if (!dense_) dense_ = std::make_unique<dense_type>(target);
    else {
      dense_->clear();
      dense_->retarget(target);
    }
    encoding_ = delta_encoding::dense;
    return *dense_;
  }

  // The same change in the dense encoding.
  [[nodiscard]] dense_type to_dense() const
  {
    if (const auto* d = as_dense()) return *d;
    dense_type out(target());
    for (const auto& e : as_sparse()->entries()) out.put_unchecked(e.index, {e.op == delta_op::assign, e.value});
    return out;
  }

private:
  sparse_type sparse_{};                 // the sparse encoding, or kept storage
  std::unique_ptr<dense_type> dense_;    // the dense encoding, or kept storage (or none)
  delta_encoding encoding_ = delta_encoding::sparse;
};

// The dense encoding of a delta<Semiring, Layout>: an alias of dense_delta<Semiring, Layout>.
template <class Semiring, class Layout>
using dense_type_of = dense_delta<Semiring, Layout>;

namespace detail {
// out = merge(out, d) for either encoding of d.
template <class Semiring, class Layout>
void merge_encoded_into(dense_delta<Semiring, Layout>& out, const dense_delta<Semiring, Layout>& d) noexcept
{
  merge_into(out, d);
}
template <class Semiring, class Layout>
void merge_encoded_into(dense_delta<Semiring, Layout>& out, const sparse_delta<Semiring, Layout>& d) noexcept
{
  for (const auto& e : d.entries()) out.put_unchecked(e.index, {e.op == delta_op::assign, e.value});
}
} // namespace detail

// Applies either encoding; throws mmsb::error if d targets another page, leaving p unchanged.
template <class Semiring, class Layout>
void apply(page<Layout>& p, const delta<Semiring, Layout>& d)
{
  d.visit([&](const auto& enc) { apply(p, enc); });
}

// merge(a, b) for any pair of encodings. Two sparse deltas merge sparse (re-encoded dense if the
// result is too dense); anything involving a dense delta merges dense.
template <class Semiring, class Layout>
[[nodiscard]] delta<Semiring, Layout> merge(const delta<Semiring, Layout>& a, const delta<Semiring, Layout>& b)
{
  detail::check_same_target(a, b);
  if (a.as_sparse() && b.as_sparse()) {
    auto m = merge(*a.as_sparse(), *b.as_sparse());
    delta<Semiring, Layout> out(std::move(m));
    if (prefer_sparse(out.count(), Layout::extent)) return out;
    return out.to_dense();
  }
  // Dense pages can be large: build the result on the heap, never as stack temporaries.
  auto out = std::make_unique<dense_type_of<Semiring, Layout>>(a.target());
  a.visit([&](const auto& enc) { detail::merge_encoded_into(*out, enc); });
  b.visit([&](const auto& enc) { detail::merge_encoded_into(*out, enc); });
  return delta<Semiring, Layout>(std::move(out));
}

// A moved-from builder may only be assigned to or destroyed.
//
// Collects changes to one page slot by slot (repeated slots merge in call order) and builds the
// delta in the encoding its density calls for. Reusable: build() leaves the builder empty.
template <class Semiring, class Layout>
class delta_builder {
public:
  using value_type = typename Layout::value_type;  // the element type of one slot

  // An empty builder for page `target` (allocates a dense scratch delta: one page of payload).
  explicit delta_builder(page_id target) : scratch_(std::make_unique<dense_delta<Semiring, Layout>>(target)) {}

  // Throw mmsb::error (out_of_range) naming the page and slot if i >= extent; nothing changes then.
  delta_builder& accumulate(std::size_t i, value_type v) { scratch_->accumulate(i, v); return *this; }
  // x ← v at slot i; the same errors as accumulate.
  delta_builder& assign(std::size_t i, value_type v) { scratch_->assign(i, v); return *this; }
  // accumulate or assign by delta_op; also throws mmsb::error (invalid_argument) for an unknown op.
  delta_builder& put(std::size_t i, delta_op op, value_type v) { scratch_->put(i, op, v); return *this; }

  // The number of distinct slots changed so far.
  [[nodiscard]] std::size_t count() const noexcept { return scratch_->count(); }

  // The delta collected so far, by density, leaving the builder as it is.
  [[nodiscard]] delta<Semiring, Layout> peek() const
  {
    if (prefer_sparse(scratch_->count(), Layout::extent)) return delta<Semiring, Layout>(to_sparse(*scratch_));
    return delta<Semiring, Layout>(*scratch_);
  }

  // Builds by density (or in the forced encoding) and resets the builder to empty.
  [[nodiscard]] delta<Semiring, Layout> build()
  {
    const std::size_t n = scratch_->count();
    return build(prefer_sparse(n, Layout::extent) ? delta_encoding::sparse : delta_encoding::dense);
  }
  // Builds in the given encoding, whatever the density, and resets the builder to empty.
  [[nodiscard]] delta<Semiring, Layout> build(delta_encoding encoding)
  {
    delta<Semiring, Layout> out = encoding == delta_encoding::dense ? delta<Semiring, Layout>(*scratch_)
                                                                     : delta<Semiring, Layout>(to_sparse(*scratch_));
    scratch_->clear();
    return out;
  }

private:
  std::unique_ptr<dense_delta<Semiring, Layout>> scratch_;
};

} // namespace mmsb

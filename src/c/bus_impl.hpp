// The C ABI's engine (internal to libmmsb_c): one type-erased interface, bus_base, over the stock
// basic_bus<S, dense<T, N>> instantiations, and the table entry (instance) that names each one.
// The instantiations are split across translation units (instances_*.cpp) to spread compile time;
// mmsb_c.cpp validates every argument it can before calling in, and turns exceptions into codes.
//
// Contract of every bus_base member: arguments the C layer cannot check alone (page ids, slots)
// are checked here, and a failure throws mmsb::error with nothing changed.
#pragma once

#include <mmsb/c/mmsb.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace mmsb::capi {

struct open_args {
  std::string dir;
  unsigned flags = 0;
};

class bus_base {
public:
  virtual ~bus_base() = default;
  virtual std::uint32_t create_page(const void* initial) = 0;
  [[nodiscard]] virtual std::size_t page_count() const = 0;
  // values: count elements of the bus's type; slots checked against the extent here.
  virtual void push_sparse(std::uint32_t page, mmsb_op op, const std::uint32_t* slots, const void* values, std::size_t count) = 0;
  // mask: (extent + 63) / 64 words (bits past the extent checked here); payload: extent elements.
  virtual void push_dense(std::uint32_t page, mmsb_op op, const std::uint64_t* mask, const void* payload) = 0;
  virtual std::uint64_t tick() = 0;
  virtual void discard() noexcept = 0;
  [[nodiscard]] virtual std::uint64_t epoch() const = 0;
  [[nodiscard]] virtual std::uint64_t lost_ticks() const noexcept = 0;          // recovery's, at open
  [[nodiscard]] virtual const std::string& recovery_report() const noexcept = 0;  // recovery's, at open
  [[nodiscard]] virtual const void* page_data(std::uint32_t page) const = 0;
  [[nodiscard]] virtual std::uint64_t hash() const = 0;
  [[nodiscard]] virtual std::uint64_t hash_at(std::uint64_t epoch) const = 0;
  virtual void read_at(std::uint64_t epoch, std::uint32_t page, void* out) const = 0;  // out: extent elements
  virtual void checkpoint() = 0;
};

// One stock instantiation: its semiring's shape name ("plus_times<f64>"), element and extent.
struct instance {
  std::string_view semiring;
  mmsb_element element;
  std::uint32_t extent;
  std::unique_ptr<bus_base> (*make)(const open_args&);
};

// The table, one part per translation unit (instances_*.cpp).
std::span<const instance> instances_plus_times();
std::span<const instance> instances_tropical();  // min_plus, max_plus
std::span<const instance> instances_other();     // max_min, or_and

} // namespace mmsb::capi

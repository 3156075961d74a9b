// The C ABI's entry points (mmsb/c/mmsb.h): argument checks, the instance table, the handle, and
// the boundary where every exception becomes an mmsb_status and a per-thread message.
#include "bus_impl.hpp"

#include <mmsb/bus/shape.hpp>
#include <mmsb/config/config.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

struct mmsb_bus {
  std::unique_ptr<mmsb::capi::bus_base> impl;
  const mmsb::capi::instance* inst = nullptr;
  std::string semiring;  // NUL-terminated copy of inst->semiring, for mmsb_semiring
  mutable std::mutex mutex;
};

namespace {

using mmsb::capi::instance;

// The calling thread's last message. A fixed buffer: recording a failure never allocates, so it
// cannot fail itself (a message longer than the buffer is cut).
thread_local char last_error[2048] = "";

mmsb_status fail(mmsb_status s, const char* fn, const char* what) noexcept
{
  std::snprintf(last_error, sizeof last_error, "%s: %s", fn, what);
  return s;
}

mmsb_status fail(mmsb_status s, const char* fn, const std::string& what) noexcept { return fail(s, fn, what.c_str()); }

// Runs f, turning every exception into a status and a message naming the function.
template <class F>
mmsb_status guarded(const char* fn, F&& f) noexcept
{
  try {
    return f();
  } catch (const mmsb::error& e) {
    const int c = static_cast<int>(e.code());
    return fail(c >= 1 && c <= 15 ? static_cast<mmsb_status>(c) : MMSB_E_INTERNAL, fn, e.what());
  } catch (const std::bad_alloc&) {
    return fail(MMSB_E_OUT_OF_MEMORY, fn, "out of memory");
  } catch (const std::length_error& e) {  // a count too large for a vector
    char text[256];  // no allocation here: this runs where an exception must not escape
    std::snprintf(text, sizeof text, "too large: %s", e.what());
    return fail(MMSB_E_OUT_OF_MEMORY, fn, text);
  } catch (const std::filesystem::filesystem_error& e) {
    return fail(MMSB_E_IO, fn, e.what());
  } catch (const std::exception& e) {
    return fail(MMSB_E_INTERNAL, fn, e.what());
  } catch (...) {
    return fail(MMSB_E_INTERNAL, fn, "an unknown exception (a bug in libmmsb_c: please report it)");
  }
}

std::vector<const instance*> build_table()
{
  std::vector<const instance*> t;
  for (const auto part : {mmsb::capi::instances_plus_times(), mmsb::capi::instances_tropical(), mmsb::capi::instances_other()})
    for (const auto& i : part) t.push_back(&i);
  return t;
}

const std::vector<const instance*>& table()
{
  static const std::vector<const instance*> t = build_table();
  return t;
}

std::string known_names()
{
  std::vector<std::string_view> seen;
  std::string out;
  for (const auto* i : table())
    if (std::find(seen.begin(), seen.end(), i->semiring) == seen.end()) {
      seen.push_back(i->semiring);
      out += (out.empty() ? "" : ", ") + std::string(i->semiring);
    }
  return out;
}

// The entry for (name, extent): invalid_argument for an unknown name, unsupported for an extent
// the name is not instantiated at.
const instance& find_instance(std::string_view name, std::uint32_t extent)
{
  std::string extents;
  for (const auto* i : table())
    if (i->semiring == name) {
      if (i->extent == extent) return *i;
      extents += (extents.empty() ? "" : ", ") + std::to_string(i->extent);
    }
  if (extents.empty())
    throw mmsb::error(mmsb::errc::invalid_argument,
                      "unknown semiring '" + std::string(name) + "' (this library has " + known_names() + ")");
  throw mmsb::error(mmsb::errc::unsupported, "semiring '" + std::string(name) + "' is not instantiated at extent " +
                                               std::to_string(extent) + " (it is at " + extents + ")");
}

#define MMSB_IMPL_NEED(ptr, fn)                                                                                        \
  do {                                                                                                                 \
    if ((ptr) == nullptr) return fail(MMSB_E_INVALID_ARGUMENT, fn, #ptr " is NULL");                                   \
  } while (0)

} // namespace

extern "C" {

const char* mmsb_version(void) { return MMSB_VERSION_STRING; }

const char* mmsb_last_error(void) { return last_error; }

const char* mmsb_status_name(int c)
{
  if (c == MMSB_E_INTERNAL) return "internal error";
  if (c < 0 || c > 15) return "unknown status";
  return mmsb::to_string(static_cast<mmsb::errc>(c)).data();  // static, NUL-terminated literals
}

mmsb_status mmsb_instance(size_t i, const char** semiring, mmsb_element* element, uint32_t* extent)
{
  return guarded("mmsb_instance", [&] {
    if (i >= table().size())
      return fail(MMSB_E_OUT_OF_RANGE, "mmsb_instance", "index " + std::to_string(i) + " is past the last instance (" +
                                                          std::to_string(table().size()) + " instances)");
    const auto& in = *table()[i];
    if (semiring) *semiring = in.semiring.data();  // string literals: NUL-terminated
    if (element) *element = in.element;
    if (extent) *extent = in.extent;
    return MMSB_OK;
  });
}

mmsb_status mmsb_open(const char* dir, const char* semiring, uint32_t extent, unsigned flags, mmsb_bus** out)
{
  constexpr const char* fn = "mmsb_open";
  MMSB_IMPL_NEED(out, fn);
  *out = nullptr;
  MMSB_IMPL_NEED(dir, fn);
  if (*dir == '\0') return fail(MMSB_E_INVALID_ARGUMENT, fn, "dir is empty");
  constexpr unsigned known_flags = MMSB_OPEN_NO_SYNC | MMSB_OPEN_POINT_IN_TIME;
  if ((flags & ~known_flags) != 0) {
    char text[128];  // outside guarded(): no allocation
    std::snprintf(text, sizeof text, "unknown flags %u (known: MMSB_OPEN_NO_SYNC, MMSB_OPEN_POINT_IN_TIME)",
                  flags & ~known_flags);
    return fail(MMSB_E_INVALID_ARGUMENT, fn, text);
  }
  return guarded(fn, [&] {
    const std::string path = dir;
    std::string name = semiring ? semiring : "";
    if (semiring == nullptr || extent == 0) {  // the rest from the store's own shape
      mmsb::posix_file_system fs;
      const auto shape = mmsb::read_log_shape(fs, path + "/log");
      if (!shape)
        return fail(MMSB_E_INVALID_ARGUMENT, fn,
                    path + ": no store here to read the shape from; give the semiring name and extent to create one");
      const std::string_view text(reinterpret_cast<const char*>(shape->data()), shape->size());
      const auto layout = mmsb::detail::shape_field(text, "layout");
      const auto stored_extent = mmsb::detail::shape_field(text, "extent");
      if (layout != "dense" || stored_extent.empty())
        return fail(MMSB_E_UNSUPPORTED, fn, path + " holds a store of shape " + mmsb::describe_shape(*shape) +
                                              ", which the C ABI does not instantiate (only dense pages)");
      if (semiring == nullptr) name = std::string(mmsb::detail::shape_field(text, "semiring"));
      if (extent == 0) {
        std::uint64_t stored = 0;
        const auto [end, ec] = std::from_chars(stored_extent.data(), stored_extent.data() + stored_extent.size(), stored);
        if (ec != std::errc{} || end != stored_extent.data() + stored_extent.size() || stored == 0 || stored > UINT32_MAX)
          return fail(MMSB_E_BAD_FORMAT, fn, path + ": the store's shape has extent=" + std::string(stored_extent) +
                                               ", not a page extent (1 to 4294967295)");
        extent = static_cast<std::uint32_t>(stored);
      }
    }
    const instance& in = find_instance(name, extent);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path().empty() ? "." : std::filesystem::path(path).parent_path(), ec);
    if (ec) return fail(MMSB_E_IO, fn, "creating the parent directories of " + path + ": " + ec.message());
    auto bus = std::make_unique<mmsb_bus>();
    bus->impl = in.make({path, flags});
    bus->inst = &in;
    bus->semiring = std::string(in.semiring);
    *out = bus.release();
    return MMSB_OK;
  });
}

// Destructors do not throw (the log writer's syncs what is unsynced, best effort, and swallows a
// failure), so closing cannot fail.
void mmsb_close(mmsb_bus* bus) { delete bus; }

const char* mmsb_semiring(const mmsb_bus* bus) { return bus ? bus->semiring.c_str() : nullptr; }
mmsb_element mmsb_element_type(const mmsb_bus* bus) { return bus ? bus->inst->element : mmsb_element{}; }
size_t mmsb_element_size(const mmsb_bus* bus)
{
  if (!bus) return 0;
  switch (bus->inst->element) {
  case MMSB_F32: return 4;
  case MMSB_F64: return 8;
  case MMSB_I64: return 8;
  case MMSB_BOOL: return 1;
  }
  return 0;
}
uint32_t mmsb_extent(const mmsb_bus* bus) { return bus ? bus->inst->extent : 0; }

mmsb_status mmsb_create_page(mmsb_bus* bus, const void* initial, uint32_t* id)
{
  constexpr const char* fn = "mmsb_create_page";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(id, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *id = bus->impl->create_page(initial);
    return MMSB_OK;
  });
}

mmsb_status mmsb_page_count(const mmsb_bus* bus, size_t* count)
{
  constexpr const char* fn = "mmsb_page_count";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(count, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *count = bus->impl->page_count();
    return MMSB_OK;
  });
}

static mmsb_status check_op(int op, const char* fn)
{
  if (op != MMSB_ACCUMULATE && op != MMSB_ASSIGN) {
    char text[96];  // outside guarded(): no allocation
    std::snprintf(text, sizeof text, "unknown op %d (MMSB_ACCUMULATE or MMSB_ASSIGN)", op);
    return fail(MMSB_E_INVALID_ARGUMENT, fn, text);
  }
  return MMSB_OK;
}

mmsb_status mmsb_push_sparse(mmsb_bus* bus, uint32_t page, int op, const uint32_t* slots, const void* values, size_t count)
{
  constexpr const char* fn = "mmsb_push_sparse";
  MMSB_IMPL_NEED(bus, fn);
  if (const auto s = check_op(op, fn); s != MMSB_OK) return s;
  if (count == 0) return MMSB_OK;
  MMSB_IMPL_NEED(slots, fn);
  MMSB_IMPL_NEED(values, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    bus->impl->push_sparse(page, static_cast<mmsb_op>(op), slots, values, count);
    return MMSB_OK;
  });
}

mmsb_status mmsb_push_dense(mmsb_bus* bus, uint32_t page, int op, const uint64_t* mask, size_t mask_words, const void* payload,
                            size_t payload_bytes)
{
  constexpr const char* fn = "mmsb_push_dense";
  MMSB_IMPL_NEED(bus, fn);
  if (const auto s = check_op(op, fn); s != MMSB_OK) return s;
  MMSB_IMPL_NEED(mask, fn);
  MMSB_IMPL_NEED(payload, fn);
  const std::size_t extent = bus->inst->extent;
  const std::size_t words = (extent + 63) / 64;
  const std::size_t bytes = extent * mmsb_element_size(bus);
  return guarded(fn, [&] {
    if (mask_words != words)
      return fail(MMSB_E_SIZE_MISMATCH, fn, "page " + std::to_string(page) + ": the mask has " + std::to_string(mask_words) +
                                              " words; pages of " + std::to_string(extent) + " slots need " + std::to_string(words));
    if (payload_bytes != bytes)
      return fail(MMSB_E_SIZE_MISMATCH, fn, "page " + std::to_string(page) + ": the payload has " + std::to_string(payload_bytes) +
                                              " bytes; pages of " + std::to_string(extent) + " " + std::to_string(mmsb_element_size(bus)) +
                                              "-byte slots need " + std::to_string(bytes));
    std::lock_guard lock(bus->mutex);
    bus->impl->push_dense(page, static_cast<mmsb_op>(op), mask, payload);
    return MMSB_OK;
  });
}

mmsb_status mmsb_tick(mmsb_bus* bus, uint64_t* epoch)
{
  constexpr const char* fn = "mmsb_tick";
  MMSB_IMPL_NEED(bus, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    const auto e = bus->impl->tick();
    if (epoch) *epoch = e;
    return MMSB_OK;
  });
}

mmsb_status mmsb_discard(mmsb_bus* bus)
{
  MMSB_IMPL_NEED(bus, "mmsb_discard");
  return guarded("mmsb_discard", [&] {
    std::lock_guard lock(bus->mutex);
    bus->impl->discard();
    return MMSB_OK;
  });
}

mmsb_status mmsb_epoch(const mmsb_bus* bus, uint64_t* epoch)
{
  constexpr const char* fn = "mmsb_epoch";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(epoch, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *epoch = bus->impl->epoch();
    return MMSB_OK;
  });
}

mmsb_status mmsb_recovery(const mmsb_bus* bus, uint64_t* lost_ticks, const char** report)
{
  MMSB_IMPL_NEED(bus, "mmsb_recovery");
  // Fixed at open: no lock, nothing that can throw.
  if (lost_ticks) *lost_ticks = bus->impl->lost_ticks();
  if (report) *report = bus->impl->recovery_report().c_str();
  return MMSB_OK;
}

mmsb_status mmsb_page_data(const mmsb_bus* bus, uint32_t page, const void** data)
{
  constexpr const char* fn = "mmsb_page_data";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(data, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *data = bus->impl->page_data(page);
    return MMSB_OK;
  });
}

mmsb_status mmsb_state_hash(const mmsb_bus* bus, uint64_t* hash)
{
  constexpr const char* fn = "mmsb_state_hash";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(hash, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *hash = bus->impl->hash();
    return MMSB_OK;
  });
}

mmsb_status mmsb_hash_at(const mmsb_bus* bus, uint64_t epoch, uint64_t* hash)
{
  constexpr const char* fn = "mmsb_hash_at";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(hash, fn);
  return guarded(fn, [&] {
    std::lock_guard lock(bus->mutex);
    *hash = bus->impl->hash_at(epoch);
    return MMSB_OK;
  });
}

mmsb_status mmsb_read_at(const mmsb_bus* bus, uint64_t epoch, uint32_t page, void* out, size_t out_bytes)
{
  constexpr const char* fn = "mmsb_read_at";
  MMSB_IMPL_NEED(bus, fn);
  MMSB_IMPL_NEED(out, fn);
  const std::size_t bytes = bus->inst->extent * mmsb_element_size(bus);
  return guarded(fn, [&] {
    if (out_bytes != bytes)
      return fail(MMSB_E_SIZE_MISMATCH, fn, "page " + std::to_string(page) + ": out has " + std::to_string(out_bytes) +
                                              " bytes; a page holds " + std::to_string(bytes));
    std::lock_guard lock(bus->mutex);
    bus->impl->read_at(epoch, page, out);
    return MMSB_OK;
  });
}

mmsb_status mmsb_checkpoint(mmsb_bus* bus)
{
  MMSB_IMPL_NEED(bus, "mmsb_checkpoint");
  return guarded("mmsb_checkpoint", [&] {
    std::lock_guard lock(bus->mutex);
    bus->impl->checkpoint();
    return MMSB_OK;
  });
}

} // extern "C"

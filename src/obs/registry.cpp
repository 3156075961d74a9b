// obs::registry and the stats file (mmsb/obs/registry.hpp): a metrics block in memory or in a
// shared mapping of a file, and reading blocks back.
#include <mmsb/obs/registry.hpp>

#include "detail/posix_handles.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mmsb::obs {

namespace {

std::uint64_t unix_ms_now() noexcept
{
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

void fill_header(metrics_block& b) noexcept
{
  b.layout = metrics_layout_id();
  b.pid = static_cast<std::uint64_t>(::getpid());
  b.started_unix_ms = unix_ms_now();
  b.magic.store(metrics_block::magic_value, std::memory_order_release);  // last: the header is complete
}

[[noreturn]] void io_failure(const std::string& what, const std::string& path, int err)
{
  throw error(errc::io_error, "stats file " + path + ": " + what + ": " + std::strerror(err));
}

} // namespace

double histogram_snapshot::quantile_upper_seconds(double q) const noexcept
{
  if (count == 0) return 0.0;
  const double want = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count));
  std::uint64_t seen = 0;
  for (std::size_t k = 0; k < histogram_buckets; ++k) {
    seen += buckets[k];
    if (static_cast<double>(seen) >= want && seen != 0) {
      const double ub = bucket_upper_seconds(k);
      return ub < 0 ? std::numeric_limits<double>::infinity() : ub;
    }
  }
  return std::numeric_limits<double>::infinity();
}

metrics_snapshot read(const metrics_block& b) noexcept
{
  metrics_snapshot s;
  s.pid = b.pid;
  s.started_unix_ms = b.started_unix_ms;
  for (std::size_t g = 0; g < gauge_count; ++g) s.gauges[g] = b.gauges[g].load(std::memory_order_relaxed);
  for (const auto& shard : b.shards) {
    for (std::size_t c = 0; c < counter_count; ++c) s.counters[c] += shard.counters[c].load(std::memory_order_relaxed);
    for (std::size_t h = 0; h < histogram_count; ++h) {
      auto& out = s.histograms[h];
      const auto& cells = shard.histograms[h];
      for (std::size_t k = 0; k < histogram_buckets; ++k) {
        const std::uint64_t n = cells.buckets[k].load(std::memory_order_relaxed);
        out.buckets[k] += n;
        out.count += n;
      }
      out.sum_seconds += static_cast<double>(cells.sum_ns.load(std::memory_order_relaxed)) * 1e-9;
    }
  }
  return s;
}

std::string stats_path(std::string bus_dir)
{
  while (bus_dir.size() > 1 && bus_dir.back() == '/') bus_dir.pop_back();
  return bus_dir + ".stats";
}

metrics_snapshot read_stats_file(const std::string& path)
{
  const detail::unique_fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.get() < 0) io_failure("cannot open it (is the bus running with a stats file?)", path, errno);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) io_failure("cannot stat it", path, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < sizeof(metrics_block))
    throw error(errc::corrupt, "stats file " + path + ": " + std::to_string(size) + " bytes, not a stats file of this MMSB (" +
                                 std::to_string(sizeof(metrics_block)) + " bytes)");
  void* m = ::mmap(nullptr, sizeof(metrics_block), PROT_READ, MAP_SHARED, f.get(), 0);
  if (m == MAP_FAILED) io_failure("cannot map it", path, errno);
  const detail::unique_map mapping(m, sizeof(metrics_block));
  const auto& b = *static_cast<const metrics_block*>(m);
  std::string refused;
  if (b.magic.load(std::memory_order_acquire) != metrics_block::magic_value)
    refused = "not a stats file (or one still being created)";
  else if (b.layout != metrics_layout_id())
    refused = "written by an MMSB with other metrics (layout " + std::to_string(b.layout) + ", this one " +
              std::to_string(metrics_layout_id()) + ")";
  metrics_snapshot s;
  if (refused.empty()) s = read(b);
  if (!refused.empty()) throw error(errc::corrupt, "stats file " + path + ": " + refused);
  return s;
}

// The writer's mapping of its stats file, locked (flock) while its descriptor is open.
struct registry::file_mapping {
  detail::unique_fd fd;  // closing it releases the lock
  detail::unique_map map;
};

registry::registry() : memory_(std::make_unique<metrics_block>()), block_(memory_.get())
{
  fill_header(*block_);
}

registry::registry(std::unique_ptr<file_mapping> f, std::string path)
    : file_(std::move(f)), block_(reinterpret_cast<metrics_block*>(file_->map.get())), path_(std::move(path))
{
}

registry registry::in_file(const std::string& path)
{
  // Another live registry holds a lock on the file now at `path`.
  {
    const detail::unique_fd old(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (old.get() >= 0 && ::flock(old.get(), LOCK_EX | LOCK_NB) != 0) {
      std::string holder;
      try {
        holder = " (pid " + std::to_string(read_stats_file(path).pid) + ")";
      } catch (const error&) {
      }
      throw error(errc::io_error, "stats file " + path + ": in use by another bus" + holder);
    }
  }
  // A new file, complete before it takes the name: a reader of the old one keeps its mapping.
  const std::string tmp = path + ".new." + std::to_string(::getpid());
  detail::unique_fd f(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (f.get() < 0) io_failure("cannot create " + tmp, path, errno);
  const auto fail = [&](const std::string& what) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_failure(what, path, err);
  };
  if (::flock(f.get(), LOCK_EX | LOCK_NB) != 0) fail("cannot lock " + tmp);
  if (::ftruncate(f.get(), static_cast<off_t>(sizeof(metrics_block))) != 0) fail("cannot size it");
  void* m = ::mmap(nullptr, sizeof(metrics_block), PROT_READ | PROT_WRITE, MAP_SHARED, f.get(), 0);
  if (m == MAP_FAILED) fail("cannot map it");
  auto mapping = std::make_unique<file_mapping>(file_mapping{std::move(f), detail::unique_map(m, sizeof(metrics_block))});
  fill_header(*static_cast<metrics_block*>(m));  // zero bytes until now: an empty block
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " to it");
  return registry(std::move(mapping), path);
}

registry::registry(registry&&) noexcept = default;
registry& registry::operator=(registry&&) noexcept = default;
registry::~registry() = default;

} // namespace mmsb::obs

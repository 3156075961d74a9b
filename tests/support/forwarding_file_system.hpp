// Test support: a file system that forwards every call to another one. A test's file system
// that changes one or two calls (notes a hint, skips a sync) derives from it and overrides only
// those, so the forwarding of the rest is written once.
#pragma once

#include <mmsb/log/file_system.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mmsb::test {

class forwarding_file_system : public file_system {
public:
  // Forwards to inner, which must outlive this object (it may be a member of a derived class:
  // nothing here touches it before the first call).
  explicit forwarding_file_system(file_system& inner) noexcept : inner_(&inner) {}

  handle open(const std::string& path, open_mode mode) override { return inner_->open(path, mode); }
  std::size_t write(handle h, span<const std::byte> bytes) override { return inner_->write(h, bytes); }
  std::size_t read(handle h, std::uint64_t offset, span<std::byte> out) override { return inner_->read(h, offset, out); }
  std::uint64_t size(handle h) override { return inner_->size(h); }
  void sync(handle h) override { inner_->sync(h); }
  void truncate(handle h, std::uint64_t length) override { inner_->truncate(h, length); }
  void close(handle h) noexcept override { inner_->close(h); }
  void rename(const std::string& from, const std::string& to) override { inner_->rename(from, to); }
  void remove(const std::string& path) override { inner_->remove(path); }
  void sync_dir(const std::string& dir) override { inner_->sync_dir(dir); }
  std::vector<std::string> list(const std::string& dir) override { return inner_->list(dir); }
  void make_dir(const std::string& dir) override { inner_->make_dir(dir); }
  bool exists(const std::string& path) override { return inner_->exists(path); }
  span<const std::byte> map(handle h) override { return inner_->map(h); }
  void unmap(span<const std::byte> view) noexcept override { inner_->unmap(view); }
  void start_writeback(handle h, std::uint64_t offset, std::uint64_t length) noexcept override
  {
    inner_->start_writeback(h, offset, length);
  }

protected:
  file_system& inner() noexcept { return *inner_; }

private:
  file_system* inner_;
};

} // namespace mmsb::test

// The file-system seam (include/mmsb/log/file_system.hpp): error reporting and write_all.
#include <mmsb/log/file_system.hpp>

#include <cerrno>
#include <system_error>

namespace mmsb {

void throw_fs_error(const char* op, const std::string& path, int err, const char* note)
{
  std::string msg = std::string(op) + " " + path + ": " + std::generic_category().message(err) + " (errno " +
                    std::to_string(err) + ")";
  if (*note) msg += std::string(" ") + note;
  throw error(err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error, msg);
}

void file_system::write_all(handle h, span<const std::byte> bytes)
{
  while (!bytes.empty()) {
    const std::size_t n = write(h, bytes);
    if (n == 0) throw_fs_error("write", "handle " + std::to_string(h), EIO, "(no progress)");
    bytes = bytes.subspan(n);
  }
}

} // namespace mmsb

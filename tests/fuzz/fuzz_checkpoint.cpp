// libFuzzer target: the checkpoint reader (RELIABILITY #15). The input is one to three checkpoint
// files (split at fuzz_common.hpp's separator), published as ckpt-<epoch>.ckpt in a
// memory_file_system, plus a stray temp file; load_checkpoint picks the newest that validates.
// Only mmsb::error may escape. Checked: the pages handed over are exactly the loaded checkpoint's
// count, in ascending id order, with the promised payload size, and hash to its recorded state
// hash; its epoch is at or before `at_most`; every newer checkpoint is listed as rejected.
// Input byte 0: bits 0-1 the epoch step between files, bit 2 re-seal checksums, bits 3-4 at_most
// (none, the middle file's epoch, 0, the newest), bits 5-7 the first file's epoch.
#include "fuzz_common.hpp"

#include <mmsb/core/state_hash.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/memory_file_system.hpp>
#include <mmsb/page/dense.hpp>

#include <string>
#include <vector>

namespace {
using lay = mmsb::dense<std::int64_t, 8>;
constexpr std::size_t page_bytes = sizeof(std::int64_t) * lay::extent;
const std::string dir = "/db/checkpoints";
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size < 1) return 0;
  const std::uint8_t opts = data[0];
  auto files = mmsb::fuzz::split_files(data + 1, size - 1, 3);
  const std::uint64_t step = 1 + (opts & 3u);
  const bool reseal = (opts & 4u) != 0;
  const std::uint64_t first = opts >> 5;

  mmsb::memory_file_system fs;
  fs.make_dir("/db");
  fs.make_dir(dir);
  std::vector<mmsb::epoch> epochs;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (reseal) mmsb::fuzz::reseal_records(files[i]);
    epochs.push_back(mmsb::epoch{first + step * i});
    fs.set_contents(dir + "/" + mmsb::checkpoint_name(epochs.back()), files[i]);
  }
  // A stray temp file of a checkpoint that never published: never loaded.
  fs.set_contents(dir + "/" + mmsb::checkpoint_name(mmsb::epoch{first + step * files.size()}) + ".tmp", files.front());
  mmsb::epoch at_most{~std::uint64_t{0}};
  switch ((opts >> 3) & 3u) {
  case 1: at_most = epochs[epochs.size() / 2]; break;
  case 2: at_most = mmsb::epoch{0}; break;
  case 3: at_most = epochs.back(); break;
  default: break;
  }

  std::vector<std::uint32_t> ids;
  mmsb::state_hasher hasher;
  mmsb::checkpoint_load load;
  try {
    load = mmsb::load_checkpoint(
      fs, dir, mmsb::span<const std::byte>(mmsb::fuzz::shape()), page_bytes,
      [&](mmsb::page_id id, mmsb::epoch, mmsb::span<const std::byte> payload) {
        MMSB_FUZZ_CHECK(payload.size() == page_bytes);
        MMSB_FUZZ_CHECK(ids.empty() || ids.back() < id.value(), "page ids out of order");
        ids.push_back(id.value());
        hasher.add(id, payload);
      },
      at_most);
  } catch (const mmsb::error&) {
    return 0;  // a checkpoint of another bus (bad_format) or a read failure
  }
  std::size_t newer = 0;  // checkpoints newer than the loaded one, within at_most
  for (const auto e : epochs)
    if (!(at_most < e) && (!load.loaded || load.loaded->epoch < e)) ++newer;
  MMSB_FUZZ_CHECK(load.rejected.size() == newer, std::to_string(load.rejected.size()) + " rejected, " +
                                                     std::to_string(newer) + " newer");
  if (!load.loaded) {
    MMSB_FUZZ_CHECK(ids.empty());
    MMSB_FUZZ_CHECK(load.structure.empty());
    return 0;
  }
  MMSB_FUZZ_CHECK(!(at_most < load.loaded->epoch));
  MMSB_FUZZ_CHECK(load.loaded->pages == ids.size());
  MMSB_FUZZ_CHECK(load.loaded->hash == hasher.digest(), "handed pages do not hash to the checkpoint's hash");
  return 0;
}

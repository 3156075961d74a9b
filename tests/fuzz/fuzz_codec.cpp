// libFuzzer target: the delta codec (delta/codec.hpp) and the commit record payload
// (log/commit_record.hpp) (RELIABILITY #15). decode must refuse bad bytes with mmsb::error and
// never crash. Checked on success:
//   - delta: encode(decode(b)) == b for every version-2 input (the codec's canonical promise),
//     and for a version-1 input the version-2 form decodes to the same delta;
//   - commit: re-encoding the decoded deltas and structure decodes to the same deltas and
//     structure, and is a fixed point (encoding it again gives the same bytes).
// Input byte 0: bits 0-2 the semiring and layout (mod 5), bit 3 a commit payload instead of one
// delta. The rest is the bytes to decode.
#include "fuzz_common.hpp"

#include <mmsb/delta/codec.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/page/bits.hpp>
#include <mmsb/page/dense.hpp>
#include <mmsb/page/soa.hpp>
#include <mmsb/semiring/builtins.hpp>

#include <string>
#include <vector>

namespace {
using bytes_t = std::vector<std::byte>;

std::string hex(const bytes_t& b)
{
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (const auto x : b) {
    s += digits[static_cast<unsigned>(x) >> 4];
    s += digits[static_cast<unsigned>(x) & 15];
  }
  return s;
}

template <class S, class L>
void one_delta(mmsb::span<const std::byte> in)
{
  mmsb::delta<S, L> d;
  try {
    d = mmsb::decode<S, L>(in);
  } catch (const mmsb::error&) {
    return;
  }
  const bytes_t original(in.begin(), in.end());
  const bytes_t again = mmsb::encode(d);
  MMSB_FUZZ_CHECK(again.size() == mmsb::encoded_size(d));
  if (static_cast<std::uint8_t>(in[0]) == mmsb::delta_codec_version)
    MMSB_FUZZ_CHECK(again == original, "encode(decode(b)) != b: b = " + hex(original) + ", re-encoded " + hex(again));
  mmsb::delta<S, L> back;
  try {
    back = mmsb::decode<S, L>(again);
  } catch (const mmsb::error& e) {
    mmsb::fuzz::fail("the encoder wrote bytes the decoder refuses", e.what());
  }
  MMSB_FUZZ_CHECK(back.target() == d.target());
  MMSB_FUZZ_CHECK(back.to_dense() == d.to_dense(), "a round trip changed the delta: " + hex(original));
  MMSB_FUZZ_CHECK(mmsb::encode(back) == again, "encode(decode(encode(d))) != encode(d)");
}

template <class S, class L>
bytes_t commit_bytes(const std::vector<mmsb::delta<S, L>>& ds, mmsb::span<const std::byte> structure)
{
  bytes_t out;
  mmsb::detail::begin_commit_payload(out, ds.size());
  for (const auto& d : ds) mmsb::detail::append_commit_delta(out, d);
  mmsb::detail::append_commit_structure(out, structure);
  return out;
}

template <class S, class L>
void commit(mmsb::span<const std::byte> in)
{
  std::vector<mmsb::delta<S, L>> ds;
  mmsb::span<const std::byte> structure;
  try {
    mmsb::detail::decode_commit<S, L>(mmsb::epoch{7}, in, ds, structure);
  } catch (const mmsb::error&) {
    return;
  }
  const bytes_t again = commit_bytes(ds, structure);
  std::vector<mmsb::delta<S, L>> ds2;
  mmsb::span<const std::byte> structure2;
  try {
    mmsb::detail::decode_commit<S, L>(mmsb::epoch{7}, again, ds2, structure2);
  } catch (const mmsb::error& e) {
    mmsb::fuzz::fail("a re-encoded commit payload is refused", e.what());
  }
  MMSB_FUZZ_CHECK(ds2.size() == ds.size());
  for (std::size_t i = 0; i < ds.size(); ++i) {
    MMSB_FUZZ_CHECK(ds2[i].target() == ds[i].target());
    MMSB_FUZZ_CHECK(ds2[i].to_dense() == ds[i].to_dense());
  }
  MMSB_FUZZ_CHECK(bytes_t(structure2.begin(), structure2.end()) == bytes_t(structure.begin(), structure.end()));
  MMSB_FUZZ_CHECK(commit_bytes(ds2, structure2) == again, "re-encoding a commit payload is not a fixed point");
}

template <class S, class L>
void run(bool as_commit, mmsb::span<const std::byte> in)
{
  if (as_commit) commit<S, L>(in);
  else one_delta<S, L>(in);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  if (size < 1) return 0;
  const std::uint8_t opts = data[0];
  const mmsb::span<const std::byte> in(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  const bool as_commit = (opts & 8u) != 0;
  switch ((opts & 7u) % 5) {
  case 0: run<mmsb::plus_times<std::int64_t>, mmsb::dense<std::int64_t, 8>>(as_commit, in); break;
  case 1: run<mmsb::min_plus<float>, mmsb::dense<float, 70>>(as_commit, in); break;
  case 2: run<mmsb::or_and, mmsb::bits<100>>(as_commit, in); break;
  case 3: run<mmsb::or_and, mmsb::dense<bool, 130>>(as_commit, in); break;
  default: run<mmsb::max_plus<double>, mmsb::soa<10, double, double>>(as_commit, in); break;
  }
  return 0;
}

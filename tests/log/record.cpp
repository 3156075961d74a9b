// Record framing: round trip, golden bytes, and detection of every damage (truncation at each
// length, every single-bit flip, foreign and reordered records).
#include <mmsb/log/record.hpp>

#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace mmsb;

namespace {
std::vector<std::byte> bytes_of(const std::string& s)
{
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}
} // namespace

TEST_CASE("a record round-trips with its header fields")
{
  std::vector<std::byte> log;
  const auto payload = bytes_of("three deltas");
  encode_record(log, record_type::commit, epoch{7}, txn_id{42}, payload);
  REQUIRE(log.size() == record_header_bytes + payload.size());
  record_header h;
  span<const std::byte> p;
  REQUIRE(check_record(log, h, p) == record_fault::none);
  CHECK(h.type == record_type::commit);
  CHECK(h.epoch == epoch{7});
  CHECK(h.txn == txn_id{42});
  CHECK(h.payload_bytes == payload.size());
  CHECK(std::vector<std::byte>(p.begin(), p.end()) == payload);
}

TEST_CASE("golden header bytes: little-endian fields at fixed offsets")
{
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{0x0102030405060708ull}, txn_id{9}, {});
  const unsigned expected[32] = {'M', 'S', 'B', 'R', 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                 8, 7, 6, 5, 4, 3, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 32; ++i) CHECK(static_cast<unsigned>(log[i]) == expected[i]);
}

TEST_CASE("truncation at every length is detected")
{
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{1}, txn_id{1}, bytes_of("payload bytes"));
  for (std::size_t n = 0; n < log.size(); ++n) {
    record_header h;
    span<const std::byte> p;
    const auto f = check_record(span<const std::byte>(log.data(), n), h, p);
    REQUIRE(f != record_fault::none);
    REQUIRE((f == record_fault::short_header || f == record_fault::short_payload));
  }
}

TEST_CASE("every single-bit flip in header or payload is detected")
{
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{3}, txn_id{4}, bytes_of("a payload worth protecting"));
  std::size_t detected = 0;
  for (std::size_t bit = 0; bit < log.size() * 8; ++bit) {
    auto bad = log;
    bad[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    record_header h;
    span<const std::byte> p;
    detected += check_record(bad, h, p) != record_fault::none;
  }
  CHECK(detected == log.size() * 8);
}

TEST_CASE("random multi-byte damage is detected (20,000 trials, 0 undetected)")
{
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed());
  std::vector<std::byte> payload(200);
  for (auto& b : payload) b = static_cast<std::byte>(rng());
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{11}, txn_id{12}, payload);
  std::size_t undetected = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    auto bad = log;
    const int kind = static_cast<int>(rng() % 3);
    const std::size_t at = rng() % bad.size(), len = 1 + rng() % 16;
    for (std::size_t i = at; i < std::min(bad.size(), at + len); ++i) {
      if (kind == 0) bad[i] ^= static_cast<std::byte>(1 + rng() % 255);  // garbage
      else if (kind == 1) bad[i] = std::byte{0};                         // zeroed run
      else bad[i] = static_cast<std::byte>(rng());                       // random run
    }
    if (bad == log) continue;
    record_header h;
    span<const std::byte> p;
    undetected += check_record(bad, h, p) == record_fault::none;
  }
  CHECK(undetected == 0);
}

TEST_CASE("a length over the limit is refused before any allocation, and encode refuses one too")
{
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{1}, txn_id{1}, bytes_of("x"));
  detail::store_le(log.data() + 4, 0xfffffff0u, 4);
  record_header h;
  CHECK(parse_record_header(log, h) == record_fault::too_large);
  std::vector<std::byte> big(100), out;
  CHECK_THROWS_WITH(encode_record(out, record_type::commit, epoch{1}, txn_id{1}, big, 0, 0, 64),
                    "log record of 100 bytes exceeds the limit of 64 bytes");
  CHECK(out.empty());
}

TEST_CASE("foreign bytes, unknown types and reserved bits are refused")
{
  const auto junk = bytes_of("this is not a log record, but it is at least forty bytes long....");
  record_header h;
  CHECK(parse_record_header(junk, h) == record_fault::bad_magic);
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{1}, txn_id{1}, {});
  auto t = log;
  t[8] = std::byte{99};
  CHECK(parse_record_header(t, h) == record_fault::bad_field);
  auto r = log;
  r[10] = std::byte{1};
  CHECK(parse_record_header(r, h) == record_fault::bad_field);
}

TEST_CASE("find_next_record skips damage to the next valid record")
{
  std::vector<std::byte> log;
  encode_record(log, record_type::commit, epoch{1}, txn_id{1}, bytes_of("first"));
  const std::size_t second = log.size();
  encode_record(log, record_type::commit, epoch{2}, txn_id{2}, bytes_of("second"));
  log[record_header_bytes] ^= std::byte{1};  // damage the first payload
  record_header h;
  span<const std::byte> p;
  CHECK(check_record(log, h, p) == record_fault::bad_checksum);
  CHECK(find_next_record(log, 1) == second);
  CHECK(find_next_record(log, second + 1) == log.size());
}

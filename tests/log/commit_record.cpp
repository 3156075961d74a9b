// Commit records (log/commit_record.hpp) and what a commit costs in the log: each delta goes on
// the wire sparse exactly when that is smaller than dense, within 1.1x of its changed slots'
// own bytes, and decodes to a delta that applies bit for bit as the original did, for every
// built-in semiring and layout; a store logs merged (dense) deltas compactly and reopens to the
// same bytes, through a mapped segment and through the read fallback alike.
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/durable_store.hpp>
#include <mmsb/log/faulty_file_system.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include "../support/cases.hpp"
#include "../support/random.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <stdlib.h>

using namespace mmsb;

namespace {
template <class Layout>
using wire_value = std::conditional_t<std::is_same_v<typename Layout::value_type, bool>, std::uint8_t, typename Layout::value_type>;

// The changed slots' own bytes: a u32 slot and a value each.
template <class Layout>
std::size_t changed_slot_bytes(std::size_t count)
{
  return count * (4 + sizeof(wire_value<Layout>));
}

template <class Layout>
std::size_t dense_wire_bytes()
{
  constexpr std::size_t words = words_for(Layout::extent);
  return delta_header_bytes + 2 * words * 8 +
         (Layout::kind == layout_kind::bits ? words * 8 : Layout::extent * sizeof(wire_value<Layout>));
}

std::string temp_dir()
{
  std::string tmpl = (std::filesystem::temp_directory_path() / "mmsb-commit-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  return tmpl;
}

std::uint64_t log_bytes(const std::string& dir)
{
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/log")) n += e.file_size();
  return n;
}
} // namespace

TEMPLATE_LIST_TEST_CASE("a commit logs each delta sparse exactly when smaller, within 1.1x of its changed slots, "
                        "and replays bit for bit", "[log][commit]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 181);
  for (int round = 0; round < 25; ++round) {
    std::vector<delta<S, L>> deltas;
    for (std::uint32_t p = 0; p < 6; ++p) {
      auto d = test::random_delta<S, L>(page_id{p}, rng, round % 4 == 0 ? 0 : 30);
      if (p % 2 == 1) d = delta<S, L>(d.to_dense());  // as merge leaves them: dense in memory
      deltas.push_back(std::move(d));
    }
    std::vector<std::byte> payload;
    detail::begin_commit_payload(payload, deltas.size());
    for (const auto& d : deltas) detail::append_commit_delta(payload, d);

    // The frame: u32 n, then per delta a u32 length and its 16-byte header; the rest is slots.
    std::size_t off = 4, slots = 0;
    for (const auto& d : deltas) {
      const std::size_t len = detail::load_le(payload.data() + off, 4);
      const bool sparse = payload[off + 4 + 2] != std::byte{1};
      const std::size_t sparse_bytes = delta_header_bytes + changed_slot_bytes<L>(d.count());  // no op section
      INFO("page " << d.target().value() << ", " << d.count() << " changed slots, " << len << " bytes");
      CHECK(len == encoded_size(d));
      if (sparse) CHECK(len < dense_wire_bytes<L>());
      else CHECK(len == dense_wire_bytes<L>());
      // Sparse iff smaller: a dense record is never bigger than the sparse form would have been.
      if (!sparse) CHECK(dense_wire_bytes<L>() <= sparse_bytes + (d.count() + 7) / 8);
      const bool within = static_cast<double>(len - delta_header_bytes) <= 1.1 * static_cast<double>(changed_slot_bytes<L>(d.count()));
      CHECK((within || d.count() == 0));
      slots += changed_slot_bytes<L>(d.count());
      off += 4 + len;
    }
    REQUIRE(off == payload.size());
    const std::size_t frame = 4 + deltas.size() * (4 + delta_header_bytes);
    CHECK(static_cast<double>(payload.size()) <= 1.1 * static_cast<double>(slots) + static_cast<double>(frame));

    std::vector<delta<S, L>> back;
    span<const std::byte> structure;
    detail::decode_commit(epoch{1}, payload, back, structure);
    REQUIRE(back.size() == deltas.size());
    CHECK(structure.empty());
    for (std::size_t k = 0; k < deltas.size(); ++k) {
      REQUIRE(back[k].target() == deltas[k].target());
      REQUIRE(back[k].to_dense() == deltas[k].to_dense());
      page<L> a = test::random_page<L>(deltas[k].target(), rng), b = a;
      apply(a, deltas[k]);
      apply(b, back[k]);
      REQUIRE(test::same_bits(a, b));
    }
  }
}

TEST_CASE("a merged delta that touched few slots of a large page is logged at the cost of those slots")
{
  // P9's shape: 4 accumulated doubles in a page of 256, merged (dense in memory).
  using S = plus_times<double>;
  using L = dense<double, 256>;
  dense_delta<S, L> merged(page_id{7});
  for (std::size_t i : {3u, 40u, 41u, 200u}) merged.accumulate(i, static_cast<double>(i) * 0.5);
  const delta<S, L> d(merged);
  CHECK(d.encoding() == delta_encoding::dense);
  CHECK(encoded_size(d) == delta_header_bytes + 4 * (4 + 8));  // 64 B, where dense was 2,128 B
  const auto bytes = encode(d);
  CHECK(bytes[2] == std::byte{2});  // sparse, all accumulate
  const auto back = decode<S, L>(bytes);
  REQUIRE(back.as_sparse());
  CHECK(back.to_dense() == merged);
}

TEST_CASE("a store of merged deltas logs them compactly and reopens bit for bit, mapped or read")
{
  using S = plus_times<double>;
  using L = dense<double, 256>;
  using store = durable_store<S, L>;
  const std::vector<std::byte> shape(6, std::byte{9});
  const std::string dir = temp_dir();
  posix_file_system fs;
  std::mt19937_64 rng(test::seed() + 182);
  state_hash live{};
  std::size_t slots = 0, deltas_logged = 0;
  constexpr std::uint32_t commits = 40, pages = 16;
  {
    store s(fs, dir, shape);
    for (std::uint32_t p = 0; p < pages; ++p) REQUIRE(s.create_page() == page_id{p});
    for (std::uint32_t c = 0; c < commits; ++c) {
      std::vector<store::delta_type> ds;
      for (std::uint32_t p = 0; p < pages; p += 1 + static_cast<std::uint32_t>(rng() % 3)) {
        dense_delta<S, L> m(page_id{p});
        for (int k = 0; k < 4; ++k) {
          const std::size_t i = rng() % L::extent;
          if (m.contains(i)) continue;
          if (rng() % 8 == 0) m.assign(i, test::exact_value<double>(rng));
          else m.accumulate(i, test::exact_value<double>(rng));
          ++slots;
        }
        ds.emplace_back(m);
        ++deltas_logged;
      }
      (void)s.commit(ds);
    }
    live = s.hash();
  }
  // Log bytes: the changed slots (12 B each, plus an op bit when mixed) and a fixed frame per
  // delta (u32 length, 16 B header; the first commit also names every new page) and per record
  // (40 B header, u32 count), plus the segment's head.
  const std::uint64_t frame = (deltas_logged + pages) * (4 + delta_header_bytes) + commits * (record_header_bytes + 4) +
                              record_header_bytes + shape.size() + segment_trailer_bytes;
  CHECK(static_cast<double>(log_bytes(dir)) <= 1.1 * static_cast<double>(slots * 12) + static_cast<double>(frame));

  {
    store mapped(fs, dir, shape);  // posix_file_system maps the segments
    CHECK(mapped.hash() == live);
    CHECK(mapped.current_epoch() == epoch{commits});
  }
  {
    faulty_file_system reading(fs);  // maps nothing: every byte through read()
    store read(reading, dir, shape);
    CHECK(read.hash() == live);
    CHECK(reading.count(fs_op::read) > 0);
  }
  std::filesystem::remove_all(dir);
}

TEMPLATE_LIST_TEST_CASE("commit_encoder: the payload is byte for byte the serial one, in any number of parts on any threads",
                        "[log][commit]", test::all_combos)
{
  using S = typename TestType::semiring;
  using L = typename TestType::layout;
  MMSB_TEST_INFO_SEED();
  std::mt19937_64 rng(test::seed() + 977);
  detail::commit_encoder enc;  // reused across rounds, as the store does
  for (int round = 0; round < 6; ++round) {
    std::vector<delta<S, L>> deltas;
    for (std::uint32_t p = 0; p < 3 + static_cast<std::uint32_t>(rng() % 20); ++p) {
      auto d = test::random_delta<S, L>(page_id{p}, rng, 30);
      if (rng() % 2) d = delta<S, L>(d.to_dense());
      deltas.push_back(std::move(d));
    }
    std::vector<std::byte> serial;
    detail::begin_commit_payload(serial, deltas.size());
    for (const auto& d : deltas) detail::append_commit_delta(serial, d);
    for (std::size_t parts : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64}}) {
      INFO("round " << round << ", " << parts << " parts");
      std::vector<std::byte> out;
      detail::begin_commit_payload(out, deltas.size());
      enc.append(out, span<const delta<S, L>>{deltas.data(), deltas.size()}, parts, [](std::size_t n, auto&& f) {
        std::vector<std::thread> ts;  // every part on its own thread, started in reverse
        for (std::size_t r = n; r-- > 0;) ts.emplace_back([&f, r] { f(r); });
        for (auto& t : ts) t.join();
      });
      REQUIRE(out == serial);
    }
  }
}

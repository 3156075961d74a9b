// Page heat (core/heat.hpp) and its heatmap (obs/heatmap.hpp): windows close on schedule, the bus
// counts each commit's changed pages and each value() read, and the PNG and CSV say so.
#include <mmsb/bus.hpp>
#include <mmsb/obs/heatmap.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <png.h>

using namespace mmsb;

TEST_CASE("a heat recorder closes a window every ticks_per_window ticks and keeps the newest")
{
  heat_recorder h(2, 3);
  for (int t = 0; t < 10; ++t) {
    h.wrote(static_cast<std::uint32_t>(t % 4));
    if (t % 2 == 0) h.read(7);
    h.tick_ended();
  }
  REQUIRE(h.windows().size() == 3);  // 5 closed, the newest 3 kept
  CHECK(h.windows().front().first_tick == 4);
  CHECK(h.windows().back().first_tick == 8);
  for (const auto& w : h.windows()) {
    CHECK(w.ticks == 2);
    CHECK(w.reads.at(7) == 1);
  }
  CHECK(h.windows().back().writes.at(0) == 1);  // ticks 8 (page 0) and 9 (page 1)
  CHECK(h.windows().back().writes.at(1) == 1);
  CHECK(h.current().ticks == 0);
}

TEST_CASE("the bus counts writes per commit and reads per value(); the heatmap shows them")
{
  using S = plus_times<std::int64_t>;
  using L = dense<std::int64_t, 8>;
  heat_recorder heat(5);
  bus_options o;
  o.heat = heat_sink(&heat);
  basic_bus<S, L> b(o);
  for (int i = 0; i < 8; ++i) (void)b.create_page();
  auto w = b.make_producer();
  for (int t = 0; t < 20; ++t) {
    // Page 0 every tick (three changes, one commit: one write), page 5 every other tick.
    for (int k = 0; k < 3; ++k) w.accumulate(page_id{0}, static_cast<std::size_t>(k), 1);
    if (t % 2 == 0) w.accumulate(page_id{5}, 1, 1);
    (void)b.value(page_id{3});  // a read belongs to the window of the next tick
    (void)b.tick();
  }
  (void)b.hash();  // not a read
  REQUIRE(heat.windows().size() == 4);
  for (const auto& win : heat.windows()) {
    CHECK(win.writes.at(0) == 5);
    CHECK(win.writes.at(5) == 3 - (win.first_tick % 10 == 5 ? 1 : 0));  // ticks 0,2,4 | 6,8 | 10,12,14 | 16,18
    CHECK(win.reads.at(3) == 5);
    CHECK(win.reads.size() == 4);  // nothing read past page 3
  }

  const auto dir = std::filesystem::temp_directory_path() / ("mmsb-heat-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string csv = (dir / "heat.csv").string(), png = (dir / "heat.png").string();
  obs::write_heatmap_csv(heat, csv);
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  CHECK(line == "window,first_tick,ticks,page,writes,reads");
  std::size_t rows = 0;
  std::uint64_t writes = 0, reads = 0;
  while (std::getline(in, line)) {
    ++rows;
    std::istringstream f(line);
    std::string cell[6];
    for (auto& c : cell) std::getline(f, c, ',');
    writes += std::stoull(cell[4]);
    reads += std::stoull(cell[5]);
  }
  CHECK(rows == 4 * 3);  // pages 0, 3 and 5 in each window
  CHECK(writes == 20 + 10);
  CHECK(reads == 20);

  obs::write_heatmap_png(heat, png, {.max_rows = 512, .min_width = 64});
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&img, png.c_str()));
  img.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> px(PNG_IMAGE_SIZE(img));
  REQUIRE(png_image_finish_read(&img, nullptr, px.data(), 0, nullptr));
  CHECK(img.width == 64);  // 4 windows, 16 pixels each
  const std::size_t row_px = 256 / 6, panel = 6 * row_px;  // pages 0 to 5, the highest touched
  CHECK(img.height == 2 * panel + 2);
  const auto at = [&](std::size_t x, std::size_t y) { return &px[(y * img.width + x) * 3]; };
  // Writes panel: page 0 the hottest (white), page 5 warm, page 1 cold (black).
  CHECK(at(8, 0 * row_px + 1)[2] == 255);
  CHECK(at(8, 5 * row_px + 1)[0] > 0);
  CHECK(at(8, 1 * row_px + 1)[0] == 0);
  // Reads panel: page 3 only.
  CHECK(at(8, panel + 2 + 3 * row_px + 1)[2] == 255);
  CHECK(at(8, panel + 2 + 0 * row_px + 1)[0] == 0);
  // The split line is grey.
  CHECK(at(0, panel)[0] == 128);

  // A path that cannot be written is named.
  CHECK_THROWS_WITH(obs::write_heatmap_png(heat, (dir / "no" / "x.png").string()), Catch::Contains("no/x.png"));
  CHECK_THROWS_WITH(obs::write_heatmap_csv(heat, (dir / "no" / "x.csv").string()), Catch::Contains("no/x.csv"));
  heat_recorder empty;
  CHECK_THROWS_WITH(obs::write_heatmap_png(empty, png), Catch::Contains("no window"));
  std::filesystem::remove_all(dir);
}

// Page heatmaps as PNG (libpng's simplified API) and CSV (mmsb/obs/heatmap.hpp).
#include <mmsb/obs/heatmap.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <vector>

#if MMSB_HAVE_PNG
#include <png.h>
#endif

namespace mmsb::obs {

namespace {

// The windows to draw: the closed ones, and the open one if it covers a tick.
std::vector<const heat_window*> windows_of(const heat_recorder& heat)
{
  std::vector<const heat_window*> out;
  for (const auto& w : heat.windows()) out.push_back(&w);
  if (heat.current().ticks != 0) out.push_back(&heat.current());
  return out;
}

[[maybe_unused]] void colour(double t, std::uint8_t* px)
{
  // black -> red -> orange/yellow -> white
  const double r = std::clamp(t * 3.0, 0.0, 1.0), g = std::clamp(t * 3.0 - 1.0, 0.0, 1.0), b = std::clamp(t * 3.0 - 2.0, 0.0, 1.0);
  px[0] = static_cast<std::uint8_t>(std::lround(r * 255));
  px[1] = static_cast<std::uint8_t>(std::lround(g * 255));
  px[2] = static_cast<std::uint8_t>(std::lround(b * 255));
}

} // namespace

void write_heatmap_png([[maybe_unused]] const heat_recorder& heat, const std::string& path, [[maybe_unused]] heatmap_options o)
{
#if MMSB_HAVE_PNG
  const auto ws = windows_of(heat);
  if (ws.empty()) throw error(errc::invalid_argument, "heatmap " + path + ": no window recorded yet (no tick ran)");
  std::size_t pages = 1;
  for (const auto* w : ws) pages = std::max({pages, w->writes.size(), w->reads.size()});
  const std::size_t rows = std::min(pages, std::max<std::size_t>(o.max_rows, 1));
  const std::size_t per_row = (pages + rows - 1) / rows;  // pages per band
  const std::size_t col_px = std::max<std::size_t>(1, (std::max<std::size_t>(o.min_width, 1) + ws.size() - 1) / ws.size());
  const std::size_t row_px = std::max<std::size_t>(1, 256 / rows);  // small page counts get tall rows
  const std::size_t width = ws.size() * col_px, panel = rows * row_px, gap = 2, height = 2 * panel + gap;

  // Banded counts, per panel: [panel][window][row].
  std::vector<double> counts(2 * ws.size() * rows, 0.0);
  const auto cell = [&](std::size_t p, std::size_t w, std::size_t r) -> double& { return counts[(p * ws.size() + w) * rows + r]; };
  double peak[2] = {0, 0};
  for (std::size_t w = 0; w < ws.size(); ++w)
    for (std::size_t p = 0; p < 2; ++p) {
      const auto& v = p == 0 ? ws[w]->writes : ws[w]->reads;
      for (std::size_t page = 0; page < v.size(); ++page) cell(p, w, page / per_row) += v[page];
      for (std::size_t r = 0; r < rows; ++r) peak[p] = std::max(peak[p], cell(p, w, r));
    }
  std::vector<std::uint8_t> img(width * height * 3, 0);
  for (std::size_t x = 0; x < width; ++x)
    for (std::size_t y = 0; y < gap; ++y) std::fill_n(&img[((panel + y) * width + x) * 3], 3, std::uint8_t{128});
  for (std::size_t p = 0; p < 2; ++p)
    for (std::size_t w = 0; w < ws.size(); ++w)
      for (std::size_t r = 0; r < rows; ++r) {
        const double t = peak[p] > 0 ? std::log1p(cell(p, w, r)) / std::log1p(peak[p]) : 0.0;
        std::uint8_t px[3];
        colour(t, px);
        for (std::size_t dy = 0; dy < row_px; ++dy)
          for (std::size_t dx = 0; dx < col_px; ++dx) {
            const std::size_t y = p * (panel + gap) + r * row_px + dy, x = w * col_px + dx;
            std::copy_n(px, 3, &img[(y * width + x) * 3]);
          }
      }
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(width);
  png.height = static_cast<png_uint_32>(height);
  png.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&png, path.c_str(), 0, img.data(), 0, nullptr))
    throw error(errc::io_error, "heatmap " + path + ": " + png.message);
#else
  throw error(errc::invalid_argument, "heatmap " + path + ": this MMSB was built without libpng (write the CSV instead)");
#endif
}

void write_heatmap_csv(const heat_recorder& heat, const std::string& path)
{
  std::ofstream f(path, std::ios::trunc);
  if (!f) throw error(errc::io_error, "heatmap " + path + ": cannot create it");
  f << "window,first_tick,ticks,page,writes,reads\n";
  const auto ws = windows_of(heat);
  for (std::size_t w = 0; w < ws.size(); ++w) {
    const auto& win = *ws[w];
    const std::size_t pages = std::max(win.writes.size(), win.reads.size());
    for (std::size_t page = 0; page < pages; ++page) {
      const std::uint32_t wr = page < win.writes.size() ? win.writes[page] : 0, rd = page < win.reads.size() ? win.reads[page] : 0;
      if (wr == 0 && rd == 0) continue;
      f << w << ',' << win.first_tick << ',' << win.ticks << ',' << page << ',' << wr << ',' << rd << '\n';
    }
  }
  f.flush();
  if (!f) throw error(errc::io_error, "heatmap " + path + ": write failed");
}

} // namespace mmsb::obs

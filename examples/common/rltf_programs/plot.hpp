#pragma once
/// \file
/// Learning-curve plots as PNG files (rltf_programs/png.hpp does the rasterising, zlib the PNG
/// compression).
///
/// \code
/// rltf::LinePlot plot{.title = "held-out pass@1", .x_label = "RL step", .y_label = "pass@1"};
/// plot.series.push_back({.name = "RLTF", .points = {{0, 0.21}, {50, 0.34}, {100, 0.41}}});
/// rltf::save_png({plot}, "curves.png");       // one panel per plot, stacked vertically
/// \endcode

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf_programs/png.hpp"

namespace rltf {

/// One curve: points (x, y), optionally ± error bars.
struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;
  std::vector<double> errors;                 ///< empty, or one half-width per point (drawn as vertical bars)
  std::optional<programs::detail::Rgb> color; ///< default: the palette, in order
  bool markers = true;
};

/// A panel with axes, ticks, labels, a legend and curves.
struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
  std::optional<double> y_min; ///< default: from the data
  std::optional<double> y_max;
  int width = 900;  ///< pixels
  int height = 420; ///< pixels of this panel
};

namespace programs::detail {

inline const std::vector<Rgb>& palette() {
  static const std::vector<Rgb> p{{31, 119, 180},  {214, 39, 40}, {44, 160, 44},   {255, 127, 14},
                                  {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
  return p;
}

/// Tick positions at 1, 2 or 5 × 10^k covering [lo, hi] with about `target` ticks.
inline std::vector<double> ticks(double lo, double hi, int target = 6) {
  std::vector<double> out;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
    out.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
  return out;
}

inline std::string tick_label(double v, double step) {
  char buf[32];
  const int digits = step >= 1.0 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::snprintf(buf, sizeof buf, "%.*f", std::min(digits, 6), v);
  return buf;
}

/// Draws one panel into `img` with its top-left corner at (0, top).
inline void draw_panel(Image& img, const LinePlot& plot, int top) {
  const Rgb black{0, 0, 0}, grid{225, 225, 225}, grey{90, 90, 90};
  const int left = 80, right = plot.width - 20, ptop = top + 36, pbottom = top + plot.height - 50;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : plot.series)
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      const auto [x, y] = s.points[i];
      const double e = i < s.errors.size() ? s.errors[i] : 0.0;
      xlo = std::min(xlo, x);
      xhi = std::max(xhi, x);
      ylo = std::min(ylo, y - e);
      yhi = std::max(yhi, y + e);
    }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (plot.y_min) ylo = *plot.y_min;
  if (plot.y_max) yhi = *plot.y_max;
  if (xhi <= xlo) xhi = xlo + 1;
  if (yhi <= ylo) yhi = ylo + 1;
  const double ypad = plot.y_min && plot.y_max ? 0.0 : 0.05 * (yhi - ylo);
  if (!plot.y_min) ylo -= ypad;
  if (!plot.y_max) yhi += ypad;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - xlo) / (xhi - xlo) * (right - left))); };
  auto py = [&](double y) {
    return pbottom - static_cast<int>(std::lround((y - ylo) / (yhi - ylo) * (pbottom - ptop)));
  };
  const auto xt = ticks(xlo, xhi), yt = ticks(ylo, yhi);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1.0, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  for (double v : yt) {
    img.line(left, py(v), right, py(v), grid);
    const auto label = tick_label(v, ystep);
    img.text(left - 8 - Image::text_width(label), py(v) - 3, label, grey);
  }
  for (double v : xt) {
    img.line(px(v), ptop, px(v), pbottom, grid);
    const auto label = tick_label(v, xstep);
    img.text(px(v) - Image::text_width(label) / 2, pbottom + 8, label, grey);
  }
  img.line(left, pbottom, right, pbottom, black);
  img.line(left, ptop, left, pbottom, black);
  img.text((left + right - Image::text_width(plot.title, 2)) / 2, top + 10, plot.title, black, 2);
  img.text((left + right - Image::text_width(plot.x_label)) / 2, pbottom + 26, plot.x_label, black);
  img.text(18, (ptop + pbottom + Image::text_width(plot.y_label)) / 2, plot.y_label, black, 1, true);
  // Curves.
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const auto& s = plot.series[k];
    const Rgb c = s.color.value_or(palette()[k % palette().size()]);
    for (std::size_t i = 0; i + 1 < s.points.size(); ++i)
      img.line(px(s.points[i].first), py(s.points[i].second), px(s.points[i + 1].first), py(s.points[i + 1].second), c,
               2);
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      const int x = px(s.points[i].first);
      if (i < s.errors.size() && s.errors[i] > 0.0) {
        const int y0 = py(s.points[i].second - s.errors[i]), y1 = py(s.points[i].second + s.errors[i]);
        img.line(x, y0, x, y1, c);
        img.line(x - 4, y0, x + 4, y0, c);
        img.line(x - 4, y1, x + 4, y1, c);
      }
      if (s.markers) img.disc(x, py(s.points[i].second), 3, c);
    }
  }
  // Legend, top-left inside the axes.
  int ly = ptop + 8;
  int lw = 0;
  for (const auto& s : plot.series) lw = std::max(lw, Image::text_width(s.name));
  if (!plot.series.empty()) {
    img.fill_rect(left + 8, ptop + 2, left + 40 + lw, ptop + 14 + 14 * static_cast<int>(plot.series.size()),
                  Rgb{255, 255, 255});
  }
  for (std::size_t k = 0; k < plot.series.size(); ++k) {
    const Rgb c = plot.series[k].color.value_or(palette()[k % palette().size()]);
    img.line(left + 14, ly + 3, left + 30, ly + 3, c, 2);
    img.text(left + 36, ly, plot.series[k].name, black);
    ly += 14;
  }
}

} // namespace programs::detail

/// Renders the plots as panels stacked vertically (the image is as wide as the widest).
[[nodiscard]] inline programs::detail::Image render(const std::vector<LinePlot>& plots) {
  if (plots.empty()) throw invalid_argument("rltf::render: no plots");
  int width = 0, height = 0;
  for (const auto& p : plots) {
    if (p.width < 200 || p.height < 150) throw invalid_argument("rltf::render: a panel must be at least 200×150");
    width = std::max(width, p.width);
    height += p.height;
  }
  programs::detail::Image img(width, height);
  int top = 0;
  for (const auto& p : plots) {
    programs::detail::draw_panel(img, p, top);
    top += p.height;
  }
  return img;
}

/// Renders the plots and writes them as a PNG file.
inline void save_png(const std::vector<LinePlot>& plots, const std::filesystem::path& path) {
  render(plots).save_png(path);
}

} // namespace rltf

#pragma once
/// \file
/// Progress of a training run on the terminal: a live bar with the latest metrics when stderr is
/// a terminal (isatty), plain lines otherwise (logs, CI).
///
///     step  120/500 [#########...............]  24% reward -0.412 pass 12.5% loss 0.1234 kl 0.0012 ent 0.85
///     adv0 25% lr 1.0e-03 38.2 samples/s ETA 4m10s
///
/// (kl when the objective reports one; ent and adv0 — the entropy and the share of groups with
/// zero advantage — from the latest round.)
///
/// The same figures go to metrics.jsonl (rltf/train/metrics.hpp).

#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <string>

#include "rltf/train/metrics.hpp"
#include "rltf/train/options.hpp"

namespace rltf {

/// Writes progress lines or a live bar for StepMetrics.
class ProgressDisplay {
public:
  /// `mode` automatic picks the bar when `tty` (by default: whether stderr is a terminal).
  explicit ProgressDisplay(ProgressMode mode, std::ostream& out, std::size_t log_every = 1, int tty = -1)
      : out_(&out), log_every_(log_every == 0 ? 1 : log_every) {
    if (tty < 0) tty = ::isatty(::fileno(stderr)) != 0 ? 1 : 0;
    mode_ = mode == ProgressMode::automatic ? (tty != 0 ? ProgressMode::bar : ProgressMode::lines) : mode;
  }

  /// The mode in effect (never automatic).
  [[nodiscard]] ProgressMode mode() const noexcept { return mode_; }

  /// Shows one step.
  void update(const StepMetrics& m) {
    if (mode_ == ProgressMode::off) return;
    if (m.round) {
      last_reward_ = m.reward_mean;
      last_pass_ = m.pass_rate;
      last_rate_ = m.samples_per_s;
      last_entropy_ = m.entropy;
      last_zero_adv_ = m.frac_zero_adv_groups;
      seen_round_ = true;
    }
    if (mode_ == ProgressMode::bar) {
      *out_ << "\r\033[K" << line(m, true) << std::flush;
      open_bar_ = true;
      if (m.step == m.total_steps) finish();
      return;
    }
    if (m.step % log_every_ == 0 || m.step == m.total_steps || !m.eval.is_null()) *out_ << line(m, false) << '\n';
  }

  /// Prints a message on its own line (keeping the bar below it).
  void message(const std::string& text) {
    if (mode_ == ProgressMode::off) return;
    if (open_bar_) *out_ << "\r\033[K";
    *out_ << text << '\n' << std::flush;
  }

  /// Ends the bar's line.
  void finish() {
    if (open_bar_) *out_ << '\n' << std::flush;
    open_bar_ = false;
  }

  /// The text of one progress line (exposed for tests).
  [[nodiscard]] std::string line(const StepMetrics& m, bool with_bar) const {
    std::string s = "step " + pad(std::to_string(m.step), std::to_string(m.total_steps).size()) + "/" +
                    std::to_string(m.total_steps);
    const double frac = m.total_steps == 0 ? 1.0 : static_cast<double>(m.step) / static_cast<double>(m.total_steps);
    if (with_bar) {
      constexpr int width = 24;
      const int filled = static_cast<int>(frac * width + 1e-9);
      s += " [" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(width - filled), '.') + "] " +
           pad(std::to_string(static_cast<int>(frac * 100.0 + 1e-9)), 3) + "%";
    }
    s += " reward " + fixed(last_reward_, 3) + " pass " + fixed(100.0 * last_pass_, 1) + "% loss " + fixed(m.loss, 4);
    if (const auto kl = m.loss_parts.find("kl"); kl != m.loss_parts.end() && kl->is_number())
      s += " kl " + fixed(kl->get<double>(), 4);
    if (seen_round_) s += " ent " + fixed(last_entropy_, 2) + " adv0 " + fixed(100.0 * last_zero_adv_, 0) + "%";
    if (m.lr > 0.0F) s += " lr " + scientific(m.lr);
    s += " " + fixed(last_rate_, 1) + " samples/s";
    if (!m.eval.is_null() && m.eval.is_object())
      for (const auto& [k, v] : m.eval.items())
        if (v.is_number()) s += " " + k + " " + fixed(v.get<double>(), 3);
    if (m.step > 0 && m.step < m.total_steps && m.elapsed_s > 0.0) {
      const double eta = m.elapsed_s / static_cast<double>(m.step) * static_cast<double>(m.total_steps - m.step);
      s += " ETA " + duration(eta);
    }
    return s;
  }

private:
  static std::string pad(std::string s, std::size_t width) {
    return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
  }
  static std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  static std::string scientific(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1e", v);
    return buf;
  }
  static std::string duration(double seconds) {
    const auto s = static_cast<long long>(seconds + 0.5);
    auto two = [](long long v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    if (s >= 3600) return std::to_string(s / 3600) + "h" + two(s / 60 % 60) + "m";
    if (s >= 60) return std::to_string(s / 60) + "m" + two(s % 60) + "s";
    return std::to_string(s) + "s";
  }

  std::ostream* out_;
  std::size_t log_every_;
  ProgressMode mode_ = ProgressMode::lines;
  bool open_bar_ = false;
  float last_reward_ = 0.0F;
  float last_pass_ = 0.0F;
  double last_rate_ = 0.0;
  float last_entropy_ = 0.0F;
  float last_zero_adv_ = 0.0F;
  bool seen_round_ = false;
};

} // namespace rltf

#pragma once
/// \file
/// rltf::OnlineBuffer — RLTF's online buffer (docs/feedback.md): a FIFO of bounded capacity where new
/// rollouts displace the oldest, and a learner's view that is refreshed every K optimiser steps.
///
/// The generator pushes into the FIFO as it produces rollouts; the learner samples from its view,
/// a snapshot of the FIFO taken at the last refresh. The view is refreshed when the learner has
/// taken `refresh_every` optimiser steps since the last refresh (call on_optimizer_step() after
/// each step), or explicitly with refresh(). The buffer's whole state (contents, view, counters)
/// round-trips through state()/load_state(), which checkpoints use for an exact resume.
///
/// \code
/// rltf::OnlineBuffer<int> buffer{{.capacity = 4, .refresh_every = 2}};
/// buffer.push(std::vector<int>{1, 2, 3, 4, 5}); // holds 2 3 4 5
/// auto rng = rltf::make_rng(7);
/// std::vector<int> batch = buffer.sample(2, rng); // two distinct elements of the view
/// buffer.on_optimizer_step();
/// \endcode

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/buffer/buffer.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/detail/random.hpp"

namespace rltf {

/// How an element of a buffer is written to and read from a checkpoint. The primary template
/// uses nlohmann::json's own conversions (numbers, strings, containers, and types with
/// to_json/from_json); specialise it for other element types.
template <class T>
struct BufferCodec {
  /// The element as JSON.
  [[nodiscard]] static nlohmann::json encode(const T& value) { return nlohmann::json(value); }
  /// The element read back from JSON.
  [[nodiscard]] static T decode(const nlohmann::json& j) { return j.get<T>(); }
};

/// Which elements the learner's view holds (docs/training.md).
enum class BufferView {
  fifo,   ///< the whole FIFO as of the latest refresh (every `refresh_every` steps): the paper's view
  latest, ///< the elements of the latest push, visible at once (on-policy: the freshest rollouts)
};

/// BufferView by name ("fifo", "latest").
inline constexpr std::pair<std::string_view, BufferView> buffer_views[] = {{"fifo", BufferView::fifo},
                                                                           {"latest", BufferView::latest}};
RLTF_ENUM_JSON(BufferView, buffer_views)

[[nodiscard]] constexpr std::string_view to_string(BufferView v) noexcept {
  for (const auto& [name, x] : buffer_views)
    if (x == v) return name;
  return "fifo";
}

/// Options of OnlineBuffer. Defaults are RLTF's (docs/feedback.md).
struct OnlineBufferOptions {
  std::size_t capacity = 6400;    ///< elements kept; pushing more displaces the oldest
  std::size_t refresh_every = 50; ///< optimiser steps between refreshes of the learner's view (≥ 1)
  /// Draw a batch without replacement from the view (a batch larger than the view is the view
  /// shuffled, then further shuffles of it); otherwise draw each element independently.
  bool without_replacement = true;
  BufferView view = BufferView::fifo; ///< the whole FIFO (refreshed every K steps) or the latest push
  /// Successive batches walk through one shuffled order of the view, so that no element repeats
  /// before every element was drawn (an epoch over the view; reshuffled at each pass and each
  /// refresh). With `view = latest` and round size = batch × steps per round, every rollout of a
  /// round is trained on exactly once. Overrides without_replacement.
  bool sweep = false;
};
RLTF_OPTIONS_JSON(OnlineBufferOptions, capacity, refresh_every, without_replacement, view, sweep)

/// A FIFO buffer with a periodically refreshed learner's view; a model of rltf::Buffer.
template <class T>
class OnlineBuffer {
public:
  using value_type = T;

  /// An empty buffer. Throws rltf::invalid_argument when capacity or refresh_every is 0.
  explicit OnlineBuffer(OnlineBufferOptions options = {}) : options_(options) {
    if (options_.capacity == 0) throw invalid_argument("OnlineBuffer: capacity must be at least 1");
    if (options_.refresh_every == 0) throw invalid_argument("OnlineBuffer: refresh_every must be at least 1");
  }

  /// Appends `items` in order; when the buffer is full the oldest elements are displaced. The
  /// learner's view is unchanged until the next refresh, except that a buffer whose view is
  /// empty (nothing was ever visible to the learner) refreshes at once.
  /// With `view = latest`, the view becomes the pushed elements at once.
  void push(std::span<const T> items) {
    for (const T& item : items) push_one(std::make_shared<const T>(item));
    if (options_.view == BufferView::latest) {
      if (items.empty()) return;
      const auto k = static_cast<std::ptrdiff_t>(std::min(items.size(), items_.size()));
      view_.assign(items_.end() - k, items_.end());
      reset_sweep();
      return;
    }
    if (view_.empty()) refresh();
  }

  /// Appends one element (moved in).
  void push(T item) { push(std::span<const T>(&item, 1)); }

  /// `n` elements drawn from the learner's view (see OnlineBufferOptions::without_replacement).
  /// Throws rltf::invalid_argument when the view is empty and n > 0.
  /// With `sweep`, the draw continues the current pass through the view.
  [[nodiscard]] std::vector<T> sample(std::size_t n, Rng& rng) {
    std::vector<T> out;
    if (n == 0) return out;
    if (view_.empty()) throw invalid_argument("OnlineBuffer::sample: the buffer is empty; push rollouts first");
    out.reserve(n);
    if (options_.sweep) {
      while (out.size() < n) {
        if (cursor_ >= order_.size()) {
          order_.resize(view_.size());
          for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
          detail::shuffle(order_, rng);
          cursor_ = 0;
        }
        out.push_back(*view_[order_[cursor_++]]);
      }
      return out;
    }
    if (!options_.without_replacement) {
      for (std::size_t i = 0; i < n; ++i) out.push_back(*view_[detail::uniform_index(rng, view_.size())]);
      return out;
    }
    std::vector<std::size_t> order(view_.size());
    while (out.size() < n) {
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      // Partial Fisher–Yates: only as many positions as still needed are drawn.
      const std::size_t take = std::min(order.size(), n - out.size());
      for (std::size_t i = 0; i < take; ++i) {
        const std::size_t j = i + detail::uniform_index(rng, order.size() - i);
        std::swap(order[i], order[j]);
        out.push_back(*view_[order[i]]);
      }
    }
    return out;
  }

  /// Tells the buffer that the learner took one optimiser step; refreshes the view every
  /// `refresh_every` steps. Returns true when this call refreshed the view.
  bool on_optimizer_step() {
    if (++steps_since_refresh_ >= options_.refresh_every) {
      refresh();
      return true;
    }
    return false;
  }

  /// Makes the learner's view the buffer's current contents (`view = fifo`); with `view =
  /// latest` the view stays the latest push.
  void refresh() {
    if (options_.view == BufferView::fifo) {
      view_.assign(items_.begin(), items_.end());
      reset_sweep();
    }
    steps_since_refresh_ = 0;
  }

  /// Elements in the FIFO.
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  /// Elements the FIFO holds at most.
  [[nodiscard]] std::size_t capacity() const noexcept { return options_.capacity; }
  /// Elements in the learner's view.
  [[nodiscard]] std::size_t view_size() const noexcept { return view_.size(); }
  /// Optimiser steps since the view was last refreshed.
  [[nodiscard]] std::size_t steps_since_refresh() const noexcept { return steps_since_refresh_; }
  /// Elements pushed since construction (displaced ones included).
  [[nodiscard]] std::uint64_t pushed() const noexcept { return pushed_; }
  /// The options the buffer was built with.
  [[nodiscard]] const OnlineBufferOptions& options() const noexcept { return options_; }

  /// The FIFO's element `i`, 0 being the oldest.
  [[nodiscard]] const T& operator[](std::size_t i) const { return *items_.at(i); }
  /// The learner's view's element `i`.
  [[nodiscard]] const T& view_at(std::size_t i) const { return *view_.at(i); }

  /// Removes everything (the counters of pushed elements and steps included).
  void clear() noexcept {
    items_.clear();
    view_.clear();
    steps_since_refresh_ = 0;
    pushed_ = 0;
    reset_sweep();
  }

  /// The whole state as JSON: options, counters, the FIFO's elements (through BufferCodec<T>)
  /// and the view (as positions in the FIFO, or as elements when already displaced from it).
  [[nodiscard]] nlohmann::json state() const {
    nlohmann::json j;
    j["format"] = "rltf.online_buffer";
    j["version"] = 1;
    j["capacity"] = options_.capacity;
    j["refresh_every"] = options_.refresh_every;
    j["without_replacement"] = options_.without_replacement;
    j["view_mode"] = std::string(to_string(options_.view));
    j["sweep"] = options_.sweep;
    j["sweep_order"] = order_;
    j["sweep_cursor"] = cursor_;
    j["steps_since_refresh"] = steps_since_refresh_;
    j["pushed"] = pushed_;
    std::unordered_map<const T*, std::size_t> position;
    nlohmann::json items = nlohmann::json::array();
    for (std::size_t i = 0; i < items_.size(); ++i) {
      position.emplace(items_[i].get(), i);
      items.push_back(BufferCodec<T>::encode(*items_[i]));
    }
    j["items"] = std::move(items);
    nlohmann::json view = nlohmann::json::array();
    for (const auto& v : view_) {
      if (auto it = position.find(v.get()); it != position.end())
        view.push_back(nlohmann::json{{"fifo", it->second}});
      else
        view.push_back(nlohmann::json{{"item", BufferCodec<T>::encode(*v)}});
    }
    j["view"] = std::move(view);
    return j;
  }

  /// Restores a state written by state(). Throws rltf::parse_error naming the field when the
  /// JSON is not such a state; `source` names where it came from in the message.
  void load_state(const nlohmann::json& j, const std::string& source = "buffer state") {
    auto fail = [&](const std::string& field, const std::string& what) { throw parse_error(source, 0, field, what); };
    try {
      if (!j.is_object() || j.value("format", std::string{}) != "rltf.online_buffer")
        fail("format", "not an rltf.online_buffer state");
      if (j.at("version").get<int>() != 1) fail("version", "unsupported version");
      OnlineBufferOptions options;
      options.capacity = j.at("capacity").get<std::size_t>();
      options.refresh_every = j.at("refresh_every").get<std::size_t>();
      options.without_replacement = j.at("without_replacement").get<bool>();
      // States written before these fields existed have the defaults.
      const std::string mode = j.value("view_mode", std::string("fifo"));
      if (mode != "fifo" && mode != "latest")
        fail("view_mode", "expected \"fifo\" or \"latest\", got \"" + mode + "\"");
      options.view = mode == "fifo" ? BufferView::fifo : BufferView::latest;
      options.sweep = j.value("sweep", false);
      auto order = j.value("sweep_order", std::vector<std::size_t>{});
      const auto cursor = j.value("sweep_cursor", std::size_t{0});
      if (options.capacity == 0) fail("capacity", "must be at least 1");
      if (options.refresh_every == 0) fail("refresh_every", "must be at least 1");
      const auto& items = j.at("items");
      if (!items.is_array()) fail("items", "must be an array");
      if (items.size() > options.capacity) fail("items", "more elements than the capacity");
      std::deque<std::shared_ptr<const T>> fifo;
      for (const auto& item : items) fifo.push_back(std::make_shared<const T>(BufferCodec<T>::decode(item)));
      std::vector<std::shared_ptr<const T>> view;
      const auto& jv = j.at("view");
      if (!jv.is_array()) fail("view", "must be an array");
      for (const auto& v : jv) {
        if (v.contains("fifo")) {
          const auto i = v.at("fifo").get<std::size_t>();
          if (i >= fifo.size()) fail("view", "position " + std::to_string(i) + " is outside the FIFO");
          view.push_back(fifo[i]);
        } else {
          view.push_back(std::make_shared<const T>(BufferCodec<T>::decode(v.at("item"))));
        }
      }
      for (const auto i : order)
        if (i >= view.size()) fail("sweep_order", "position " + std::to_string(i) + " is outside the view");
      if (cursor > order.size()) fail("sweep_cursor", "beyond the sweep order");
      options_ = options;
      items_ = std::move(fifo);
      view_ = std::move(view);
      order_ = std::move(order);
      cursor_ = cursor;
      steps_since_refresh_ = j.at("steps_since_refresh").get<std::size_t>();
      pushed_ = j.at("pushed").get<std::uint64_t>();
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(source, 0, "", std::string("malformed buffer state: ") + e.what());
    }
  }

private:
  void reset_sweep() noexcept {
    order_.clear();
    cursor_ = 0;
  }

  void push_one(std::shared_ptr<const T> item) {
    if (items_.size() == options_.capacity) items_.pop_front();
    items_.push_back(std::move(item));
    ++pushed_;
  }

  OnlineBufferOptions options_;
  std::deque<std::shared_ptr<const T>> items_;
  std::vector<std::shared_ptr<const T>> view_;
  std::size_t steps_since_refresh_ = 0;
  std::uint64_t pushed_ = 0;
  std::vector<std::size_t> order_; ///< sweep: the current pass's shuffled view positions
  std::size_t cursor_ = 0;         ///< sweep: draws taken from order_
};

static_assert(Buffer<OnlineBuffer<int>>);

} // namespace rltf

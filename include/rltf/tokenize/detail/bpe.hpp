#pragma once
/// \file
/// Byte-level BPE merging: a hashed pair → merge table, the O(n log n) merge of one word, and a
/// word cache. Internal to rltf's tokenizers.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rltf/core/span.hpp"

namespace rltf::tokenize::detail {

/// What merging a pair produces: its rank (lower merges first) and the merged token.
struct merge_value {
  std::int32_t rank = 0;
  token_id merged = 0;
};

/// Open-addressing hash map from a (left, right) token pair to its merge. Linear probing over a
/// power-of-two table kept at most half full; keys are the two ids packed into 64 bits.
class pair_table {
public:
  /// Prepares room for `n` pairs (call before inserting).
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    keys_.assign(cap, empty_key);
    values_.assign(cap, merge_value{});
    mask_ = cap - 1;
    size_ = 0;
  }

  /// Inserts a pair; returns false (and changes nothing) when the pair is already present.
  bool insert(token_id left, token_id right, merge_value value) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    const std::uint64_t k = key(left, right);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return false;
      if (keys_[i] == empty_key) {
        keys_[i] = k;
        values_[i] = value;
        ++size_;
        return true;
      }
    }
  }

  /// The merge of (left, right), or nullptr.
  [[nodiscard]] const merge_value* find(token_id left, token_id right) const noexcept {
    if (keys_.empty()) return nullptr;
    const std::uint64_t k = key(left, right);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return &values_[i];
      if (keys_[i] == empty_key) return nullptr;
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
  static constexpr std::uint64_t empty_key = ~std::uint64_t{0};

  static std::uint64_t key(token_id left, token_id right) noexcept {
    return (std::uint64_t{static_cast<std::uint32_t>(left)} << 32) | static_cast<std::uint32_t>(right);
  }
  static std::size_t hash(std::uint64_t k) noexcept { // murmur3 finaliser
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  void grow() {
    std::vector<std::uint64_t> old_keys = std::move(keys_);
    std::vector<merge_value> old_values = std::move(values_);
    reserve(std::max<std::size_t>(16, old_keys.size()));
    for (std::size_t i = 0; i < old_keys.size(); ++i)
      if (old_keys[i] != empty_key)
        insert(static_cast<token_id>(old_keys[i] >> 32), static_cast<token_id>(old_keys[i] & 0xffffffffU),
               old_values[i]);
  }

  std::vector<std::uint64_t> keys_;
  std::vector<merge_value> values_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

/// Reusable buffers for bpe_encode_word (one per thread).
struct bpe_scratch {
  struct symbol {
    token_id id;       ///< -1 once merged into its left neighbour
    std::int32_t prev; ///< -1 at the start
    std::int32_t next; ///< -1 at the end
  };
  struct candidate {
    std::int32_t rank;
    std::int32_t pos;
    token_id left;
    token_id right;
    token_id merged;
  };
  std::vector<symbol> symbols;
  std::vector<candidate> heap;
};

/// Merges the bytes of one pre-token into tokens, appending them to `out`. Always applies the
/// lowest-ranked applicable merge first, leftmost first among equal ranks (GPT-2's and Hugging
/// Face's order), with a heap of candidate pairs: O(n log n) in the word's length.
inline void bpe_encode_word(std::string_view word, const std::array<token_id, 256>& byte_ids, const pair_table& pairs,
                            bpe_scratch& scratch, std::vector<token_id>& out) {
  const std::size_t n = word.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(byte_ids[static_cast<unsigned char>(word[0])]);
    return;
  }
  auto& sym = scratch.symbols;
  auto& heap = scratch.heap;
  sym.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    sym[i] = {byte_ids[static_cast<unsigned char>(word[i])], static_cast<std::int32_t>(i) - 1,
              i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1};
  const auto later = [](const bpe_scratch::candidate& a, const bpe_scratch::candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  heap.clear();
  const auto candidate_at = [&](std::int32_t pos) {
    const std::int32_t next = sym[static_cast<std::size_t>(pos)].next;
    if (next < 0) return false;
    const token_id l = sym[static_cast<std::size_t>(pos)].id;
    const token_id r = sym[static_cast<std::size_t>(next)].id;
    const merge_value* m = pairs.find(l, r);
    if (m == nullptr) return false;
    heap.push_back({m->rank, pos, l, r, m->merged});
    return true;
  };
  for (std::size_t i = 0; i + 1 < n; ++i) candidate_at(static_cast<std::int32_t>(i));
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const bpe_scratch::candidate c = heap.back();
    heap.pop_back();
    auto& s = sym[static_cast<std::size_t>(c.pos)];
    if (s.id != c.left || s.next < 0 || sym[static_cast<std::size_t>(s.next)].id != c.right) continue; // stale
    auto& right = sym[static_cast<std::size_t>(s.next)];
    s.id = c.merged;
    right.id = -1;
    s.next = right.next;
    if (s.next >= 0) sym[static_cast<std::size_t>(s.next)].prev = c.pos;
    if (s.prev >= 0 && candidate_at(s.prev)) std::push_heap(heap.begin(), heap.end(), later);
    if (candidate_at(c.pos)) std::push_heap(heap.begin(), heap.end(), later);
  }
  for (std::int32_t p = 0; p >= 0; p = sym[static_cast<std::size_t>(p)].next)
    out.push_back(sym[static_cast<std::size_t>(p)].id);
}

/// A thread-safe cache from a pre-token's bytes to its tokens. When full it starts afresh (pre-tokens
/// follow a Zipf law: the frequent ones come back at once). Capacity 0 disables it.
class bpe_cache {
public:
  explicit bpe_cache(std::size_t capacity) : capacity_(capacity) {}

  /// Appends the cached tokens of `word` to `out`; false when absent.
  bool lookup(std::string_view word, std::vector<token_id>& out) const {
    if (capacity_ == 0) return false;
    std::shared_lock lock(mutex_);
    const auto it = map_.find(word);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void insert(std::string_view word, std::span<const token_id> tokens) {
    if (capacity_ == 0 || word.size() > max_word_bytes) return;
    std::unique_lock lock(mutex_);
    if (map_.size() >= capacity_) map_.clear();
    map_.try_emplace(std::string(word), tokens.begin(), tokens.end());
  }

  [[nodiscard]] std::size_t size() const {
    std::shared_lock lock(mutex_);
    return map_.size();
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Longer pre-tokens (long runs of spaces or symbols) are not cached.
  static constexpr std::size_t max_word_bytes = 256;

private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::size_t capacity_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::vector<token_id>, string_hash, std::equal_to<>> map_;
};

} // namespace rltf::tokenize::detail

#pragma once
/// \file
/// rltf::HfTokenizer — a Hugging Face `tokenizer.json` byte-level BPE (Qwen2/2.5/3, Llama 3,
/// GPT-2, ...) with the file's own normalizer, pre-tokenizer and added tokens.
///
///     auto tok = rltf::HfTokenizer::from_directory("data/models/qwen2-tokenizer");
///     std::vector<rltf::token_id> ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n");
///     std::string text = tok.decode(ids);                      // the input (when NFC leaves it as is)
///     rltf::HfEncoding enc = tok.encode_with_offsets(text);    // ids + byte spans of `text`
///
/// Encoding follows Hugging Face's tokenizers step by step: added tokens are matched first
/// (leftmost, longest among those starting at the same byte, as AddedVocabulary's Aho-Corasick
/// does; first those with `normalized: false` on the raw text, then those with `normalized: true`
/// on the normalized text), honouring `lstrip`, `rstrip` and `single_word`; the rest is normalized
/// (NFC, through ICU), split by the pre-tokenizer's steps (`Split` with a PCRE2 regex or a string,
/// any behaviour, `invert`; `ByteLevel` with or without GPT-2's regex) and each piece merged by
/// rank (`ignore_merges` honoured) with a per-piece cache. Supported and refused parts:
/// docs/tokenizers.md. Copies share the vocabulary and the cache; every member function is safe
/// to call from several threads at once.

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"
#include "rltf/tokenize/detail/bpe.hpp"
#include "rltf/tokenize/detail/files.hpp"
#include "rltf/tokenize/detail/hf_json.hpp"
#include "rltf/tokenize/detail/normalize.hpp"
#include "rltf/tokenize/detail/pieces.hpp"
#include "rltf/tokenize/detail/pretokenize.hpp"
#include "rltf/tokenize/detail/regex.hpp"
#include "rltf/tokenize/detail/utf8.hpp"
#include "rltf/tokenize/gpt2.hpp"
#include "rltf/tokenize/tokenizer.hpp"

namespace rltf {

/// Options for HfTokenizer.
struct HfTokenizerOptions {
  /// How the concept's `encode(text)` treats the text of added tokens marked `special: true`.
  /// The default, SpecialTokens::allowed, is Hugging Face's (`split_special_tokens=False`): they
  /// become their single id. Added tokens with `special: false` are always matched, as in HF.
  SpecialTokens special_tokens = SpecialTokens::allowed;
  /// The end-of-text token; empty: tokenizer_config.json's `eos_token` (from_directory), else
  /// the first of <|endoftext|>, <|end_of_text|>, </s> that is a token.
  std::string eos_token;
  /// The padding token; empty: tokenizer_config.json's `pad_token`, else the eos token.
  std::string pad_token;
  /// Pre-tokens whose merges are cached (0 disables the cache).
  std::size_t cache_capacity = 1U << 16U;
};

/// The ids of a text and, for each, the byte range of the ORIGINAL text it covers. The ranges tile
/// the text; when NFC changed a stretch of it (a segment between normalization boundaries), the
/// token that ends the stretch gets all its bytes and the others in it get empty ranges.
struct HfEncoding {
  std::vector<token_id> ids;
  TokenOffsets offsets;
};

/// A tokenizer.json byte-level BPE. Models rltf::Tokenizer.
class HfTokenizer {
public:
  /// Loads `dir`/tokenizer.json, and `dir`/tokenizer_config.json when present (eos and pad
  /// tokens). Throws rltf::io_error when tokenizer.json is missing, rltf::parse_error naming the
  /// file and the JSON path of what is malformed or unsupported.
  [[nodiscard]] static HfTokenizer from_directory(const std::filesystem::path& dir,
                                                  const HfTokenizerOptions& options = {}) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw io_error("HfTokenizer: '" + dir.string() + "' is not a directory");
    if (!fs::exists(dir / "tokenizer.json"))
      throw io_error("HfTokenizer: '" + dir.string() + "' has no tokenizer.json");
    HfTokenizerOptions o = options;
    const fs::path config = dir / "tokenizer_config.json";
    if (fs::exists(config)) {
      const std::string file = config.string();
      const auto doc = tokenize::detail::parse_json(tokenize::detail::read_file(config), file);
      const auto token_text = [&](const char* key) -> std::string {
        if (!doc.is_object() || !doc.contains(key) || doc.at(key).is_null()) return {};
        const auto& v = doc.at(key);
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object() && v.contains("content") && v.at("content").is_string())
          return v.at("content").get<std::string>();
        throw parse_error(file, 0, key, "expected a token string or {\"content\": string}, got " + v.dump());
      };
      if (o.eos_token.empty()) o.eos_token = token_text("eos_token");
      if (o.pad_token.empty()) o.pad_token = token_text("pad_token");
    }
    return from_tokenizer_json(dir / "tokenizer.json", o);
  }

  /// Loads a tokenizer.json file.
  [[nodiscard]] static HfTokenizer from_tokenizer_json(const std::filesystem::path& path,
                                                       const HfTokenizerOptions& options = {}) {
    const std::string file = path.string();
    return HfTokenizer(tokenize::detail::read_hf_tokenizer_json(tokenize::detail::read_file(path), file), options,
                       file);
  }

  /// The ids of `text`; added tokens as HfTokenizerOptions::special_tokens says (the concept's encode).
  [[nodiscard]] std::vector<token_id> encode(std::string_view text) const { return encode(text, model_->mode); }

  /// The ids of `text`, treating the text of `special: true` added tokens as `mode` says
  /// (SpecialTokens::disallowed throws rltf::invalid_argument naming the token and its byte).
  [[nodiscard]] std::vector<token_id> encode(std::string_view text, SpecialTokens mode) const {
    std::vector<token_id> out;
    out.reserve(text.size() / 3 + 1);
    encode_into(text, mode, out, nullptr);
    return out;
  }

  /// The ids of `text` and the byte range of `text` each covers (see HfEncoding).
  [[nodiscard]] HfEncoding encode_with_offsets(std::string_view text) const {
    return encode_with_offsets(text, model_->mode);
  }
  [[nodiscard]] HfEncoding encode_with_offsets(std::string_view text, SpecialTokens mode) const {
    HfEncoding enc;
    encode_into(text, mode, enc.ids, &enc.offsets);
    return enc;
  }

  /// The pieces the pre-tokenizer cuts `text` into (raw bytes; `text` taken as already normalized
  /// and free of added tokens), as HF's `pre_tokenizer.pre_tokenize_str` lists them.
  [[nodiscard]] std::vector<std::string> pre_tokenize(std::string_view text) const {
    std::vector<piece> pieces = split_pieces(text);
    std::vector<std::string> out;
    out.reserve(pieces.size());
    for (const piece p : pieces) out.emplace_back(text.substr(p.begin, p.end - p.begin));
    return out;
  }

  /// `ids` wrapped in the post-processor's template (TemplateProcessing's `single`, e.g. Llama 3's
  /// <|begin_of_text|>); unchanged when tokenizer.json has none — what HF's
  /// `add_special_tokens=True` adds.
  [[nodiscard]] std::vector<token_id> add_special_tokens(std::span<const token_id> ids) const {
    std::vector<token_id> out(model_->prefix.begin(), model_->prefix.end());
    out.insert(out.end(), ids.begin(), ids.end());
    out.insert(out.end(), model_->suffix.begin(), model_->suffix.end());
    return out;
  }

  /// The bytes the ids stand for, concatenated (the ByteLevel decoder; added tokens give their
  /// text). Raw bytes: a partial character is not replaced by U+FFFD. Throws
  /// rltf::invalid_argument for an id that is no token.
  [[nodiscard]] std::string decode(std::span<const token_id> ids) const {
    return tokenize::detail::decode_pieces(ids, [this](token_id id) { return token_bytes(id); });
  }

  /// The byte range of decode(ids) each id produced; the ranges tile the decoded text.
  [[nodiscard]] TokenOffsets offsets(std::span<const token_id> ids) const {
    return tokenize::detail::piece_offsets(ids, [this](token_id id) { return token_bytes(id); });
  }

  /// One more than the largest id (vocabulary and added tokens).
  [[nodiscard]] std::size_t vocab_size() const noexcept { return model_->bytes.size(); }
  [[nodiscard]] token_id eos_id() const noexcept { return model_->eos; }
  [[nodiscard]] token_id pad_id() const noexcept { return model_->pad; }
  [[nodiscard]] std::size_t merge_count() const noexcept { return model_->pairs.size(); }
  /// True when tokenizer.json's normalizer is NFC.
  [[nodiscard]] bool normalizes_nfc() const noexcept { return model_->nfc; }

  /// The raw bytes of token `id`. Throws rltf::invalid_argument for an id that is no token.
  [[nodiscard]] std::string_view token_bytes(token_id id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= model_->bytes.size() ||
        !model_->present[static_cast<std::size_t>(id)])
      throw invalid_argument("HfTokenizer: token id " + std::to_string(id) + " is not in the vocabulary (size " +
                             std::to_string(model_->bytes.size()) + ")");
    return model_->bytes[static_cast<std::size_t>(id)];
  }

  /// Token `id` as tokenizer.json writes it (byte-level characters, e.g. "Ġworld"; added tokens as is).
  [[nodiscard]] std::string token_string(token_id id) const {
    const std::string_view bytes = token_bytes(id);
    if (is_added(id)) return std::string(bytes);
    return tokenize::detail::byte_level_encode(bytes);
  }

  /// The id of a token as tokenizer.json writes it (vocabulary key or added token content).
  [[nodiscard]] std::optional<token_id> find(std::string_view token) const {
    const auto it = model_->by_string.find(std::string(token));
    if (it == model_->by_string.end()) return std::nullopt;
    return it->second;
  }

  /// True for added tokens (tokenizer.json's `added_tokens`), special or not.
  [[nodiscard]] bool is_added(token_id id) const noexcept {
    return id >= 0 && static_cast<std::size_t>(id) < model_->added_kind.size() &&
           model_->added_kind[static_cast<std::size_t>(id)] != 0;
  }
  /// True for added tokens marked `special: true`.
  [[nodiscard]] bool is_special(token_id id) const noexcept {
    return id >= 0 && static_cast<std::size_t>(id) < model_->added_kind.size() &&
           model_->added_kind[static_cast<std::size_t>(id)] == 2;
  }

  /// Number of pre-tokens currently cached.
  [[nodiscard]] std::size_t cache_size() const { return cache_->size(); }

private:
  using added_token = tokenize::detail::hf_added_token;
  using split_step = tokenize::detail::hf_split_step;
  using split_behavior = tokenize::detail::split_behavior;

  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct model {
    std::vector<std::string> bytes; ///< id → raw bytes (added tokens: their content)
    std::vector<bool> present;
    std::vector<unsigned char> added_kind; ///< id → 0 ordinary, 1 added, 2 added and special
    std::unordered_map<std::string, token_id> by_string;
    std::unordered_map<std::string, token_id, string_hash, std::equal_to<>> by_bytes; ///< ordinary tokens
    std::array<token_id, 256> byte_ids{};
    tokenize::detail::pair_table pairs;
    std::vector<added_token> raw_added;        ///< normalized: false (or no normalizer)
    std::vector<added_token> normalized_added; ///< normalized: true, matched after NFC
    std::vector<split_step> steps;
    std::vector<token_id> prefix;
    std::vector<token_id> suffix;
    bool nfc = false;
    bool ignore_merges = false;
    SpecialTokens mode = SpecialTokens::allowed;
    token_id eos = 0;
    token_id pad = 0;
  };

  /// One piece of text on its way to tokens: [begin, end) of the buffer being split.
  struct piece {
    std::size_t begin;
    std::size_t end;
  };

  HfTokenizer(tokenize::detail::hf_description d, const HfTokenizerOptions& options, const std::string& file)
      : model_(build(std::move(d), options, file)),
        cache_(std::make_shared<tokenize::detail::bpe_cache>(options.cache_capacity)) {}

  [[noreturn]] static void fail(const std::string& file, const std::string& field, const std::string& what) {
    throw parse_error(file, 0, field, what);
  }

  static std::shared_ptr<const model> build(tokenize::detail::hf_description d, const HfTokenizerOptions& options,
                                            const std::string& file) {
    auto m = std::make_shared<model>();
    m->nfc = d.nfc;
    m->ignore_merges = d.ignore_merges;
    m->steps = std::move(d.steps);
    m->mode = options.special_tokens;
    std::size_t size = 0;
    for (const auto& e : d.vocab) size = std::max(size, static_cast<std::size_t>(e.id) + 1);
    for (const auto& a : d.added) size = std::max(size, static_cast<std::size_t>(a.id) + 1);
    m->bytes.assign(size, {});
    m->present.assign(size, false);
    m->added_kind.assign(size, 0);
    for (const auto& a : d.added) {
      const auto id = static_cast<std::size_t>(a.id);
      if (m->added_kind[id] != 0 && m->bytes[id] != a.content)
        fail(file, "added_tokens", "id " + std::to_string(a.id) + " is given to two added tokens");
      m->bytes[id] = a.content;
      m->present[id] = true;
      m->added_kind[id] = a.special ? 2 : 1;
      m->by_string[a.content] = a.id;
      // Without a normalizer, normalized and raw added tokens are matched alike, but HF still
      // matches the raw ones first: keep the two passes.
      (a.normalized ? m->normalized_added : m->raw_added).push_back(a);
    }
    m->by_bytes.reserve(d.vocab.size());
    m->by_string.reserve(d.vocab.size() + d.added.size());
    std::string raw;
    for (const auto& e : d.vocab) {
      const auto id = static_cast<std::size_t>(e.id);
      const std::string field = "model.vocab[\"" + e.token + "\"]";
      if (m->added_kind[id] != 0) {
        if (m->bytes[id] != e.token)
          fail(file, field, "id " + std::to_string(e.id) + " is also the added token '" + m->bytes[id] + "'");
        continue; // an added token listed in the vocabulary too (GPT-2's <|endoftext|>)
      }
      if (m->present[id]) fail(file, field, "id " + std::to_string(e.id) + " is already used by another token");
      if (!tokenize::detail::byte_level_decode(e.token, raw))
        fail(file, field,
             "'" + e.token +
                 "' is not a byte-level token (byte-level BPE writes bytes as the characters of "
                 "GPT-2's bytes_to_unicode())");
      if (!m->by_bytes.try_emplace(raw, e.id).second)
        fail(file, field,
             "two tokens stand for the same bytes (ids " + std::to_string(m->by_bytes.find(raw)->second) + " and " +
                 std::to_string(e.id) + ")");
      m->bytes[id] = raw;
      m->present[id] = true;
      m->by_string.emplace(e.token, e.id);
    }
    for (unsigned b = 0; b < 256; ++b) {
      const auto it = m->by_bytes.find(std::string_view(std::string(1, static_cast<char>(b))));
      if (it == m->by_bytes.end())
        fail(file, "model.vocab",
             "the vocabulary lacks the single-byte token '" +
                 tokenize::detail::byte_level_encode(std::string(1, static_cast<char>(b))) + "' of byte " +
                 std::to_string(b) + " (byte-level BPE needs all 256)");
      m->byte_ids[b] = it->second;
    }
    m->pairs.reserve(d.merges.size());
    std::string left_raw;
    std::string right_raw;
    for (std::size_t rank = 0; rank < d.merges.size(); ++rank) {
      const auto& mg = d.merges[rank];
      const std::string field = "model.merges[" + std::to_string(rank) + "]";
      const std::string rule = "'" + mg.left + " " + mg.right + "'";
      if (!tokenize::detail::byte_level_decode(mg.left, left_raw) ||
          !tokenize::detail::byte_level_decode(mg.right, right_raw))
        fail(file, field, "merge " + rule + " is not written in byte-level characters");
      const auto l = m->by_bytes.find(std::string_view(left_raw));
      const auto r = m->by_bytes.find(std::string_view(right_raw));
      const auto merged = m->by_bytes.find(std::string_view(left_raw + right_raw));
      if (l == m->by_bytes.end()) fail(file, field, "merge " + rule + ": '" + mg.left + "' is not in the vocabulary");
      if (r == m->by_bytes.end()) fail(file, field, "merge " + rule + ": '" + mg.right + "' is not in the vocabulary");
      if (merged == m->by_bytes.end())
        fail(file, field, "merge " + rule + ": the merged token '" + mg.left + mg.right + "' is not in the vocabulary");
      // HF keeps the first rank of a pair listed twice.
      m->pairs.insert(l->second, r->second, {static_cast<std::int32_t>(rank), merged->second});
    }
    for (const token_id id : d.prefix_ids) {
      if (static_cast<std::size_t>(id) >= size || !m->present[static_cast<std::size_t>(id)])
        fail(file, "post_processor", "template token id " + std::to_string(id) + " is not in the vocabulary");
      m->prefix.push_back(id);
    }
    for (const token_id id : d.suffix_ids) {
      if (static_cast<std::size_t>(id) >= size || !m->present[static_cast<std::size_t>(id)])
        fail(file, "post_processor", "template token id " + std::to_string(id) + " is not in the vocabulary");
      m->suffix.push_back(id);
    }

    const auto lookup = [&](const std::string& token, const char* what) -> token_id {
      if (const auto it = m->by_string.find(token); it != m->by_string.end()) return it->second;
      fail(file, what, "'" + token + "' is not a token; set HfTokenizerOptions::" + what);
    };
    std::string eos = options.eos_token;
    if (eos.empty())
      for (const char* candidate : {"<|endoftext|>", "<|end_of_text|>", "</s>"})
        if (m->by_string.contains(candidate)) {
          eos = candidate;
          break;
        }
    if (eos.empty())
      fail(file, "eos_token",
           "no end-of-text token: tokenizer_config.json names none and the vocabulary has none of <|endoftext|>, "
           "<|end_of_text|>, </s>; set HfTokenizerOptions::eos_token");
    m->eos = lookup(eos, "eos_token");
    m->pad = options.pad_token.empty() ? m->eos : lookup(options.pad_token, "pad_token");
    return m;
  }

  // ---- added tokens --------------------------------------------------------------------------

  static bool is_space_at(std::string_view s, std::size_t i, std::size_t& len) {
    const tokenize::detail::classified c = tokenize::detail::classify_at(s, i);
    len = c.length;
    return c.cls == tokenize::detail::char_class::space;
  }
  /// Start of the whitespace run that ends at `end`.
  static std::size_t spaces_before(std::string_view s, std::size_t end) {
    std::size_t i = end;
    while (i > 0) {
      std::size_t b = i - 1;
      while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80 && i - b < 4) --b;
      std::size_t len = 0;
      if (!is_space_at(s, b, len) || b + len != i) break;
      i = b;
    }
    return i;
  }
  static std::size_t spaces_after(std::string_view s, std::size_t begin) {
    std::size_t i = begin;
    std::size_t len = 0;
    while (i < s.size() && is_space_at(s, i, len)) i += len;
    return i;
  }
  /// Whether the character ending at `end` / starting at `begin` is a letter or digit (Rust's
  /// char::is_alphanumeric, as single_word uses).
  static bool word_before(std::string_view s, std::size_t end) {
    if (end == 0) return false;
    std::size_t b = end - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80 && end - b < 4) --b;
    const auto c = tokenize::detail::classify_at(s, b);
    return c.cls == tokenize::detail::char_class::letter || c.cls == tokenize::detail::char_class::number;
  }
  static bool word_after(std::string_view s, std::size_t begin) {
    if (begin >= s.size()) return false;
    const auto c = tokenize::detail::classify_at(s, begin);
    return c.cls == tokenize::detail::char_class::letter || c.cls == tokenize::detail::char_class::number;
  }

  /// Splits `text` on `tokens` (leftmost match, longest among equal starts). Calls
  /// `plain(begin, end)` for text between matches and `token(begin, end, id)` for each match
  /// (its range includes what lstrip/rstrip absorbed).
  template <class Plain, class Token>
  void split_added(std::string_view text, const std::vector<added_token>& tokens, SpecialTokens mode, Plain&& plain,
                   Token&& token) const {
    const std::size_t n_tokens = tokens.size();
    if (n_tokens == 0) {
      plain(std::size_t{0}, text.size());
      return;
    }
    std::vector<std::size_t> next(n_tokens); // next occurrence of each token at or after `from`
    std::vector<bool> active(n_tokens);
    bool any = false;
    for (std::size_t k = 0; k < n_tokens; ++k) {
      active[k] = !tokens[k].special || mode != SpecialTokens::ordinary;
      any = any || active[k];
      next[k] = active[k] ? text.find(tokens[k].content) : std::string_view::npos;
    }
    if (!any) {
      plain(std::size_t{0}, text.size());
      return;
    }
    std::size_t done = 0; // text[0, done) is handed out
    std::size_t from = 0; // matches may start here or later
    while (true) {
      std::size_t best = std::string_view::npos;
      std::size_t which = 0;
      for (std::size_t k = 0; k < n_tokens; ++k) {
        if (!active[k] || next[k] == std::string_view::npos) continue;
        if (next[k] < from) next[k] = text.find(tokens[k].content, from);
        if (next[k] == std::string_view::npos) continue;
        if (next[k] < best || (next[k] == best && tokens[k].content.size() > tokens[which].content.size()))
          best = next[k], which = k;
      }
      if (best == std::string_view::npos) break;
      const added_token& t = tokens[which];
      std::size_t begin = best;
      std::size_t end = best + t.content.size();
      from = end;
      if (t.single_word && (word_before(text, begin) || word_after(text, end))) continue;
      if (t.special && mode == SpecialTokens::disallowed)
        throw invalid_argument("HfTokenizer::encode: the text contains the special token '" + t.content + "' at byte " +
                               std::to_string(begin) +
                               "; pass SpecialTokens::allowed to encode it as one token or SpecialTokens::ordinary "
                               "to encode it as text");
      if (t.lstrip) begin = std::max(spaces_before(text, begin), done);
      if (t.rstrip) end = spaces_after(text, end);
      from = end;
      if (begin > done) plain(done, begin);
      token(begin, end, t.id);
      done = end;
    }
    if (done < text.size()) plain(done, text.size());
  }

  // ---- pre-tokenization and BPE ----------------------------------------------------------------

  /// Splits [p.begin, p.end) of `buf` by one step, appending the pieces to `out`.
  static void apply_step(const split_step& step, std::string_view buf, piece p, std::vector<piece>& out) {
    const std::string_view s = buf.substr(p.begin, p.end - p.begin);
    if (step.type == split_step::kind::gpt2) {
      tokenize::detail::gpt2_pretokenize(s, [&](std::size_t b, std::size_t e) {
        out.push_back({p.begin + b, p.begin + e});
      });
      return;
    }
    thread_local std::vector<std::pair<piece, bool>> parts; // (range within s, is_match)
    parts.clear();
    std::size_t prev = 0;
    const auto on_match = [&](std::size_t b, std::size_t e) {
      if (b > prev) parts.push_back({{prev, b}, false});
      parts.push_back({{b, e}, true});
      prev = e;
    };
    if (step.type == split_step::kind::regex) {
      step.re->for_each_match(s, on_match);
    } else {
      for (std::size_t at = s.find(step.literal); at != std::string_view::npos; at = s.find(step.literal, at))
        on_match(at, at + step.literal.size()), at += step.literal.size();
    }
    if (prev < s.size()) parts.push_back({{prev, s.size()}, false});
    if (step.invert)
      for (auto& part : parts) part.second = !part.second;
    const std::size_t first = out.size();
    const auto push = [&](piece r) { out.push_back({p.begin + r.begin, p.begin + r.end}); };
    switch (step.behavior) {
    case split_behavior::isolated:
      for (const auto& part : parts) push(part.first);
      break;
    case split_behavior::removed:
      for (const auto& part : parts)
        if (!part.second) push(part.first);
      break;
    case split_behavior::merged_with_previous: {
      bool previous_match = false;
      for (const auto& [r, is_match] : parts) {
        if (is_match && !previous_match && out.size() > first)
          out.back().end = p.begin + r.end;
        else
          push(r);
        previous_match = is_match;
      }
      break;
    }
    case split_behavior::merged_with_next: {
      bool previous_match = false; // walking backwards: "previous" is the part after this one
      std::vector<piece> reversed;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->second && !previous_match && !reversed.empty())
          reversed.back().begin = p.begin + it->first.begin;
        else
          reversed.push_back({p.begin + it->first.begin, p.begin + it->first.end});
        previous_match = it->second;
      }
      out.insert(out.end(), reversed.rbegin(), reversed.rend());
      break;
    }
    case split_behavior::contiguous: {
      bool previous_match = false;
      for (const auto& [r, is_match] : parts) {
        if (is_match == previous_match && out.size() > first)
          out.back().end = p.begin + r.end;
        else
          push(r);
        previous_match = is_match;
      }
      break;
    }
    }
    // HF drops empty pieces.
    out.erase(std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                             [](piece q) { return q.begin == q.end; }),
              out.end());
  }

  /// Tokens of one final piece, appended to `out`.
  void bpe_piece(std::string_view word, std::vector<token_id>& out) const {
    thread_local tokenize::detail::bpe_scratch scratch;
    const model& m = *model_;
    if (word.size() == 1) {
      out.push_back(m.byte_ids[static_cast<unsigned char>(word[0])]);
      return;
    }
    if (m.ignore_merges)
      if (const auto it = m.by_bytes.find(word); it != m.by_bytes.end()) {
        out.push_back(it->second);
        return;
      }
    if (cache_->lookup(word, out)) return;
    const std::size_t start = out.size();
    tokenize::detail::bpe_encode_word(word, m.byte_ids, m.pairs, scratch, out);
    cache_->insert(word, std::span<const token_id>(out).subspan(start));
  }

  /// Pre-tokenizes and merges `buf` (normalized text without added tokens). When `offsets` is not
  /// null, appends each token's range of the original text: `origin(k)` maps byte k of `buf`.
  template <class Origin>
  void encode_plain(std::string_view buf, std::vector<token_id>& out, TokenOffsets* offsets, Origin&& origin) const {
    const model& m = *model_;
    thread_local std::vector<piece> buffer;
    std::vector<piece> pieces = split_pieces(buf, std::move(buffer));
    for (const piece p : pieces) {
      const std::size_t first = out.size();
      bpe_piece(buf.substr(p.begin, p.end - p.begin), out);
      if (offsets == nullptr) continue;
      std::size_t at = p.begin;
      for (std::size_t t = first; t < out.size(); ++t) {
        const std::size_t len = m.bytes[static_cast<std::size_t>(out[t])].size();
        offsets->push_back({origin(at), origin(at + len)});
        at += len;
      }
    }
    buffer = std::move(pieces);
  }

  /// The pre-tokenizer's pieces of `buf` (reusing `storage`'s memory).
  [[nodiscard]] std::vector<piece> split_pieces(std::string_view buf, std::vector<piece> storage = {}) const {
    thread_local std::vector<piece> scratch;
    std::vector<piece> other = std::move(scratch);
    storage.clear();
    storage.push_back({0, buf.size()});
    for (const auto& step : model_->steps) {
      other.clear();
      for (const piece p : storage) apply_step(step, buf, p, other);
      std::swap(storage, other);
    }
    scratch = std::move(other);
    if (buf.empty()) storage.clear();
    return storage;
  }

  void encode_into(std::string_view text, SpecialTokens mode, std::vector<token_id>& out, TokenOffsets* offsets) const {
    const model& m = *model_;
    const std::size_t first_offset = offsets != nullptr ? offsets->size() : 0;
    split_added(
        text, m.raw_added, mode,
        [&](std::size_t begin, std::size_t end) {
          const std::string_view seg = text.substr(begin, end - begin);
          std::string normalized;
          std::vector<std::size_t> origin;
          const bool changed = m.nfc && tokenize::detail::nfc_normalize(seg, normalized, offsets ? &origin : nullptr);
          const std::string_view buf = changed ? std::string_view(normalized) : seg;
          const auto map = [&](std::size_t k) { return begin + (changed && offsets ? origin[k] : k); };
          split_added(
              buf, m.normalized_added, mode,
              [&](std::size_t b, std::size_t e) {
                encode_plain(buf.substr(b, e - b), out, offsets, [&](std::size_t k) { return map(b + k); });
              },
              [&](std::size_t b, std::size_t e, token_id id) {
                out.push_back(id);
                if (offsets != nullptr) offsets->push_back({map(b), map(e)});
              });
        },
        [&](std::size_t begin, std::size_t end, token_id id) {
          out.push_back(id);
          if (offsets != nullptr) offsets->push_back({begin, end});
        });
    if (offsets != nullptr) tile(*offsets, first_offset, text.size());
  }

  /// Makes offsets[first..] tile [0, size). Text a `Removed` split drops has no token; its bytes
  /// join the range before them (the first range starts at 0, the last ends at size).
  static void tile(TokenOffsets& offsets, std::size_t first, std::size_t size) {
    if (offsets.size() == first) return;
    offsets[first].begin = 0;
    for (std::size_t t = first; t + 1 < offsets.size(); ++t) offsets[t].end = offsets[t + 1].begin;
    offsets.back().end = size;
  }

  std::shared_ptr<const model> model_;
  std::shared_ptr<tokenize::detail::bpe_cache> cache_;
};

static_assert(Tokenizer<HfTokenizer>);

} // namespace rltf

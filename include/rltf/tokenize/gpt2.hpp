#pragma once
/// \file
/// rltf::Gpt2Tokenizer — GPT-2's byte-level BPE, exact against OpenAI's and Hugging Face's encoders.
///
///     auto tok = rltf::Gpt2Tokenizer::from_directory("data/models/gpt2-tokenizer");
///     std::vector<rltf::token_id> ids = tok.encode("def f(x):\n    return x");
///     std::string text = tok.decode(ids);              // == the input, byte for byte
///     rltf::TokenOffsets spans = tok.offsets(ids);     // bytes of `text` each token produced
///
/// Loads `tokenizer.json` (Hugging Face), `vocab.json` + `merges.txt` (Hugging Face) or
/// `encoder.json` + `vocab.bpe` (OpenAI). Encoding pre-tokenizes with GPT-2's regex (Unicode
/// classes from generated tables, no ICU), then merges each piece by rank with a hashed pair table
/// and caches the result per piece. Copies are cheap and share the vocabulary and the cache; every
/// member function is safe to call from several threads at once.

#include <algorithm>
#include <array>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"
#include "rltf/core/span.hpp"
#include "rltf/tokenize/detail/bpe.hpp"
#include "rltf/tokenize/detail/files.hpp"
#include "rltf/tokenize/detail/pieces.hpp"
#include "rltf/tokenize/detail/pretokenize.hpp"
#include "rltf/tokenize/detail/utf8.hpp"
#include "rltf/tokenize/tokenizer.hpp"

namespace rltf {

/// How encode treats the text of special tokens such as `<|endoftext|>`.
enum class SpecialTokens {
  ordinary,   ///< plain text, split by BPE like any other (the default; what `encode(text)` does)
  allowed,    ///< matched as the special token's single id
  disallowed, ///< throws rltf::invalid_argument when the text contains one (tiktoken's default)
};

/// Options for Gpt2Tokenizer. The defaults are GPT-2's.
struct Gpt2TokenizerOptions {
  /// Vocabulary entries that are special tokens: their text is taken literally (not byte-level
  /// encoded) and SpecialTokens::allowed matches it. Entries absent from the vocabulary are
  /// ignored. tokenizer.json's `added_tokens` are added to these.
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  /// The end-of-text token; it must be in the vocabulary.
  std::string eos_token = "<|endoftext|>";
  /// The padding token; empty means the eos token (GPT-2 has no pad token).
  std::string pad_token;
  /// Pre-tokens whose merges are cached (0 disables the cache).
  std::size_t cache_capacity = 1U << 16U;
};

/// GPT-2 byte-level BPE. Models rltf::Tokenizer.
class Gpt2Tokenizer {
public:
  /// One vocabulary entry in the form the files use: the byte-level token string and its id.
  using VocabEntry = tokenize::detail::vocab_entry;
  /// One merge rule "left right" in byte-level form; rank = position in the list.
  using MergeEntry = tokenize::detail::merge_entry;

  /// Builds a tokenizer from in-memory vocabulary and merges (byte-level strings, as in
  /// vocab.json / merges.txt). Every byte needs its single-byte token; both sides of each merge and
  /// their concatenation must be in the vocabulary. Throws rltf::invalid_argument otherwise.
  Gpt2Tokenizer(const std::vector<VocabEntry>& vocab, const std::vector<MergeEntry>& merges,
                const Gpt2TokenizerOptions& options = {})
      : Gpt2Tokenizer(vocab, merges, {}, options, {}, {}) {}

  /// Loads whichever of these `dir` holds, in this order: tokenizer.json; vocab.json + merges.txt;
  /// encoder.json + vocab.bpe. Throws rltf::io_error when none is there (or half a pair), and
  /// rltf::parse_error (file, line, field) when a file is malformed.
  [[nodiscard]] static Gpt2Tokenizer from_directory(const std::filesystem::path& dir,
                                                    const Gpt2TokenizerOptions& options = {}) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw io_error("Gpt2Tokenizer: '" + dir.string() + "' is not a directory");
    if (fs::exists(dir / "tokenizer.json")) return from_tokenizer_json(dir / "tokenizer.json", options);
    for (const auto& [vocab, merges] :
         {std::pair{"vocab.json", "merges.txt"}, std::pair{"encoder.json", "vocab.bpe"}}) {
      const bool has_vocab = fs::exists(dir / vocab);
      const bool has_merges = fs::exists(dir / merges);
      if (has_vocab && has_merges) return from_files(dir / vocab, dir / merges, options);
      if (has_vocab != has_merges)
        throw io_error("Gpt2Tokenizer: '" + dir.string() + "' has " + (has_vocab ? vocab : merges) + " but not " +
                       (has_vocab ? merges : vocab));
    }
    throw io_error("Gpt2Tokenizer: '" + dir.string() +
                   "' holds no tokenizer: expected tokenizer.json, vocab.json + merges.txt, or encoder.json + "
                   "vocab.bpe");
  }

  /// Loads vocab.json + merges.txt (or encoder.json + vocab.bpe).
  [[nodiscard]] static Gpt2Tokenizer from_files(const std::filesystem::path& vocab_json,
                                                const std::filesystem::path& merges_txt,
                                                const Gpt2TokenizerOptions& options = {}) {
    const std::string vocab_file = vocab_json.string();
    const std::string merges_file = merges_txt.string();
    const auto vocab = tokenize::detail::read_vocab_object(
        tokenize::detail::parse_json(tokenize::detail::read_file(vocab_json), vocab_file), vocab_file, "");
    const auto merges = tokenize::detail::read_merges_text(tokenize::detail::read_file(merges_txt), merges_file);
    return Gpt2Tokenizer(vocab, merges, {}, options, vocab_file, merges_file);
  }

  /// Loads a Hugging Face tokenizer.json describing a byte-level BPE (GPT-2 and its family).
  [[nodiscard]] static Gpt2Tokenizer from_tokenizer_json(const std::filesystem::path& path,
                                                         const Gpt2TokenizerOptions& options = {}) {
    const std::string file = path.string();
    auto contents = tokenize::detail::read_tokenizer_json(tokenize::detail::read_file(path), file);
    std::vector<VocabEntry> added = std::move(contents.special);
    added.insert(added.end(), contents.added.begin(), contents.added.end());
    return Gpt2Tokenizer(contents.vocab, contents.merges, added, options, file, file);
  }

  /// The ids of `text`, without special-token matching (the concept's encode).
  [[nodiscard]] std::vector<token_id> encode(std::string_view text) const {
    std::vector<token_id> out;
    out.reserve(text.size() / 3 + 1);
    encode_ordinary(text, out);
    return out;
  }

  /// The ids of `text`, treating special-token text as `mode` says.
  [[nodiscard]] std::vector<token_id> encode(std::string_view text, SpecialTokens mode) const {
    std::vector<token_id> out;
    out.reserve(text.size() / 3 + 1);
    if (mode == SpecialTokens::ordinary || model_->specials.empty()) {
      encode_ordinary(text, out);
      return out;
    }
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t best = std::string_view::npos;
      const special* match = nullptr;
      for (const auto& s : model_->specials) {
        const std::size_t at = text.find(s.text, pos);
        if (at == std::string_view::npos) continue;
        if (at < best || (at == best && s.text.size() > match->text.size())) best = at, match = &s;
      }
      if (match == nullptr) break;
      if (mode == SpecialTokens::disallowed)
        throw invalid_argument("Gpt2Tokenizer::encode: the text contains the special token '" + match->text +
                               "' at byte " + std::to_string(best) +
                               "; pass SpecialTokens::allowed to encode it as one token or SpecialTokens::ordinary "
                               "to encode it as text");
      encode_ordinary(text.substr(pos, best - pos), out);
      out.push_back(match->id);
      pos = best + match->text.size();
    }
    encode_ordinary(text.substr(pos), out);
    return out;
  }

  /// The bytes the ids stand for, concatenated (special tokens give their text). The result is
  /// raw bytes: a prefix of a multi-byte character decodes to its bytes, not to U+FFFD.
  /// Throws rltf::invalid_argument for an id outside the vocabulary.
  [[nodiscard]] std::string decode(std::span<const token_id> ids) const {
    return tokenize::detail::decode_pieces(ids, [this](token_id id) { return token_bytes(id); });
  }

  /// The byte range of decode(ids) each id produced; the ranges tile the decoded text.
  [[nodiscard]] TokenOffsets offsets(std::span<const token_id> ids) const {
    return tokenize::detail::piece_offsets(ids, [this](token_id id) { return token_bytes(id); });
  }

  /// One more than the largest id.
  [[nodiscard]] std::size_t vocab_size() const noexcept { return model_->bytes.size(); }
  /// The end-of-text id (50256 for GPT-2).
  [[nodiscard]] token_id eos_id() const noexcept { return model_->eos; }
  /// The padding id (the eos id unless Gpt2TokenizerOptions::pad_token says otherwise).
  [[nodiscard]] token_id pad_id() const noexcept { return model_->pad; }
  /// Number of merge rules.
  [[nodiscard]] std::size_t merge_count() const noexcept { return model_->pairs.size(); }

  /// The raw bytes of token `id`. Throws rltf::invalid_argument for an id outside the vocabulary.
  [[nodiscard]] std::string_view token_bytes(token_id id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= model_->bytes.size() ||
        !model_->present[static_cast<std::size_t>(id)])
      throw invalid_argument("Gpt2Tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (size " +
                             std::to_string(model_->bytes.size()) + ")");
    return model_->bytes[static_cast<std::size_t>(id)];
  }

  /// Token `id` as vocab.json writes it (byte-level characters, e.g. "Ġworld"; special tokens as is).
  [[nodiscard]] std::string token_string(token_id id) const {
    const std::string_view bytes = token_bytes(id);
    if (is_special(id)) return std::string(bytes);
    return tokenize::detail::byte_level_encode(bytes);
  }

  /// The id of a token given as vocab.json writes it, if any.
  [[nodiscard]] std::optional<token_id> find(std::string_view token) const {
    const auto it = model_->by_string.find(std::string(token));
    if (it == model_->by_string.end()) return std::nullopt;
    return it->second;
  }

  /// The id of the special token whose text is `text`, if any.
  [[nodiscard]] std::optional<token_id> special_id(std::string_view text) const {
    for (const auto& s : model_->specials)
      if (s.text == text) return s.id;
    return std::nullopt;
  }

  /// True when `id` is a special token.
  [[nodiscard]] bool is_special(token_id id) const {
    return std::any_of(model_->specials.begin(), model_->specials.end(), [&](const special& s) { return s.id == id; });
  }

  /// Number of pre-tokens currently cached (for tests and tuning).
  [[nodiscard]] std::size_t cache_size() const { return cache_->size(); }

private:
  struct special {
    std::string text;
    token_id id;
  };
  struct model {
    std::vector<std::string> bytes; ///< id → raw bytes
    std::vector<bool> present;      ///< id → in the vocabulary
    std::unordered_map<std::string, token_id> by_string;
    std::array<token_id, 256> byte_ids{};
    tokenize::detail::pair_table pairs;
    std::vector<special> specials;
    token_id eos = 0;
    token_id pad = 0;
  };

  Gpt2Tokenizer(const std::vector<VocabEntry>& vocab, const std::vector<MergeEntry>& merges,
                const std::vector<VocabEntry>& added, const Gpt2TokenizerOptions& options,
                const std::string& vocab_file, const std::string& merges_file)
      : model_(build(vocab, merges, added, options, vocab_file, merges_file)),
        cache_(std::make_shared<tokenize::detail::bpe_cache>(options.cache_capacity)) {}

  [[noreturn]] static void fail(const std::string& file, std::size_t line, const std::string& field,
                                const std::string& what) {
    if (file.empty()) throw invalid_argument("Gpt2Tokenizer: " + (field.empty() ? "" : field + ": ") + what);
    throw parse_error(file, line, field, what);
  }

  static std::shared_ptr<const model> build(const std::vector<VocabEntry>& vocab, const std::vector<MergeEntry>& merges,
                                            const std::vector<VocabEntry>& added, const Gpt2TokenizerOptions& options,
                                            const std::string& vocab_file, const std::string& merges_file) {
    auto m = std::make_shared<model>();
    // Which entries are special: the options' list and the added tokens.
    std::vector<std::string> special_texts = options.special_tokens;
    for (const auto& a : added) special_texts.push_back(a.token);
    const auto is_special_text = [&](const std::string& s) {
      return std::find(special_texts.begin(), special_texts.end(), s) != special_texts.end();
    };

    std::size_t size = 0;
    for (const auto& e : vocab) size = std::max(size, static_cast<std::size_t>(e.id) + 1);
    for (const auto& e : added) size = std::max(size, static_cast<std::size_t>(e.id) + 1);
    // Ids index tables: an id far beyond the entries (a corrupt file) must not allocate gigabytes.
    if (const std::size_t entries = vocab.size() + added.size(); size > 2 * entries + 1024)
      fail(vocab_file, 0, "",
           "token id " + std::to_string(size - 1) + " is far beyond the " + std::to_string(entries) +
               " entries of the vocabulary (ids must be dense)");
    m->bytes.assign(size, {});
    m->present.assign(size, false);
    std::unordered_map<std::string, token_id> by_bytes; // raw bytes of ordinary tokens → id
    by_bytes.reserve(vocab.size());
    m->by_string.reserve(vocab.size() + added.size());
    std::string raw;
    const auto add = [&](const VocabEntry& e, const std::string& file, const std::string& field_prefix) {
      const auto id = static_cast<std::size_t>(e.id);
      const std::string field = field_prefix.empty() ? e.token : field_prefix + "[\"" + e.token + "\"]";
      if (m->present[id]) {
        if (m->by_string.contains(e.token) && m->by_string.at(e.token) == e.id) return; // same entry twice
        fail(file, 0, field, "id " + std::to_string(e.id) + " is already used by another token");
      }
      if (is_special_text(e.token)) {
        m->bytes[id] = e.token;
        m->specials.push_back({e.token, e.id});
      } else {
        if (!tokenize::detail::byte_level_decode(e.token, raw))
          fail(file, 0, field,
               "'" + e.token +
                   "' is not a byte-level token (GPT-2 vocabularies write bytes as "
                   "the characters of bytes_to_unicode())");
        if (!by_bytes.try_emplace(raw, e.id).second)
          fail(file, 0, field,
               "two tokens stand for the same bytes (ids " + std::to_string(by_bytes.at(raw)) + " and " +
                   std::to_string(e.id) + ")");
        m->bytes[id] = raw;
      }
      m->present[id] = true;
      m->by_string.emplace(e.token, e.id);
    };
    for (const auto& e : vocab)
      add(e, vocab_file, vocab_file.empty() || vocab_file != merges_file ? "" : "model.vocab");
    for (const auto& e : added) add(e, vocab_file, "added_tokens");

    for (unsigned b = 0; b < 256; ++b) {
      const auto it = by_bytes.find(std::string(1, static_cast<char>(b)));
      if (it == by_bytes.end())
        fail(vocab_file, 0, tokenize::detail::byte_level_encode(std::string(1, static_cast<char>(b))),
             "the vocabulary lacks the single-byte token of byte " + std::to_string(b) +
                 " (byte-level BPE needs all 256)");
      m->byte_ids[b] = it->second;
    }

    m->pairs.reserve(merges.size());
    std::string left_raw;
    std::string right_raw;
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const auto& mg = merges[rank];
      const std::string field =
          merges_file == vocab_file && !merges_file.empty() ? "model.merges[" + std::to_string(rank) + "]" : "merge";
      const std::string rule = "'" + mg.left + " " + mg.right + "'";
      if (!tokenize::detail::byte_level_decode(mg.left, left_raw) ||
          !tokenize::detail::byte_level_decode(mg.right, right_raw))
        fail(merges_file, mg.line, field, "merge " + rule + " is not written in byte-level characters");
      const auto l = by_bytes.find(left_raw);
      const auto r = by_bytes.find(right_raw);
      const auto merged = by_bytes.find(left_raw + right_raw);
      if (l == by_bytes.end())
        fail(merges_file, mg.line, field, "merge " + rule + ": '" + mg.left + "' is not in the vocabulary");
      if (r == by_bytes.end())
        fail(merges_file, mg.line, field, "merge " + rule + ": '" + mg.right + "' is not in the vocabulary");
      if (merged == by_bytes.end())
        fail(merges_file, mg.line, field,
             "merge " + rule + ": the merged token '" + mg.left + mg.right + "' is not in the vocabulary");
      if (!m->pairs.insert(l->second, r->second, {static_cast<std::int32_t>(rank), merged->second}))
        fail(merges_file, mg.line, field, "merge " + rule + " appears twice");
    }

    const auto lookup = [&](const std::string& token, const char* what) -> token_id {
      if (const auto it = m->by_string.find(token); it != m->by_string.end()) return it->second;
      fail(vocab_file, 0, what, "'" + token + "' is not in the vocabulary; set Gpt2TokenizerOptions::" + what);
    };
    m->eos = lookup(options.eos_token, "eos_token");
    m->pad = options.pad_token.empty() ? m->eos : lookup(options.pad_token, "pad_token");
    return m;
  }

  void encode_ordinary(std::string_view text, std::vector<token_id>& out) const {
    thread_local tokenize::detail::bpe_scratch scratch;
    const model& m = *model_;
    tokenize::detail::bpe_cache& cache = *cache_;
    tokenize::detail::gpt2_pretokenize(text, [&](std::size_t begin, std::size_t end) {
      const std::string_view word = text.substr(begin, end - begin);
      if (word.size() == 1) {
        out.push_back(m.byte_ids[static_cast<unsigned char>(word[0])]);
        return;
      }
      if (cache.lookup(word, out)) return;
      const std::size_t start = out.size();
      tokenize::detail::bpe_encode_word(word, m.byte_ids, m.pairs, scratch, out);
      cache.insert(word, std::span<const token_id>(out).subspan(start));
    });
  }

  std::shared_ptr<const model> model_;
  std::shared_ptr<tokenize::detail::bpe_cache> cache_;
};

static_assert(Tokenizer<Gpt2Tokenizer>);

} // namespace rltf

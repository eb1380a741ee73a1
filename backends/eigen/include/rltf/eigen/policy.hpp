#pragma once
/// \file
/// rltf::EigenPolicy — a small language model on Eigen with analytic gradients, so that the
/// whole RLTF loop (sample, execute, reward, learn, checkpoint) runs and is tested without
/// LibTorch. It models rltf::Policy and rltf::TrainablePolicy over any rltf::Tokenizer.
///
/// The model: a next-token softmax whose logits are a linear function of a hidden layer fed by
/// the embeddings of the previous `context` tokens and by an embedding of the prompt,
///
///     u      = (1/n) Σ_i U[p_i] + (1/(n−1)) Σ_i U[V + hash(p_i, p_{i+1}) mod buckets]
///     h_t    = tanh(b + u + Σ_{j<context} E_j[x_{t−1−j}])
///     logits = W h_t + c,      log π(x_t | x_<t, prompt) = log_softmax(logits)[x_t]
///     V_t    = w_v · h_t + c_v  (with EigenPolicyOptions::value_head: PPO's critic, zero at first)
///
/// where p is the prompt's tokens (unigrams and hashed bigrams, so "plus 37" differs from
/// "plus 73") and x the prompt followed by the completion (positions before the start use a
/// "no token" embedding). Gradients are back-propagated by hand and checked against finite
/// differences (tests/train/eigen_policy.cpp); the optimiser is AdamW over one flat parameter
/// vector. Everything is single-threaded and deterministic: the same seed gives the same
/// samples and the same parameters after the same updates, bit for bit.
///
/// \code
/// rltf::EigenPolicy policy{rltf::CharTokenizer("abc\n "), {.context = 6, .hidden = 32, .seed = 1}};
/// auto rng = rltf::make_rng(1);
/// std::vector<std::string> prompts{"ab"};
/// auto samples = policy.generate(prompts, {.max_new_tokens = 8, .num_samples = 4}, rng);
/// \endcode

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/detail/random.hpp"
#include "rltf/eigen/backend.hpp"
#include "rltf/tokenize/tokenizer.hpp"
#include "rltf/train/trainable_policy.hpp"
#include "rltf/train/value_policy.hpp"

namespace rltf {

/// Shape and initialisation of an EigenPolicy.
struct EigenPolicyOptions {
  std::size_t context = 8;           ///< previous tokens the model sees (≥ 1)
  std::size_t hidden = 64;           ///< width of the hidden layer (≥ 1)
  std::size_t prompt_buckets = 1024; ///< hashed prompt-bigram embeddings (≥ 1)
  float init_scale = 1.0F;           ///< scale of the random initial weights
  std::uint64_t seed = 1;            ///< seeds the initial weights
  /// A value head V_t = w_v·h_t + c_v on the shared hidden layer (rltf::ValuePolicy, for PPO),
  /// initialised to zero; its gradients reach the shared layers too.
  bool value_head = false;
};

/// A small context-window language model on Eigen; see the file comment. `B` is the backend of
/// the tensors log_probs returns and backward takes (any rltf::Backend; the computation itself
/// is Eigen on the host).
template <Tokenizer Tok, Backend B = EigenBackend>
class EigenPolicy {
public:
  using backend = B;
  using tokenizer_type = Tok;

  /// A freshly initialised model over `tokenizer`. Throws rltf::invalid_argument for a zero
  /// context, hidden width or bucket count.
  explicit EigenPolicy(Tok tokenizer, EigenPolicyOptions options = {}) : tok_(std::move(tokenizer)), options_(options) {
    if (options_.context == 0 || options_.hidden == 0 || options_.prompt_buckets == 0)
      throw invalid_argument("EigenPolicy: context, hidden and prompt_buckets must be at least 1");
    V_ = static_cast<std::size_t>(tok_.vocab_size());
    if (V_ == 0) throw invalid_argument("EigenPolicy: the tokenizer has an empty vocabulary");
    layout();
    initialise();
  }

  /// The tokenizer.
  [[nodiscard]] const Tok& tokenizer() const noexcept { return tok_; }
  /// The options the model was built (or last loaded) with.
  [[nodiscard]] const EigenPolicyOptions& options() const noexcept { return options_; }
  /// Number of parameters.
  [[nodiscard]] std::size_t num_parameters() const noexcept { return static_cast<std::size_t>(theta_.size()); }
  /// The flat parameter vector (read and write, e.g. for finite-difference tests).
  [[nodiscard]] std::span<float> parameters() noexcept { return {theta_.data(), num_parameters()}; }
  [[nodiscard]] std::span<const float> parameters() const noexcept { return {theta_.data(), num_parameters()}; }
  /// The accumulated gradient, aligned with parameters().
  [[nodiscard]] std::span<const float> gradient() const noexcept { return {grad_.data(), num_parameters()}; }
  /// Optimiser steps taken.
  [[nodiscard]] std::uint64_t optimizer_steps() const noexcept { return adam_t_; }

  /// Samples `cfg.num_samples` completions per prompt (prompt-major). Generation stops at the
  /// tokenizer's eos (kept as the completion's last token, so its probability is learned; it
  /// decodes to nothing in `text`), after a stop string, or at `max_new_tokens` (then
  /// `truncated`). `logprobs` are the model's own log π(token) (temperature 1, before top-k/top-p
  /// filtering), equal to what log_probs() returns for the sample.
  [[nodiscard]] std::vector<Sample> generate(std::span<const std::string> prompts, const SamplingConfig& cfg,
                                             Rng& rng) const {
    if (!cfg.greedy && cfg.temperature < 0.0F) throw invalid_argument("EigenPolicy::generate: temperature < 0");
    if (!(cfg.top_p > 0.0F && cfg.top_p <= 1.0F)) throw invalid_argument("EigenPolicy::generate: top_p not in (0, 1]");
    std::vector<Sample> out;
    out.reserve(prompts.size() * cfg.num_samples);
    Eigen::VectorXf h(static_cast<Eigen::Index>(options_.hidden));
    Eigen::VectorXf z(static_cast<Eigen::Index>(V_));
    const auto eos = static_cast<token_id>(tok_.eos_id());
    for (std::size_t pi = 0; pi < prompts.size(); ++pi) {
      const std::vector<token_id> prompt_tokens = tok_.encode(prompts[pi]);
      check_tokens(prompt_tokens, "prompt");
      const Eigen::VectorXf u = prompt_embedding(prompt_tokens);
      for (std::size_t s = 0; s < cfg.num_samples; ++s) {
        Sample sample;
        sample.problem = pi;
        sample.prompt = prompts[pi];
        sample.prompt_tokens = prompt_tokens;
        sample.greedy = cfg.greedy;
        std::vector<token_id> seq = prompt_tokens;
        std::string text;
        bool stopped = false;
        while (sample.tokens.size() < cfg.max_new_tokens) {
          forward_position(seq, seq.size(), u, h, z);
          const float lse = log_sum_exp(z);
          const auto next = static_cast<token_id>(choose(z, cfg, rng));
          sample.tokens.push_back(next);
          sample.logprobs.push_back(z(next) - lse);
          seq.push_back(next);
          if (next == eos) {
            stopped = true;
            break;
          }
          const token_id one[1] = {next};
          const std::size_t before = text.size();
          text += tok_.decode(std::span<const token_id>(one, 1));
          if (hits_stop(text, before, cfg.stop)) {
            stopped = true;
            break;
          }
        }
        sample.truncated = !stopped;
        std::span<const token_id> visible(sample.tokens);
        if (!visible.empty() && visible.back() == eos) visible = visible.first(visible.size() - 1);
        sample.text = tok_.decode(visible);
        out.push_back(std::move(sample));
      }
    }
    return out;
  }

  /// log π(token_t | prompt, tokens_<t) for each sample's completion tokens: [N, T_max], 0 past
  /// a completion's end. Uses `prompt_tokens`, or encodes `prompt` when they are empty.
  [[nodiscard]] typename B::tensor log_probs(std::span<const Sample> samples) const {
    return forward_all(samples, true, false).log_probs;
  }

  /// Whether the model has a value head (EigenPolicyOptions::value_head).
  [[nodiscard]] bool has_value_head() const noexcept { return options_.value_head; }

  /// The value head's V_t of the state before each completion token: [N, T_max], 0 past a
  /// completion's end. Throws rltf::invalid_argument without a value head.
  [[nodiscard]] typename B::tensor values(std::span<const Sample> samples) const {
    require_value_head("values");
    return forward_all(samples, false, true).values;
  }

  /// log π and V of a batch in one pass over the hidden states (rltf::log_probs_and_values).
  [[nodiscard]] PolicyValues<typename B::tensor> log_probs_and_values(std::span<const Sample> samples) const {
    require_value_head("log_probs_and_values");
    return forward_all(samples, true, true);
  }

  /// Clears the accumulated gradient.
  void zero_grad() { grad_.setZero(); }

  /// Adds Σ_it g_it ∂ log π(w_it)/∂θ to the gradient; `grad` has log_probs(samples)'s shape.
  /// Throws rltf::shape_error otherwise.
  void backward(std::span<const Sample> samples, const typename B::tensor& grad) {
    accumulate("EigenPolicy::backward", samples, &grad, nullptr);
  }

  /// Adds Σ_it g_it ∂V_it/∂θ to the gradient (the value head and the shared layers); `grad` has
  /// values(samples)'s shape. Throws rltf::invalid_argument without a value head.
  void backward_values(std::span<const Sample> samples, const typename B::tensor& grad) {
    require_value_head("backward_values");
    accumulate("EigenPolicy::backward_values", samples, nullptr, &grad);
  }

  /// Both gradients in one pass (rltf::backward_with_values).
  void backward(std::span<const Sample> samples, const PolicyValues<typename B::tensor>&,
                const typename B::tensor& grad_logp, const typename B::tensor& grad_values) {
    require_value_head("backward");
    accumulate("EigenPolicy::backward", samples, &grad_logp, &grad_values);
  }

private:
  /// Adds the gradients of Σ g_logp·log π + Σ g_values·V (either may be null).
  void accumulate(const char* op, std::span<const Sample> samples, const typename B::tensor* grad_logp,
                  const typename B::tensor* grad_values) {
    const std::size_t t_max = max_tokens(samples);
    const Shape expected{static_cast<std::int64_t>(samples.size()), static_cast<std::int64_t>(t_max)};
    std::vector<float> g, gv;
    if (grad_logp) {
      detail::require_same_shape(op, B::shape(*grad_logp), expected, "grad", "log_probs");
      g = B::values(*grad_logp);
    }
    if (grad_values) {
      detail::require_same_shape(op, B::shape(*grad_values), expected, "grad", "values");
      gv = B::values(*grad_values);
    }
    const auto H = static_cast<Eigen::Index>(options_.hidden);
    Eigen::VectorXf h(H), z(static_cast<Eigen::Index>(V_)), a_grad(H), u_grad(H);
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto seq = sequence(samples[i]);
      const std::size_t n = seq.size() - samples[i].tokens.size();
      const std::span<const token_id> prompt(seq.data(), n);
      const Eigen::VectorXf u = prompt_embedding(prompt);
      u_grad.setZero();
      for (std::size_t t = 0; t < samples[i].tokens.size(); ++t) {
        const float gt = grad_logp ? g[i * t_max + t] : 0.0F;
        const float gvt = grad_values ? gv[i * t_max + t] : 0.0F;
        if (gt == 0.0F && gvt == 0.0F) continue;
        a_grad.setZero();
        if (gt != 0.0F) {
          forward_position(seq, n + t, u, h, z);
          // d log π(y)/d logits = onehot(y) − softmax(logits).
          const float lse = log_sum_exp(z);
          Eigen::VectorXf dz = -(z.array() - lse).exp().matrix() * gt;
          dz(seq[n + t]) += gt;
          auto W = mat(off_W_, V_, options_.hidden);
          auto dW = gmat(off_W_, V_, options_.hidden);
          dW.noalias() += dz * h.transpose();
          gvec(off_c_, V_) += dz;
          a_grad.noalias() = W.transpose() * dz;
        } else {
          hidden_at(seq, n + t, u, h);
        }
        if (gvt != 0.0F) {
          // dV/dh = w_v; dV/dw_v = h; dV/dc_v = 1.
          gvec(off_vw_, options_.hidden) += gvt * h;
          grad_(static_cast<Eigen::Index>(off_vc_)) += gvt;
          a_grad += gvt * vec(off_vw_, options_.hidden);
        }
        a_grad.array() *= (1.0F - h.array().square());
        gvec(off_b_, options_.hidden) += a_grad;
        u_grad += a_grad;
        for (std::size_t j = 0; j < options_.context; ++j) {
          const std::size_t row = j * (V_ + 1) + context_token(seq, n + t, j);
          grow(off_E_, row) += a_grad.transpose();
        }
      }
      for (const auto& [row, coef] : prompt_features(prompt)) grow(off_U_, row) += coef * u_grad.transpose();
    }
  }

  /// log π (when `logp`) and V (when `value`) of every completion token, [N, T_max] each (an
  /// empty tensor for what was not asked).
  [[nodiscard]] PolicyValues<typename B::tensor> forward_all(std::span<const Sample> samples, bool logp,
                                                             bool value) const {
    const std::size_t t_max = max_tokens(samples);
    std::vector<float> lp(logp ? samples.size() * t_max : 0, 0.0F), val(value ? samples.size() * t_max : 0, 0.0F);
    Eigen::VectorXf h(static_cast<Eigen::Index>(options_.hidden));
    Eigen::VectorXf z(static_cast<Eigen::Index>(V_));
    for (std::size_t i = 0; i < samples.size(); ++i) {
      const auto seq = sequence(samples[i]);
      const std::size_t n = seq.size() - samples[i].tokens.size();
      const Eigen::VectorXf u = prompt_embedding(std::span<const token_id>(seq.data(), n));
      for (std::size_t t = 0; t < samples[i].tokens.size(); ++t) {
        if (logp) {
          forward_position(seq, n + t, u, h, z);
          lp[i * t_max + t] = z(seq[n + t]) - log_sum_exp(z);
        } else {
          hidden_at(seq, n + t, u, h);
        }
        if (value) val[i * t_max + t] = value_of(h);
      }
    }
    const Shape shape{static_cast<std::int64_t>(samples.size()), static_cast<std::int64_t>(t_max)};
    PolicyValues<typename B::tensor> out;
    if (logp) out.log_probs = B::from_values(lp, shape);
    if (value) out.values = B::from_values(val, shape);
    return out;
  }

  void require_value_head(const char* op) const {
    if (!options_.value_head)
      throw invalid_argument(std::string("EigenPolicy::") + op +
                             ": the policy has no value head (build it with EigenPolicyOptions::value_head = true)");
  }

  [[nodiscard]] float value_of(const Eigen::VectorXf& h) const {
    return vec(off_vw_, options_.hidden).dot(h) + theta_(static_cast<Eigen::Index>(off_vc_));
  }

public:
  /// One AdamW step; returns the gradient's global norm before clipping. Throws
  /// rltf::invalid_argument for a negative learning rate or betas outside [0, 1).
  float step(const OptimizerOptions& opt) {
    if (opt.lr < 0.0F || !(opt.beta1 >= 0.0F && opt.beta1 < 1.0F) || !(opt.beta2 >= 0.0F && opt.beta2 < 1.0F))
      throw invalid_argument("EigenPolicy::step: lr must be ≥ 0 and betas in [0, 1)");
    const float norm = grad_.norm();
    if (opt.max_grad_norm > 0.0F && norm > opt.max_grad_norm) grad_ *= opt.max_grad_norm / (norm + 1e-6F);
    ++adam_t_;
    m_ = opt.beta1 * m_ + (1.0F - opt.beta1) * grad_;
    v_ = opt.beta2 * v_ + (1.0F - opt.beta2) * grad_.cwiseAbs2();
    const auto c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(opt.beta1), static_cast<double>(adam_t_)));
    const auto c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(opt.beta2), static_cast<double>(adam_t_)));
    if (opt.weight_decay != 0.0F) theta_ *= 1.0F - opt.lr * opt.weight_decay;
    theta_.array() -= opt.lr * (m_.array() / c1) / ((v_.array() / c2).sqrt() + opt.eps);
    return norm;
  }

  /// Forgets the optimiser's state: zero moments, step count 0 (the parameters stay).
  void reset_optimizer() {
    m_.setZero();
    v_.setZero();
    adam_t_ = 0;
  }

  /// Writes parameters, optimiser state and options to `dir/eigen_policy.bin` (through a
  /// temporary file and a rename, so a reader never sees half a file). `dir` must exist.
  void save_checkpoint(const std::filesystem::path& dir) const {
    const auto path = dir / "eigen_policy.bin";
    {
      rltf::detail::AtomicFile f(path); // replaces `path` whole on commit(), fsynced
      nlohmann::json header{{"format", "rltf.eigen_policy"},
                            {"version", 1},
                            {"context", options_.context},
                            {"hidden", options_.hidden},
                            {"prompt_buckets", options_.prompt_buckets},
                            {"init_scale", options_.init_scale},
                            {"seed", options_.seed},
                            {"value_head", options_.value_head},
                            {"vocab_size", V_},
                            {"parameters", num_parameters()},
                            {"adam_steps", adam_t_}};
      const std::string h = header.dump();
      f.write(magic, sizeof magic);
      write_u64(f, h.size());
      f.write(h.data(), static_cast<std::streamsize>(h.size()));
      for (const Eigen::VectorXf* v : {&theta_, &m_, &v_})
        f.write(reinterpret_cast<const char*>(v->data()), static_cast<std::streamsize>(v->size() * sizeof(float)));
      f.commit();
    }
  }

  /// Restores what save_checkpoint wrote (the options included). Throws rltf::io_error when the
  /// file cannot be read and rltf::parse_error when it is malformed or made for another vocabulary.
  void load_checkpoint(const std::filesystem::path& dir) {
    const auto path = dir / "eigen_policy.bin";
    const std::string file = path.string();
    std::ifstream f(path, std::ios::binary);
    if (!f) throw io_error("EigenPolicy::load_checkpoint: cannot open " + file);
    char m[sizeof magic];
    if (!f.read(m, sizeof m) || std::memcmp(m, magic, sizeof magic) != 0)
      throw parse_error(file, 0, "magic", "not an rltf Eigen policy checkpoint");
    std::uint64_t hlen = 0;
    if (!read_u64(f, hlen) || hlen > (1U << 20)) throw parse_error(file, 0, "header", "bad header length");
    std::string h(hlen, '\0');
    if (!f.read(h.data(), static_cast<std::streamsize>(hlen))) throw parse_error(file, 0, "header", "truncated");
    EigenPolicyOptions o;
    std::uint64_t steps = 0;
    std::size_t params = 0;
    try {
      const auto j = nlohmann::json::parse(h);
      if (j.at("format") != "rltf.eigen_policy" || j.at("version") != 1)
        throw parse_error(file, 0, "format", "unsupported format or version");
      o.context = j.at("context").get<std::size_t>();
      o.hidden = j.at("hidden").get<std::size_t>();
      o.prompt_buckets = j.at("prompt_buckets").get<std::size_t>();
      o.init_scale = j.at("init_scale").get<float>();
      o.seed = j.at("seed").get<std::uint64_t>();
      o.value_head = j.value("value_head", false); // checkpoints before value heads have none
      if (j.at("vocab_size").get<std::size_t>() != V_)
        throw parse_error(file, 0, "vocab_size",
                          "checkpoint has vocabulary " + j.at("vocab_size").dump() + " but the tokenizer has " +
                              std::to_string(V_));
      params = j.at("parameters").get<std::size_t>();
      steps = j.at("adam_steps").get<std::uint64_t>();
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(file, 0, "header", e.what());
    }
    if (o.context == 0 || o.hidden == 0 || o.prompt_buckets == 0)
      throw parse_error(file, 0, "context", "context, hidden and prompt_buckets must be at least 1");
    EigenPolicy copy = *this;
    copy.options_ = o;
    copy.layout();
    if (copy.num_parameters() != params)
      throw parse_error(file, 0, "parameters", "count does not match the options in the header");
    for (Eigen::VectorXf* v : {&copy.theta_, &copy.m_, &copy.v_})
      if (!f.read(reinterpret_cast<char*>(v->data()), static_cast<std::streamsize>(v->size() * sizeof(float))))
        throw parse_error(file, 0, "data", "truncated tensor data");
    if (f.peek() != std::char_traits<char>::eof()) throw parse_error(file, 0, "data", "trailing bytes");
    copy.adam_t_ = steps;
    copy.grad_.setZero();
    *this = std::move(copy);
  }

private:
  static constexpr char magic[8] = {'R', 'L', 'T', 'F', 'E', 'I', 'G', 'P'};
  static_assert(std::endian::native == std::endian::little, "EigenPolicy checkpoints assume a little-endian host");

  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  static void write_u64(std::ostream& f, std::uint64_t v) { f.write(reinterpret_cast<const char*>(&v), sizeof v); }
  static bool read_u64(std::istream& f, std::uint64_t& v) {
    return static_cast<bool>(f.read(reinterpret_cast<char*>(&v), sizeof v));
  }

  void layout() {
    const std::size_t H = options_.hidden;
    off_E_ = 0;
    off_U_ = off_E_ + options_.context * (V_ + 1) * H;
    off_b_ = off_U_ + (V_ + options_.prompt_buckets) * H;
    off_W_ = off_b_ + H;
    off_c_ = off_W_ + V_ * H;
    off_vw_ = off_c_ + V_;
    off_vc_ = off_vw_ + H;
    const auto total = static_cast<Eigen::Index>(options_.value_head ? off_vc_ + 1 : off_c_ + V_);
    theta_ = Eigen::VectorXf::Zero(total);
    grad_ = Eigen::VectorXf::Zero(total);
    m_ = Eigen::VectorXf::Zero(total);
    v_ = Eigen::VectorXf::Zero(total);
    adam_t_ = 0;
  }

  void initialise() {
    Rng rng = make_rng(options_.seed);
    const auto H = static_cast<double>(options_.hidden);
    const double emb = options_.init_scale / std::sqrt(static_cast<double>(options_.context + 1));
    const double out = options_.init_scale / std::sqrt(H);
    for (std::size_t k = off_E_; k < off_b_; ++k)
      theta_(static_cast<Eigen::Index>(k)) = static_cast<float>(emb * detail::normal(rng));
    for (std::size_t k = off_W_; k < off_c_; ++k)
      theta_(static_cast<Eigen::Index>(k)) = static_cast<float>(out * detail::normal(rng));
  }

  [[nodiscard]] Eigen::Map<const RowMat> mat(std::size_t off, std::size_t rows, std::size_t cols) const {
    return {theta_.data() + off, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols)};
  }
  [[nodiscard]] Eigen::Map<RowMat> gmat(std::size_t off, std::size_t rows, std::size_t cols) {
    return {grad_.data() + off, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols)};
  }
  [[nodiscard]] Eigen::Map<const Eigen::VectorXf> vec(std::size_t off, std::size_t n) const {
    return {theta_.data() + off, static_cast<Eigen::Index>(n)};
  }
  [[nodiscard]] Eigen::Map<Eigen::VectorXf> gvec(std::size_t off, std::size_t n) {
    return {grad_.data() + off, static_cast<Eigen::Index>(n)};
  }
  /// Row `row` (length hidden) of the table at `off`, as a row vector.
  [[nodiscard]] Eigen::Map<const Eigen::RowVectorXf> row(std::size_t off, std::size_t r) const {
    return {theta_.data() + off + r * options_.hidden, static_cast<Eigen::Index>(options_.hidden)};
  }
  [[nodiscard]] Eigen::Map<Eigen::RowVectorXf> grow(std::size_t off, std::size_t r) {
    return {grad_.data() + off + r * options_.hidden, static_cast<Eigen::Index>(options_.hidden)};
  }

  void check_tokens(std::span<const token_id> ids, const char* what) const {
    for (const token_id id : ids)
      if (id < 0 || static_cast<std::size_t>(id) >= V_)
        throw invalid_argument(std::string("EigenPolicy: ") + what + " token " + std::to_string(id) +
                               " is outside the vocabulary of " + std::to_string(V_));
  }

  /// The prompt's features: (row of U, coefficient) pairs.
  [[nodiscard]] std::vector<std::pair<std::size_t, float>> prompt_features(std::span<const token_id> p) const {
    std::vector<std::pair<std::size_t, float>> f;
    if (p.empty()) return f;
    const float uni = 1.0F / static_cast<float>(p.size());
    for (const token_id t : p) f.emplace_back(static_cast<std::size_t>(t), uni);
    if (p.size() >= 2) {
      const float bi = 1.0F / static_cast<float>(p.size() - 1);
      for (std::size_t i = 0; i + 1 < p.size(); ++i) {
        std::uint64_t hsh = 1469598103934665603ULL;
        hsh = (hsh ^ static_cast<std::uint64_t>(p[i])) * 1099511628211ULL;
        hsh = (hsh ^ static_cast<std::uint64_t>(p[i + 1])) * 1099511628211ULL;
        f.emplace_back(V_ + static_cast<std::size_t>(hsh % options_.prompt_buckets), bi);
      }
    }
    return f;
  }

  [[nodiscard]] Eigen::VectorXf prompt_embedding(std::span<const token_id> p) const {
    Eigen::VectorXf u = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(options_.hidden));
    for (const auto& [r, coef] : prompt_features(p)) u += coef * row(off_U_, r).transpose();
    return u;
  }

  /// The j-th previous token before position `pos` of `seq`, or V (no token) before the start.
  [[nodiscard]] std::size_t context_token(const std::vector<token_id>& seq, std::size_t pos, std::size_t j) const {
    return pos >= j + 1 ? static_cast<std::size_t>(seq[pos - 1 - j]) : V_;
  }

  /// Hidden state and logits for predicting seq[pos] (seq may be shorter: only the prefix is read).
  void forward_position(const std::vector<token_id>& seq, std::size_t pos, const Eigen::VectorXf& u, Eigen::VectorXf& h,
                        Eigen::VectorXf& z) const {
    hidden_at(seq, pos, u, h);
    z.noalias() = mat(off_W_, V_, options_.hidden) * h;
    z += vec(off_c_, V_);
  }

  /// The hidden state that predicts seq[pos].
  void hidden_at(const std::vector<token_id>& seq, std::size_t pos, const Eigen::VectorXf& u,
                 Eigen::VectorXf& h) const {
    h = vec(off_b_, options_.hidden) + u;
    for (std::size_t j = 0; j < options_.context; ++j)
      h += row(off_E_, j * (V_ + 1) + context_token(seq, pos, j)).transpose();
    h = h.array().tanh().matrix();
  }

  [[nodiscard]] static float log_sum_exp(const Eigen::VectorXf& z) {
    const float mx = z.maxCoeff();
    return mx + std::log((z.array() - mx).exp().sum());
  }

  /// Picks the next token from logits z under the sampling configuration.
  [[nodiscard]] std::size_t choose(const Eigen::VectorXf& z, const SamplingConfig& cfg, Rng& rng) const {
    const auto n = static_cast<std::size_t>(z.size());
    if (cfg.greedy || cfg.temperature == 0.0F) {
      Eigen::Index best = 0;
      z.maxCoeff(&best);
      return static_cast<std::size_t>(best);
    }
    const float inv_t = 1.0F / cfg.temperature;
    const float mx = z.maxCoeff();
    std::vector<double> p(n);
    for (std::size_t k = 0; k < n; ++k)
      p[k] = std::exp(static_cast<double>((z(static_cast<Eigen::Index>(k)) - mx) * inv_t));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
    std::size_t keep = n;
    if (cfg.top_k > 0 && cfg.top_k < keep) keep = cfg.top_k;
    double total = 0.0;
    for (std::size_t k = 0; k < keep; ++k) total += p[order[k]];
    if (cfg.top_p < 1.0F) {
      double cum = 0.0;
      for (std::size_t k = 0; k < keep; ++k) {
        cum += p[order[k]];
        if (cum >= cfg.top_p * total) {
          keep = k + 1;
          break;
        }
      }
      total = 0.0;
      for (std::size_t k = 0; k < keep; ++k) total += p[order[k]];
    }
    double r = detail::uniform01(rng) * total;
    for (std::size_t k = 0; k < keep; ++k) {
      r -= p[order[k]];
      if (r < 0.0) return order[k];
    }
    return order[keep - 1];
  }

  /// True when a stop string ends within the bytes appended after `before`.
  [[nodiscard]] static bool hits_stop(const std::string& text, std::size_t before,
                                      const std::vector<std::string>& stop) {
    for (const auto& s : stop) {
      if (s.empty() || text.size() < s.size()) continue;
      const std::size_t from = before >= s.size() ? before - s.size() + 1 : 0;
      if (text.find(s, from) != std::string::npos) return true;
    }
    return false;
  }

  [[nodiscard]] static std::size_t max_tokens(std::span<const Sample> samples) {
    std::size_t t = 0;
    for (const auto& s : samples) t = std::max(t, s.tokens.size());
    return t;
  }

  /// The prompt tokens followed by the completion tokens of a sample.
  [[nodiscard]] std::vector<token_id> sequence(const Sample& s) const {
    std::vector<token_id> seq = s.prompt_tokens.empty() ? tok_.encode(s.prompt) : s.prompt_tokens;
    check_tokens(seq, "prompt");
    check_tokens(s.tokens, "completion");
    seq.insert(seq.end(), s.tokens.begin(), s.tokens.end());
    return seq;
  }

  Tok tok_;
  EigenPolicyOptions options_;
  std::size_t V_ = 0;
  std::size_t off_E_ = 0, off_U_ = 0, off_b_ = 0, off_W_ = 0, off_c_ = 0, off_vw_ = 0, off_vc_ = 0;
  Eigen::VectorXf theta_, grad_, m_, v_;
  std::uint64_t adam_t_ = 0;
};

} // namespace rltf

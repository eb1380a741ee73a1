#pragma once
/// \file
/// The umbrella header: everything in rltf's core (no tensor library, no LibTorch). Backends are
/// included separately: <rltf/eigen/backend.hpp> (+ <rltf/eigen/policy.hpp>),
/// <rltf/xtensor/backend.hpp>, <rltf/torch/backend.hpp> (+ gpt2.hpp, generate.hpp, policy.hpp).

// Vocabulary types, errors and the Backend and Policy concepts.
#include "rltf/core/backend.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/execution_result.hpp"
#include "rltf/core/options_json.hpp"
#include "rltf/core/outcome.hpp"
#include "rltf/core/policy.hpp"
#include "rltf/core/problem.hpp"
#include "rltf/core/rng.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/core/shape.hpp"
#include "rltf/core/span.hpp"

// Numerics written once against Backend.
#include "rltf/algo.hpp"
#include "rltf/algo/grad.hpp"
#include "rltf/algo/rltf_loss.hpp"

// Tokenizers.
#include "rltf/tokenize/char.hpp"
#include "rltf/tokenize/gpt2.hpp"
#include "rltf/tokenize/tokenizer.hpp"

// Execution, datasets, metrics, formats.
#include "rltf/data/datasets.hpp"
#include "rltf/eval/pass_at_k.hpp"
#include "rltf/exec/executor.hpp"
#include "rltf/exec/job.hpp"
#include "rltf/exec/line_map.hpp"
#include "rltf/exec/python_executor.hpp"
#include "rltf/formats/safetensors.hpp"

// Feedback: RLTF's rewards and AI feedback.
#include "rltf/feedback/coarse.hpp"
#include "rltf/feedback/feedback.hpp"
#include "rltf/feedback/fine_grained.hpp"
#include "rltf/feedback/judge.hpp"
#include "rltf/feedback/reward_model.hpp"
#include "rltf/feedback/reward_model_feedback.hpp"
#include "rltf/feedback/rltf_feedback.hpp"
#include "rltf/feedback/spans.hpp"
#include "rltf/feedback/sum.hpp"
#include "rltf/feedback/table.hpp"

// Buffers and trainers.
#include "rltf/buffer/buffer.hpp"
#include "rltf/buffer/online_buffer.hpp"
#include "rltf/train/checkpoint.hpp"
#include "rltf/train/evaluate.hpp"
#include "rltf/train/grpo_trainer.hpp"
#include "rltf/train/metrics.hpp"
#include "rltf/train/online_trainer.hpp"
#include "rltf/train/options.hpp"
#include "rltf/train/ppo_trainer.hpp"
#include "rltf/train/progress.hpp"
#include "rltf/train/rltf_trainer.hpp"
#include "rltf/train/rollout.hpp"
#include "rltf/train/sft.hpp"
#include "rltf/train/trainable_policy.hpp"
#include "rltf/train/value_policy.hpp"

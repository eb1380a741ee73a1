#!/usr/bin/env bash
# rltf-demo run again in the same folder with other options: other RL options start the RL run
# over (the supervised model, whose options did not change, is reused); other supervised options
# retrain the supervised model. Nothing of a run made with other options is taken as this one's.
#   options_change.sh RLTF_DEMO WORK_DIR [demo options...]
set -euo pipefail
demo=$1
work=$2
shift 2
rm -rf "$work"
mkdir -p "$work"
fail() {
  echo "FAIL: $1"
  cat "$2"
  exit 1
}
"$demo" "$@" --out "$work/out" >"$work/first.log" 2>&1

"$demo" "$@" --rl-lr 0.0123 --out "$work/out" >"$work/second.log" 2>&1
grep -q "continuing: .* holds this configuration's supervised model" "$work/second.log" ||
  fail "the supervised model was not reused" "$work/second.log"
grep -q "holds an RL run made with other options (config.learner.optimizer.lr); starting it over" "$work/second.log" ||
  fail "the RL run of another learning rate was not started over" "$work/second.log"
if grep -q "resumed from step" "$work/second.log"; then fail "the RL run of another learning rate was resumed" "$work/second.log"; fi

"$demo" "$@" --rl-lr 0.0123 --sft-steps 20 --out "$work/out" >"$work/third.log" 2>&1
grep -q "retraining: .* was made with other options (sft.steps was [0-9]*, now 20)" "$work/third.log" ||
  fail "the supervised model of other options was not retrained" "$work/third.log"
grep -q "sft step 20/20" "$work/third.log" || fail "the supervised model was not retrained" "$work/third.log"
if grep -q "resumed from step" "$work/third.log"; then fail "RL of the old supervised model was resumed" "$work/third.log"; fi
echo "PASS: other RL options start RL over, other SFT options retrain the supervised model"

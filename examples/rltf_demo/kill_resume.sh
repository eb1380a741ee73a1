#!/usr/bin/env bash
# rltf-demo after kill -9: rerunning the same command continues the stopped run, and the continued
# run ends exactly as an uninterrupted one does (the same RL metrics, step by step, and the same
# held-out results).
#   kill_resume.sh RLTF_DEMO WORK_DIR [demo options...]
set -euo pipefail
demo=$1
work=$2
shift 2
rm -rf "$work"
mkdir -p "$work"
"$demo" "$@" --out "$work/whole" >"$work/whole.log" 2>&1

"$demo" "$@" --out "$work/killed" >"$work/killed.log" 2>&1 &
pid=$!
checkpoint=$(find "$work/whole" -path '*/checkpoints' -type d | head -n 1 | sed "s|$work/whole|$work/killed|")
# Wait (up to 8 minutes: the LibTorch run on a loaded 2-core machine is slow) for the first RL
# checkpoint, or for the run to end without one.
for _ in $(seq 9600); do
  [[ -e $checkpoint/latest ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[[ -e $checkpoint/latest ]] || { echo "FAIL: the run ended before its first RL checkpoint"; exit 1; }
echo "killed (kill -9) after $(cat "$checkpoint/latest")"

"$demo" "$@" --out "$work/killed" >"$work/resumed.log" 2>&1
grep -q "continuing: .* holds this configuration's supervised model" "$work/resumed.log" ||
  { echo "FAIL: the supervised model was not reused"; cat "$work/resumed.log"; exit 1; }
grep -o "resumed from step [0-9]*" "$work/resumed.log" ||
  { echo "FAIL: RL did not resume from its checkpoint"; cat "$work/resumed.log"; exit 1; }
# Wall-clock fields aside, every metrics line must be the same.
strip_time() { sed 's/,"time":{[^}]*}//' "$1"; }
metrics=${checkpoint%/checkpoints}/metrics.jsonl
whole_metrics=$work/whole/${metrics#"$work/killed/"}
if ! diff <(strip_time "$whole_metrics") <(strip_time "$metrics") >"$work/metrics.diff"; then
  echo "FAIL: the resumed run's metrics differ from the uninterrupted run's"
  head -c 2000 "$work/metrics.diff"
  exit 1
fi
if ! diff "$work/whole/results.md" "$work/killed/results.md"; then
  echo "FAIL: the resumed run's held-out results differ"
  exit 1
fi
echo "PASS: $(wc -l <"$metrics") metrics lines and the held-out results equal the uninterrupted run's"

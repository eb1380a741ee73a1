#!/usr/bin/env bash
# Data-parallel tests over loopback: run.sh SCENARIO RANK_BINARY WORKDIR
#   equality  2 ranks × half the rollouts give the parameters of 1 rank on all of them
#   die       rank 1 exits at step 3: rank 0 fails within the timeout, naming rank 1
#   hang      rank 1 sleeps at step 3: rank 0 fails within the timeout, naming rank 1
#   resume_grpo  the same with GrpoTrainer
#   two_ranks PROGRAM as 2 ranks with the arguments after WORKDIR
#   torchrun  equality, launched by torchrun --no-python (skipped without torchrun)
#   resume    a 2-rank run stopped after 4 steps and continued to 6 equals one run of 6 steps
# Ranks are started here with torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1,
# MASTER_PORT = a free port), so the test needs no Python launcher; prints "PASS: ..." on success.
set -uo pipefail
scenario=$1
bin=$2
work=$3
rm -rf "$work"
mkdir -p "$work"

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# launch WORLD OUT ARGS...: starts WORLD ranks in the background; their pids in $pids, logs in OUT/rank-R.log
launch() {
  local world=$1 out=$2
  shift 2
  local port
  port=$(free_port)
  mkdir -p "$out"
  pids=()
  for ((r = 0; r < world; ++r)); do
    RANK=$r LOCAL_RANK=$r WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bin" "$@" >"$out/rank-$r.log" 2>&1 &
    pids+=($!)
  done
}

# wait_all: waits for $pids; fails (and shows the logs) if any rank failed
wait_all() {
  local out=$1 status=0
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  if ((status != 0)); then
    tail -n 20 "$out"/rank-*.log
    echo "FAIL: a rank failed"
    exit 1
  fi
}

single() { # single OUT ARGS...: one process, no distributed environment
  local out=$1
  shift
  mkdir -p "$out"
  env -u RANK -u WORLD_SIZE -u MASTER_ADDR -u MASTER_PORT "$bin" "$@" >"$out/rank-0.log" 2>&1 ||
    { tail -n 20 "$out/rank-0.log"; echo "FAIL: the single process failed"; exit 1; }
}

case $scenario in
equality)
  single "$work/w1" equality "$work/w1" 6
  launch 2 "$work/w2" equality "$work/w2" 6
  wait_all "$work/w2"
  cat "$work/w1/rank-0.log"
  "$bin" compare "$work/w1/params.bin" "$work/w2/params.bin" 1e-4 || exit 1
  # The check can fail: a plain mean of the ranks' gradients (each normalised by its own token
  # count, not the global one) must not pass it.
  launch 2 "$work/mean" equality "$work/mean" 6 --plain-mean 1
  wait_all "$work/mean"
  if "$bin" compare "$work/w1/params.bin" "$work/mean/params.bin" 1e-4; then
    echo "FAIL: the check does not tell the global normaliser from a plain mean"
    exit 1
  fi
  ;;
torchrun)
  # The same through torchrun (its elastic agent hosts the store: TORCHELASTIC_USE_AGENT_STORE).
  command -v torchrun >/dev/null || { echo "SKIP: no torchrun"; exit 0; }
  single "$work/w1" equality "$work/w1" 6
  mkdir -p "$work/w2"
  (cd "$work" && torchrun --no_python --nproc_per_node 2 --redirects 1 --tee 1 --master_addr 127.0.0.1 \
    --master_port "$(free_port)" "$bin" equality "$work/w2" 6) >"$work/torchrun.log" 2>&1 ||
    { tail -n 20 "$work/torchrun.log"; echo "FAIL: torchrun"; exit 1; }
  "$bin" compare "$work/w1/params.bin" "$work/w2/params.bin" 1e-4 || exit 1
  ;;
die | hang)
  fault=--die-at
  [[ $scenario == hang ]] && fault=--hang-at
  start=$(date +%s.%N)
  launch 2 "$work/w2" train "$work/w2" 8 --timeout 5 "$fault" 3 --fault-rank 1
  wait "${pids[0]}"
  status=$?
  end=$(date +%s.%N)
  kill -9 "${pids[1]}" 2>/dev/null
  wait "${pids[1]}" 2>/dev/null
  cat "$work/w2/rank-0.log" | grep -v '^step' | tail -n 5
  elapsed=$(/usr/bin/python3 -c "print(f'{$end - $start:.1f}')")
  if ((status == 0)); then echo "FAIL: rank 0 succeeded although rank 1 ${scenario}s"; exit 1; fi
  if ! grep -q "rank 1 \(stopped responding\|is alive but has not reached\)" "$work/w2/rank-0.log"; then
    echo "FAIL: rank 0's error does not name rank 1"
    exit 1
  fi
  echo "PASS: rank 0 failed after ${elapsed} s in all (start-up and 2 steps included), naming rank 1"
  ;;
resume | resume_grpo)
  extra=()
  [[ $scenario == resume_grpo ]] && extra=(--grpo 1)
  launch 2 "$work/full" train "$work/full" 6 "${extra[@]}"
  wait_all "$work/full"
  launch 2 "$work/cut" train "$work/cut" 4 "${extra[@]}"
  wait_all "$work/cut"
  launch 2 "$work/cut" train "$work/cut" 6 "${extra[@]}"
  wait_all "$work/cut"
  grep -q '"resumed_from":4' "$work/cut/rank-0.log" || { echo "FAIL: the second run did not resume at step 4"; exit 1; }
  "$bin" compare "$work/full/params.bin" "$work/cut/params.bin" 0 || exit 1
  strip='import json,sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    print(json.dumps({k: v for k, v in j.items() if k != "time"}, sort_keys=True))'
  if ! diff <(/usr/bin/python3 -c "$strip" "$work/full/run/metrics.jsonl") \
    <(/usr/bin/python3 -c "$strip" "$work/cut/run/metrics.jsonl") >"$work/metrics.diff"; then
    head "$work/metrics.diff"
    echo "FAIL: the metrics differ"
    exit 1
  fi
  # A different number of ranks is refused, with the reason.
  if env -u RANK -u WORLD_SIZE -u MASTER_ADDR -u MASTER_PORT "$bin" train "$work/cut" 8 "${extra[@]}" >"$work/one.log" 2>&1; then
    echo "FAIL: a 2-rank checkpoint resumed on 1 rank"
    exit 1
  fi
  grep -q "made by 2 rank(s), this run has 1" "$work/one.log" || { cat "$work/one.log"; echo "FAIL: no reason given"; exit 1; }
  tail -n 1 "$work/one.log"
  echo "PASS: the resumed 2-rank run equals the uninterrupted one (parameters bit for bit, metrics)"
  ;;
two_ranks)
  # Any program as 2 ranks: run.sh two_ranks PROGRAM WORKDIR ARGS... (rank 0's output is shown).
  shift 3
  launch 2 "$work" "$@"
  wait_all "$work"
  cat "$work/rank-0.log"
  ;;
*)
  echo "run.sh: unknown scenario $scenario"
  exit 2
  ;;
esac
echo "PASS: $scenario"

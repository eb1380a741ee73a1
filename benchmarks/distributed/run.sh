#!/usr/bin/env bash
# Data-parallel throughput, 1 rank vs 2 ranks on this machine (docs/distributed.md):
#   benchmarks/distributed/run.sh build/release/tests/distributed/rltf-dist-rank [STEPS] [OUT]
# Each rank: 1 LibTorch thread, 1 Python executor worker, its share of each round's problems.
# Prints one RESULT line per world size (rank 0's timings: rollout = generation + execution,
# step = rollout + learning, collectives = time inside c10d calls, comm_share = collectives / step).
set -euo pipefail
bin=$1
steps=${2:-12}
out=${3:-/tmp/rltf-dist-bench}
args=(--embd 64 --tokens 48 --samples 8 --problems 8 --batch 32 --timeout 120)
rm -rf "$out"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
env -u WORLD_SIZE "$bin" train "$out/w1" "$steps" "${args[@]}" 2>"$out.w1.log" | grep RESULT
pids=()
for r in 0 1; do
  RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$bin" train "$out/w2" "$steps" "${args[@]}" >"$out.w2.rank$r.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
grep RESULT "$out.w2.rank0.log"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

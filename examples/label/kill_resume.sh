#!/usr/bin/env bash
# rltf-label killed with kill -9 mid-run and started again equals an uninterrupted run, and asks the
# server no question twice. Usage: kill_resume.sh RLTF_LABEL PYTHON SERVER_SCRIPT WORKDIR
set -euo pipefail
label=$1 python=$2 server_py=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
cd "$work"
"$python" "$server_py" --log requests.jsonl > port.txt &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s port.txt ]] && break; sleep 0.1; done
url="http://127.0.0.1:$(head -1 port.txt)/v1"
# 40 samples; some questions answered No (see openai_server.py), so every label occurs.
"$python" - <<'PY'
import json
with open("in.jsonl", "w") as f:
    for i in range(40):
        no = ["", "  #no:3,6", "  #no:1,2,4,5", "  #no:all"][i % 4]
        f.write(json.dumps({"id": i, "instruction": "task %d" % i, "code": "x = %d%s" % (i, no)}) + "\n")
PY
common=(--input in.jsonl --judge http --judge-url "$url" --workers 2 --progress lines --timeout 10)
# The interrupted run: killed once a few lines are written, then run again to the end.
"$label" "${common[@]}" --judge-model slow:0.05 --output out.jsonl > run1.log 2>&1 &
pid=$!
for _ in $(seq 600); do
  [[ -f out.jsonl ]] && (( $(wc -l < out.jsonl) >= 6 )) && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null || true
killed_at=$(wc -l < out.jsonl)
(( killed_at < 40 )) || { echo "FAIL: the run finished before it was killed"; exit 1; }
"$label" "${common[@]}" --judge-model slow:0.05 --output out.jsonl > run2.log 2>&1
# The uninterrupted run, asking under another model name so that its requests count apart.
"$label" "${common[@]}" --judge-model slow:0.051 --output ref.jsonl > ref.log 2>&1
cmp out.jsonl ref.jsonl || { echo "FAIL: resumed labels differ from an uninterrupted run's"; exit 1; }
"$python" - <<'PY'
import json, collections
reqs = [json.loads(l) for l in open("requests.jsonl")]
asked = collections.Counter((r["question"], r["code"]) for r in reqs if r["model"] == "slow:0.05")
# A question in flight when the run was killed (its answer never arrived) is asked again; nothing
# answered is: at most --workers (2) requests were in flight.
twice = [k for k, n in asked.items() if n > 1]
assert len(twice) <= 2 and all(asked[k] == 2 for k in twice), "FAIL: asked again: %r" % twice[:5]
assert len(asked) == 40 * 8, "FAIL: %d distinct questions asked, expected 320" % len(asked)
hist = json.load(open("out.jsonl.histogram.json"))
assert hist["samples"] == 40 and hist["accepted"] == 10 and hist["rejected"] == 20 and hist["dropped"] == 10, hist
rows = [json.loads(l) for l in open("out.jsonl")]
assert [r["id"] for r in rows] == list(range(40)) and rows[2]["score"] == 4 and rows[2]["label"] == "rejected", rows[2]
PY
grep -q "score histogram (40 samples" run2.log || { echo "FAIL: no histogram printed"; cat run2.log; exit 1; }
echo "PASS: killed at $killed_at/40 lines, resumed; labels equal an uninterrupted run's; no answered question asked again"

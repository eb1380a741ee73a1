#!/usr/bin/env bash
# rltf-label --judge static end to end: labels programs by analysis in the sandbox, and resumes
# after kill -9 and after a torn last line to the labels of an uninterrupted run, byte for byte.
# Usage: static_resume.sh RLTF_LABEL PYTHON WORKDIR
set -euo pipefail
label=$1 python=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cd "$work"
"$python" - <<'PY'
import json
good = ("from transformers import AutoModel\n"
        "model = AutoModel.from_pretrained('YituTech/conv-bert-base')\n")
codes = [good,                                              # 8 yes: accepted
         good + "print(undefined_thing)\n",                 # undefined, does not run: 5 (dropped)
         "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('a/b'",  # syntax: 0
         good + "def later():\n    pass  # TODO\n"]       # incomplete: 7 (accepted)
with open("in.jsonl", "w") as f:
    for i in range(24):
        f.write(json.dumps({"id": i, "instruction": "task %d" % i, "code": codes[i % 4]}) + "\n")
PY
common=(--input in.jsonl --judge static --workers 1 --progress lines)
"$label" "${common[@]}" --output ref.jsonl > ref.log 2>&1
"$python" - <<'PY'
import json
rows = [json.loads(l) for l in open("ref.jsonl")]
assert [r["id"] for r in rows] == list(range(24)), "FAIL: ids"
scores = [r["score"] for r in rows[:4]]
assert scores == [8, 5, 0, 7], "FAIL: scores %r" % scores
assert [r["label"] for r in rows[:4]] == ["accepted", "dropped", "rejected", "accepted"], rows[:4]
hist = json.load(open("ref.jsonl.histogram.json"))
assert hist["samples"] == 24 and hist["accepted"] == 12 and hist["rejected"] == 6 and hist["dropped"] == 6, hist
assert hist["this_run"]["judge"] == "static", hist
PY
# kill -9 mid-run (when it is still running), then the same command again.
"$label" "${common[@]}" --output out.jsonl > run1.log 2>&1 &
pid=$!
for _ in $(seq 2000); do
  [[ -f out.jsonl ]] && (( $(wc -l < out.jsonl) >= 3 )) && break
  sleep 0.005
done
kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
killed_at=$(wc -l < out.jsonl)
"$label" "${common[@]}" --output out.jsonl > run2.log 2>&1
cmp out.jsonl ref.jsonl || { echo "FAIL: labels resumed after kill -9 differ from an uninterrupted run's"; exit 1; }
# A torn last line: 5 complete lines and half of the 6th.
head -5 ref.jsonl > torn.jsonl && sed -n 6p ref.jsonl | head -c 40 >> torn.jsonl
"$label" "${common[@]}" --output torn.jsonl > run3.log 2>&1
cmp torn.jsonl ref.jsonl || { echo "FAIL: labels resumed after a torn line differ"; exit 1; }
grep -q "kept 5 from before" run3.log || { echo "FAIL: the torn run did not resume"; cat run3.log; exit 1; }
echo "PASS: static judge labels as expected; resumed after kill -9 at $killed_at/24 lines and after a torn line"

#!/usr/bin/env bash
# LoRA against full fine-tuning on one model: the same SFT steps (same data, seeds and batches)
# from the same base, once training every weight and once rank-8 adapters on all seven
# matrices. Prints the median step time of each (first 3 steps dropped), their ratio, and the
# peak resident memory of each run. Uses the release build.
#
#   tools/bench_lora.sh [STEPS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${1:-20}"
WORK="${2:-/tmp/reckon-bench-lora}"
RECKON="${RECKON:-$(swift build -c release --show-bin-path)/reckon}"
rm -rf "$WORK" && mkdir -p "$WORK"
"$RECKON" init-checkpoint "$WORK/base.h5" --dim 256 --layers 4 --heads 8 --hidden 768 --context 256 > /dev/null
recipe() {  # $1 = output dir, $2 = extra TOML
    cat <<TOML
stages = "data,sft"
[model]
dim = 256
layers = 4
heads = 8
hidden = 768
context = 256
[data]
train_n = 2000
levels = "1,2,3"
eval_n = 4
[sft]
init = "$WORK/base.h5"
steps = $STEPS
batch = 8
warmup = 2
eval_every = 0
save_every = 0
[output]
dir = "$1"
$2
TOML
}
recipe "$WORK/full" "" > "$WORK/full.toml"
recipe "$WORK/lora" $'[lora]\nrank = 8\nalpha = 16\ntargets = "q,k,v,o,gate,up,down"' > "$WORK/lora.toml"
for run in full lora; do
    /usr/bin/time -f "%M" -o "$WORK/$run.rss" "$RECKON" train "$WORK/$run.toml" --threads 2 > "$WORK/$run.log" 2>&1
done
python3 - "$WORK" <<'PY'
import json, statistics, sys
work = sys.argv[1]
med = {}
for run in ("full", "lora"):
    steps = [json.loads(l) for l in open(f"{work}/{run}/metrics.jsonl") if '"step_seconds"' in l]
    med[run] = statistics.median(s["step_seconds"] for s in steps[3:])
    rss = int(open(f"{work}/{run}.rss").read().split()[-1]) / 1024
    print(f"{run:5s} median step {med[run]*1000:7.1f} ms over {len(steps) - 3} steps, peak RSS {rss:6.1f} MB")
print(f"lora/full step time {med['lora'] / med['full']:.2f}")
PY

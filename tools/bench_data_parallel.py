#!/usr/bin/env python3
"""Data-parallel SFT throughput: `reckon train` on 1 process and under `mpirun -n 2`, one BLAS
thread each, on the small model's geometry (Recipes/warmup-small.toml's [model]) with the same
global batch, run back to back. Prints per run the median over steps (the first two dropped)
of tokens/s (whole batch), step time, the allreduce time and the wait for the slower rank,
read from each run's metrics.jsonl, and the gradient bytes each step sums.

    swift build -c release --product reckon
    python3 tools/bench_data_parallel.py --reckon .build/release/reckon --steps 30

docs/performance.md ("Data-parallel training") has the figures and the model for N machines
(tools/allreduce_model.py)."""
import argparse, json, os, re, statistics, subprocess, tempfile

RECIPE = """stages = "data,sft"
[model]
dim = 256
layers = 4
heads = 8
hidden = 768
context = 256
seed = 1
[data]
train_n = 4000
levels = "1=1,2=1,3=1.5,4=1.5,5=3"
dialects = "sae=0.5,aae=0.1,symbolic=0.15,words=0.1,indian=0.1,scots=0.05"
seed = 1
eval_n = 4
[sft]
steps = {steps}
batch = {batch}
lr = 2e-3
warmup = 5
eval_every = 0
save_every = 0
seed = 1
[output]
dir = "{out}"
"""


def run(cmd, cwd):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl="self,vader")
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stderr


def medians(path):
    rows = [json.loads(line) for line in open(path)][2:]
    pick = lambda k: statistics.median(r.get(k, 0.0) or 0.0 for r in rows)
    return {"tokens_per_s": pick("tokens_per_s"), "step_s": pick("step_seconds"),
            "allreduce_ms": 1000 * pick("allreduce_s"), "wait_ms": 1000 * pick("rank_wait_s"), "steps": len(rows)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reckon", default=".build/release/reckon")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16, help="prompts per step (the global batch; 2 sequences each)")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the runs this many times")
    a = ap.parse_args()
    reckon = os.path.abspath(a.reckon)
    with tempfile.TemporaryDirectory() as d:
        open(f"{d}/r.toml", "w").write(RECIPE.format(steps=a.steps, batch=a.batch, out="out"))
        runs = {
            "N=1": lambda o: [reckon, "train", "r.toml", "--threads", "1", "--set", f"output.dir={o}"],
            "N=1 --shards 2": lambda o: [reckon, "train", "r.toml", "--threads", "1", "--shards", "2", "--set", f"output.dir={o}"],
            "N=2 (mpirun)": lambda o: ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-n", "2",
                                        reckon, "train", "r.toml", "--threads", "1", "--set", f"output.dir={o}"],
        }
        results = {k: [] for k in runs}
        params = 0
        for i in range(a.rounds):
            for k, cmd in runs.items():
                out = f"o{i}-{k.split()[0]}{len(k)}"
                log = run(cmd(out), d)
                params = int(re.search(r"(\d+) parameters", log).group(1))
                results[k].append(medians(f"{d}/{out}/metrics.jsonl"))
        print(f"{params} parameters: {4 * params} gradient bytes (fp32) summed per step")
        print(f"global batch {a.batch} prompts × 2 modes, {a.steps} steps, medians over steps 3..{a.steps}")
        print(f"{'run':16} {'tokens/s':>9} {'step s':>8} {'allreduce ms':>13} {'wait ms':>8}")
        for k, rs in results.items():
            m = {f: statistics.median(r[f] for r in rs) for f in rs[0]}
            print(f"{k:16} {m['tokens_per_s']:9.0f} {m['step_s']:8.3f} {m['allreduce_ms']:13.2f} {m['wait_ms']:8.2f}")
        base = statistics.median(r["tokens_per_s"] for r in results["N=1"])
        two = statistics.median(r["tokens_per_s"] for r in results["N=2 (mpirun)"])
        print(f"speed-up N=2 / N=1: {two / base:.2f}×")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Plot a DeGRPO run from its per-step metrics log (metrics-degrpo.jsonl).

Top: the rollouts' think rate per difficulty level over steps (smoothed), with the periodic
eval's think rate as markers when present. With paired rollouts that rate is ½ by
construction, so their logs plot the policy's p(think) instead: the routing it would sample.
Bottom: reward and accuracy, overall and per mode. Several logs can be given (e.g. a DeGRPO
and a GRPO run) to compare them.

    python3 tools/plot_training.py runs/degrpo/metrics-degrpo.jsonl [runs/grpo/metrics-degrpo.jsonl ...] \
        --labels DeGRPO GRPO --out docs/img/degrpo.png
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    steps, evals = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not valid JSON ({e})")
            (evals if "eval_acc_model" in rec else steps).append(rec)
    if not steps:
        sys.exit(f"{path}: no DeGRPO step records (is this a metrics-degrpo.jsonl?)")
    return steps, evals


def smooth(xs, k):
    out, acc = [], []
    for x in xs:
        acc.append(x)
        if len(acc) > k:
            acc.pop(0)
        vals = [v for v in acc if v is not None]
        out.append(sum(vals) / len(vals) if vals else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--labels", nargs="*")
    ap.add_argument("--out", default="training.png")
    ap.add_argument("--smooth", type=int, default=5, help="moving-average window over steps")
    args = ap.parse_args()
    labels = args.labels or args.logs
    if len(labels) != len(args.logs):
        sys.exit("--labels needs one label per log")

    runs = [load(p) for p in args.logs]
    fig, axes = plt.subplots(2, len(runs), figsize=(6.5 * len(runs), 8), squeeze=False, sharex="col")
    cmap = plt.get_cmap("viridis")
    for col, ((steps, evals), label) in enumerate(zip(runs, labels)):
        x = [r["step"] for r in steps]
        # Paired rollouts force half of each group to think, so their think rate is ½ at every step.
        paired = all(r.get("think_rate") == 0.5 for r in steps) and all("p_think" in r for r in steps)
        key, name = ("p_think", "p(think)") if paired else ("think_rate", "think rate")
        levels = sorted({k[len(f"{key}_level"):] for r in steps for k in r if k.startswith(f"{key}_level")}, key=int)
        ax = axes[0][col]
        for i, lv in enumerate(levels):
            color = cmap(i / max(1, len(levels) - 1))
            ax.plot(x, smooth([r.get(f"{key}_level{lv}") for r in steps], args.smooth), color=color, label=f"level {lv}")
            ex = [e["step"] for e in evals if f"eval_think_rate_level{lv}" in e]
            ey = [e[f"eval_think_rate_level{lv}"] for e in evals if f"eval_think_rate_level{lv}" in e]
            if ex:
                ax.plot(ex, ey, "o", color=color, markersize=4)
        ax.plot(x, smooth([r.get(key) for r in steps], args.smooth), "k--", label="all")
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(f"{name} (rollouts; dots: eval think rate)")
        ax.set_title(f"{label}: {name} by difficulty")
        ax.legend(fontsize=8, loc="best")

        ax = axes[1][col]
        ax.plot(x, smooth([r["reward"] for r in steps], args.smooth), label="reward")
        ax.plot(x, smooth([r["accuracy"] for r in steps], args.smooth), label="accuracy")
        ax.plot(x, smooth([r.get("accuracy_think") for r in steps], args.smooth), label="accuracy | think")
        ax.plot(x, smooth([r.get("accuracy_short") for r in steps], args.smooth), label="accuracy | short")
        if evals:
            ax.plot([e["step"] for e in evals], [e["eval_acc_model"] for e in evals], "ko", markersize=4, label="eval accuracy")
        ax.set_xlabel("step")
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(f"{label}: reward and accuracy")
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Accuracy against FLOPs per query for every method of `reckon eval --methods ... --json FILE`.

    python3 tools/plot_frontier.py eval-methods.json --out docs/img/frontier.png

Fixed thresholds are joined into one curve (the frontier of static routing), best-of-N into
another; short, think, sample, self-route and the adaptive methods are single points.
It also prints each method's FLOPs per query and accuracy against forced think's (issue 9's
target: self-route within 2 points of think's accuracy at <= 50% of its FLOPs). The JSON may
come from any checkpoint, a byte model or an imported one with its adapter: FLOPs are the
model's own (docs/cli.md, "FLOPs per query").
"""
import argparse
import json
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", help="the JSON written by reckon eval --methods ... --json")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--title", default="Accuracy against compute per query")
    args = ap.parse_args()
    try:
        rows = json.load(open(args.json))
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"error: {args.json}: {e}")
    if not isinstance(rows, list) or not rows or "method" not in rows[0]:
        sys.exit(f"error: {args.json}: expected the array written by reckon eval --methods")

    def point(r):
        return r["all"]["flopsPerQuery"] / 1e9, 100 * r["all"]["accuracy"]

    fig, ax = plt.subplots(figsize=(7.5, 5))
    thresholds = sorted((float(r["method"].split(":")[1]), r) for r in rows if r["method"].startswith("threshold:"))
    if thresholds:
        xs, ys = zip(*(point(r) for _, r in thresholds))
        ax.plot(xs, ys, "-o", color="tab:gray", ms=4, label="threshold:T (T = " + ", ".join(f"{t:g}" for t, _ in thresholds) + ")")
        for (t, _), x, y in zip(thresholds, xs, ys):
            ax.annotate(f"{t:g}", (x, y), textcoords="offset points", xytext=(3, -9), fontsize=7, color="tab:gray")
    best = sorted((int(m.group(1)), r) for r in rows if (m := re.fullmatch(r"best-of-(\d+)", r["method"])))
    sample = [r for r in rows if r["method"] == "sample"]
    if best or sample:
        series = [(1, sample[0])] if sample else []
        series += best
        xs, ys = zip(*(point(r) for _, r in series))
        ax.plot(xs, ys, "-s", color="tab:orange", ms=5, label="sample / best-of-N (majority vote)")
        for (n, _), x, y in zip(series, xs, ys):
            ax.annotate(f"N={n}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color="tab:orange")
    markers = {"short": ("v", "tab:blue"), "think": ("^", "tab:red"), "self-route": ("*", "tab:green")}
    adaptive_colors = iter(["tab:purple", "tab:brown", "tab:cyan", "tab:olive", "tab:pink"])
    for r in rows:
        m = r["method"]
        if m in markers:
            x, y = point(r)
            ax.plot([x], [y], markers[m][0], color=markers[m][1], ms=12 if m == "self-route" else 9, label=m, ls="none")
        elif m.startswith("adaptive-"):
            x, y = point(r)
            ax.plot([x], [y], "D", ms=7, label=m, ls="none", color=next(adaptive_colors, "black"))
    ax.set_xlabel("GFLOPs per query (prefill + decode, attention included)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=130)
    print(f"wrote {args.out}")
    think = next((r for r in rows if r["method"] == "think"), None)
    if think and think["all"]["flopsPerQuery"] > 0:
        base_flops, base_acc = think["all"]["flopsPerQuery"], 100 * think["all"]["accuracy"]
        print(f"{'method':<22}{'GFLOP/q':>10}{'of think':>10}{'accuracy':>10}{'vs think':>10}")
        for r in rows:
            f, a = r["all"]["flopsPerQuery"], 100 * r["all"]["accuracy"]
            print(f"{r['method']:<22}{f / 1e9:>10.3f}{100 * f / base_flops:>9.1f}%{a:>9.1f}%{a - base_acc:>+9.1f}")


if __name__ == "__main__":
    main()

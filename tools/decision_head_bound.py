#!/usr/bin/env python3
"""How well could any linear decision head on this representation route? An upper check.

    python3 tools/decision_head_bound.py CKPT.h5 eval.jsonl think.json short.json [--gamma 0.2 0.5]

think.json and short.json are `reckon eval --routing think|short --records --json` outputs of
CKPT on eval.jsonl. The script computes every prompt's decision state (the final normalised
hidden state where <think>/<short> is chosen, with tools/probe_decision.py's numpy forward),
then fits a logistic head to the exact expected DeGRPO reward of each prompt's two answers
(think: 1 - γ if right, short: 1 if right, -1 if wrong) on half of the problems, and routes
the other half with it. It prints, for each γ and L2 strength, the best held-out accuracy at
any threshold that keeps level 1's think rate at or below 20%, next to the checkpoint's own
p(think) under the same rule. Renderings of one problem stay on one side of the split.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe_decision as pd  # noqa: E402


def records(path):
    with open(path) as f:
        return {r["id"]: r for r in json.load(f)["records"]}


def fit(X, adv, l2, steps=3000, lr=0.1):
    """Gradient ascent on mean σ(Xw + b)·adv − l2/2·|w|² (the expected reward gain of thinking)."""
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        g = adv * p * (1 - p)
        w += lr * (X.T @ g / len(adv) - l2 * w)
        b += lr * g.mean()
    return w, b


def best_under_cap(p, lv, ct, cs, tt, ts, cap=0.2):
    best = None
    for T in np.unique(np.concatenate([p, [np.inf]])):
        th = p >= T
        l1 = th[lv == 1].mean()
        if l1 > cap:
            continue
        acc = np.where(th, ct, cs).mean()
        if best is None or acc > best[0]:
            best = (acc, float(T), l1, th[lv == 5].mean(), np.where(th, tt, ts).sum() / tt.sum())
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("think")
    ap.add_argument("short")
    ap.add_argument("--gamma", type=float, nargs="+", default=[0.2, 0.5])
    ap.add_argument("--l2", type=float, nargs="+", default=[1e-1, 1e-2, 1e-3])
    args = ap.parse_args()
    c, w = pd.load(args.checkpoint)
    with open(args.data) as f:
        examples = [json.loads(line) for line in f if line.strip()]
    rt, rs = records(args.think), records(args.short)
    missing = [e["id"] for e in examples if e["id"] not in rt or e["id"] not in rs]
    if missing:
        sys.exit(f"{len(missing)} examples have no think/short record, e.g. {missing[0]}")
    Z, P = [], []
    for i, e in enumerate(examples):
        z, logits = pd.last_hidden(c, w, [pd.BOS] + list(e["prompt"].encode("utf-8")) + [10])
        two = logits[[pd.THINK, pd.SHORT]]
        Z.append(z)
        P.append(1 / (1 + np.exp(two[1] - two[0])))
        if (i + 1) % 200 == 0:
            print(f"forward {i + 1}/{len(examples)}", file=sys.stderr)
    Z, P = np.array(Z), np.array(P)
    lv = np.array([e["difficulty"] for e in examples])
    ct = np.array([rt[e["id"]]["correct"] for e in examples], float)
    cs = np.array([rs[e["id"]]["correct"] for e in examples], float)
    tt = np.array([rt[e["id"]]["generated_tokens"] for e in examples], float)
    ts = np.array([rs[e["id"]]["generated_tokens"] for e in examples], float)
    pairs = [e.get("pair_id", e["id"]) for e in examples]
    ids = sorted(set(pairs))
    held = set(np.random.default_rng(0).permutation(ids)[: len(ids) // 2])
    te = np.array([p in held for p in pairs])
    tr = ~te
    X = (Z - Z[tr].mean(0)) / (Z[tr].std(0) + 1e-6)

    def show(name, res):
        if res is None:
            print(f"{name}: no threshold keeps level 1 at or below 20% think")
        else:
            acc, T, l1, l5, tok = res
            print(f"{name}: accuracy {acc:.3f} ({100 * (acc - ct[te].mean()):+.1f} against forced think "
                  f"{ct[te].mean():.3f}), p ≥ {T:.3f}, think rate L1 {l1:.2f} L5 {l5:.2f}, tokens {tok:.2f} of think")

    print(f"held-out half: {te.sum()} prompts; best threshold with level-1 think rate ≤ 20%")
    show("checkpoint's own p(think)", best_under_cap(P[te], lv[te], ct[te], cs[te], tt[te], ts[te]))
    for gamma in args.gamma:
        adv = np.where(ct > 0, 1 - gamma, -1) - np.where(cs > 0, 1, -1)
        for l2 in args.l2:
            wv, b = fit(X[tr], adv[tr], l2)
            p = 1 / (1 + np.exp(-(X[te] @ wv + b)))
            show(f"reward-fitted head, γ {gamma}, L2 {l2:g}", best_under_cap(p, lv[te], ct[te], cs[te], tt[te], ts[te]))


if __name__ == "__main__":
    main()

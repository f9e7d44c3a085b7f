#!/usr/bin/env python3
"""Does the mode-decision position know how hard the prompt is? A linear probe.

    python3 tools/probe_decision.py CKPT.h5 eval.jsonl [--records think.json] [--pair 3,5 [--layers]]

Runs the checkpoint's forward pass in numpy (a reference implementation of the Swift
model: RMSNorm, RoPE on interleaved pairs, causal attention, SwiGLU) on every prompt, takes
the final normalised hidden state at the prompt's closing "\\n" (where <think>/<short> is
chosen), and fits a least-squares linear probe on half the prompts (whole problems, so no
problem is on both sides) to tell level 1 from levels 3-5, and to predict the level.
Reports held-out accuracy, and how much of the hidden state's variance across prompts the
shared mean carries. With --records (an eval --json --records file of the same checkpoint
and data) it first checks the numpy p(think) against the Swift one.
"""
import argparse
import json
import sys

import h5py
import numpy as np

BOS, THINK, SHORT = 257, 259, 261


def load(path):
    with h5py.File(path, "r") as f:
        c = {k: v.item() for k, v in f["config"].attrs.items()}
        w = {k: np.asarray(f["model"][k], dtype=np.float64) for k in f["model"]}
    if c["tied_embeddings"]:
        w["wcls"] = w["tok_embeddings"]
    return c, w


def rmsnorm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rope(x, heads, theta):
    T, d = x.shape
    hd = d // heads
    x = x.reshape(T, heads, hd // 2, 2)
    freq = 1.0 / theta ** (2 * np.arange(hd // 2) / hd)
    ang = np.arange(T)[:, None] * freq[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0], x[..., 1]
    return np.stack([a * cos - b * sin, a * sin + b * cos], -1).reshape(T, d)


def last_hidden(c, w, tokens, taps=None):
    """Final normalised hidden state at the last position, and the logits there. When `taps`
    is a list, the residual stream at the last position is appended to it after every
    attention and every feed-forward block."""
    d, H, eps, theta = c["dim"], c["n_heads"], c["norm_eps"], c["rope_theta"]
    kvh = c["n_kv_heads"]
    hd = d // H
    T = len(tokens)
    x = w["tok_embeddings"][tokens]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(c["n_layers"]):
        h = rmsnorm(x, w["attention_norm"][l], eps)
        q = rope(h @ w["wq"][l].T, H, theta)
        k = rope(h @ w["wk"][l].T, kvh, theta)
        v = h @ w["wv"][l].T
        out = np.empty((T, d))
        for i in range(H):
            j = i // (H // kvh)
            s = q[:, i * hd:(i + 1) * hd] @ k[:, j * hd:(j + 1) * hd].T / np.sqrt(hd) + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            out[:, i * hd:(i + 1) * hd] = p @ v[:, j * hd:(j + 1) * hd]
        x = x + out @ w["wo"][l].T
        if taps is not None:
            taps.append(x[-1].copy())
        h = rmsnorm(x, w["ffn_norm"][l], eps)
        a, b = h @ w["w1"][l].T, h @ w["w3"][l].T
        x = x + (a / (1 + np.exp(-a)) * b) @ w["w2"][l].T
        if taps is not None:
            taps.append(x[-1].copy())
    z = rmsnorm(x[-1], w["norm"], eps)
    return z, w["wcls"] @ z


def probe(X, y, train):
    """Least-squares one-vs-rest linear probe (with a bias) on `train`; accuracy on the rest."""
    A = np.hstack([X, np.ones((len(X), 1))])
    classes = sorted(set(y))
    Y = np.array([[1.0 if v == k else -1.0 for k in classes] for v in y])
    lam = 1e-2 * np.eye(A.shape[1])
    W = np.linalg.solve(A[train].T @ A[train] + lam, A[train].T @ Y[train])
    pred = np.array(classes)[np.argmax(A @ W, 1)]
    test = ~train
    return float((pred[test] == np.array(y)[test]).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("--records", help="reckon eval --json --records output for this checkpoint and data")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N examples")
    ap.add_argument("--pair", action="append", default=[], metavar="A,B",
                    help="also probe level A against level B (repeatable), e.g. 3,5")
    ap.add_argument("--layers", action="store_true",
                    help="also probe each --pair at the residual stream after every attention and feed-forward block")
    args = ap.parse_args()
    c, w = load(args.checkpoint)
    examples = []
    with open(args.data) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    examples.append(json.loads(line))
                except ValueError as e:
                    sys.exit(f"{args.data}:{n}: {e}")
    if args.limit:
        examples = examples[:args.limit]
    Z, P, levels, pairs, taps = [], [], [], [], []
    for i, ex in enumerate(examples):
        tokens = [BOS] + list(ex["prompt"].encode("utf-8")) + [10]
        tap = [] if args.layers else None
        z, logits = last_hidden(c, w, tokens, tap)
        if tap is not None:
            taps.append(tap)
        e = np.exp(logits[[THINK, SHORT]] - logits[[THINK, SHORT]].max())
        Z.append(z); P.append(e[0] / e.sum()); levels.append(ex["difficulty"]); pairs.append(ex.get("pair_id", ex.get("id", str(i))))
        if (i + 1) % 200 == 0:
            print(f"forward {i + 1}/{len(examples)}", file=sys.stderr)
    Z, P, levels = np.array(Z), np.array(P), np.array(levels)

    if args.records:
        with open(args.records) as f:
            recs = {r["id"]: r["p_think"] for r in json.load(f)["records"]}
        diffs = [abs(P[i] - recs[ex["id"]]) for i, ex in enumerate(examples) if ex.get("id") in recs]
        print(f"numpy p(think) against the Swift eval: max |difference| {max(diffs):.2e} over {len(diffs)} prompts")

    # Split by problem, so the renderings of one problem stay on one side.
    ids = sorted(set(pairs))
    rng = np.random.default_rng(0)
    held = set(rng.permutation(ids)[: len(ids) // 2])
    train = np.array([p not in held for p in pairs])

    centred = Z - Z.mean(0)
    shared = float((Z.mean(0) ** 2).sum() / (Z ** 2).sum(1).mean())
    cos = Z @ Z.mean(0) / (np.linalg.norm(Z, axis=1) * np.linalg.norm(Z.mean(0)))
    print(f"prompts: {len(Z)}; shared mean's share of |h|²: {shared:.3f}; cosine to the mean: median {np.median(cos):.3f}")
    print(f"p(think): mean {P.mean():.3f}, std across prompts {P.std():.4f}; by level: "
          + ", ".join(f"L{l} {P[levels == l].mean():.3f}" for l in sorted(set(levels))))
    easy_hard = np.isin(levels, [1, 3, 4, 5])
    yb = np.where(levels == 1, 1, 0)
    acc_b = probe(Z[easy_hard], list(yb[easy_hard]), train[easy_hard])
    base_b = max(yb[easy_hard & ~train].mean(), 1 - yb[easy_hard & ~train].mean())
    acc_l = probe(Z, list(levels), train)
    base_l = max(np.bincount(levels[~train]) / (~train).sum())
    print(f"linear probe, held-out problems: level 1 vs 3-5 {acc_b:.3f} (majority {base_b:.3f}); level 1-5 {acc_l:.3f} (majority {base_l:.3f})")
    for spec in args.pair:
        try:
            a, b = (int(v) for v in spec.split(","))
        except ValueError:
            sys.exit(f"--pair wants two levels as A,B, got {spec!r}")
        sel = np.isin(levels, [a, b])
        if not (sel & train).any() or not (sel & ~train).any():
            sys.exit(f"--pair {spec}: levels {a} and {b} need examples on both sides of the split")
        yp = np.where(levels == a, 1, 0)
        acc_p = probe(Z[sel], list(yp[sel]), train[sel])
        base_p = max(yp[sel & ~train].mean(), 1 - yp[sel & ~train].mean())
        print(f"linear probe, held-out problems: level {a} vs {b} {acc_p:.3f} (majority {base_p:.3f})")
        if args.layers:
            X = np.array(taps)  # [prompts, 2·layers, dim]
            accs = [probe(X[sel, k], list(yp[sel]), train[sel]) for k in range(X.shape[1])]
            names = [f"L{k // 2}.{'attn' if k % 2 == 0 else 'ffn'}" for k in range(X.shape[1])]
            print(f"  level {a} vs {b} by block: " + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, accs)))
    print(f"variance across prompts, top principal direction's share: "
          f"{(np.linalg.svd(centred, compute_uv=False)[0] ** 2 / (centred ** 2).sum()):.3f}")


if __name__ == "__main__":
    main()

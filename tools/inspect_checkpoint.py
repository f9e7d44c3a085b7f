#!/usr/bin/env python3
"""Read a Reckon checkpoint with h5py and print its summary (docs/checkpoint.md has the schema).

    python3 tools/inspect_checkpoint.py CKPT                 # human-readable summary
    python3 tools/inspect_checkpoint.py CKPT --json          # the summary as JSON
    python3 tools/inspect_checkpoint.py CKPT --compare-json reckon.json
        # check agreement with `reckon inspect CKPT --json` (exit 1 on any difference)

Written independently of the Swift reader: the expected tensor names and shapes are derived
here from /config, so agreement with `reckon inspect` is a real cross-check of the format.
"""
import argparse
import json
import math
import sys

import h5py
import numpy as np

FORMAT = "reckon-checkpoint"
CONFIG_INTS = ["dim", "n_layers", "n_heads", "n_kv_heads", "hidden_dim", "vocab_size", "max_seq_len"]
CONFIG_FLOATS = ["rope_theta", "norm_eps"]
OPTIMIZER_FLOATS = ["beta1", "beta2", "eps", "weight_decay", "grad_clip"]


def fail(path, message):
    sys.exit(f"{path}: {message}")


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def text_checksum(stage, recipe):
    """FNV-1a 64 of UTF-8 stage, a 0 byte, recipe: guards the strings HDF5 does not checksum."""
    h = 0xCBF29CE484222325
    for byte in stage.encode("utf-8") + b"\0" + recipe.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def expected_tensors(c):
    """Names and shapes of /model, in llama2.c order (ParameterLayout in Swift)."""
    d, L, F, V = c["dim"], c["n_layers"], c["hidden_dim"], c["vocab_size"]
    kvd = c["n_kv_heads"] * (d // c["n_heads"])
    tensors = [
        ("tok_embeddings", [V, d]), ("attention_norm", [L, d]),
        ("wq", [L, d, d]), ("wk", [L, kvd, d]), ("wv", [L, kvd, d]), ("wo", [L, d, d]),
        ("ffn_norm", [L, d]), ("w1", [L, F, d]), ("w2", [L, d, F]), ("w3", [L, F, d]),
        ("norm", [d]),
    ]
    if not c["tied_embeddings"]:
        tensors.append(("wcls", [V, d]))
    return tensors


def check_group(path, f, group, expected):
    stored = set(f[group].keys())
    for name, shape in expected:
        full = f"{group}/{name}"
        if name not in stored:
            fail(path, f"dataset {full} is missing")
        ds = f[full]
        if ds.dtype != np.float32:
            fail(path, f"dataset {full} holds {ds.dtype}, expected float32")
        if list(ds.shape) != shape:
            fail(path, f"dataset {full} has shape {list(ds.shape)}, expected {shape}")
    extra = stored - {name for name, _ in expected}
    if extra:
        fail(path, f"unexpected datasets in {group}: {sorted(extra)}")


def summarize(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(path, f"cannot open as HDF5 ({e})")
    with f:
        if text(f.attrs.get("format", "")) != FORMAT:
            fail(path, f"not a Reckon checkpoint (format = {f.attrs.get('format')!r})")
        cfg = f["config"].attrs
        config = {k: int(cfg[k]) for k in CONFIG_INTS}
        config["tied_embeddings"] = bool(int(cfg["tied_embeddings"]))
        config.update({k: float(cfg[k]) for k in CONFIG_FLOATS})

        tensors = expected_tensors(config)
        check_group(path, f, "model", tensors)
        count = sum(int(np.prod(shape)) for _, shape in tensors)
        if int(cfg["parameter_count"]) != count:
            fail(path, f"/config parameter_count is {int(cfg['parameter_count'])}, the datasets hold {count}")
        finite = all(bool(np.isfinite(f[f"model/{name}"][()]).all()) for name, _ in tensors)

        tok = f["tokenizer"].attrs
        tokenizer = {"kind": text(tok["kind"]), "vocab_size": int(tok["vocab_size"]),
                     "specials": dict(zip([text(s) for s in tok["special_names"]], [int(i) for i in tok["special_ids"]]))}

        optimizer = None
        if "optimizer" in f:
            o = f["optimizer"].attrs
            check_group(path, f, "optimizer/m", tensors)
            check_group(path, f, "optimizer/v", tensors)
            optimizer = {"step": int(o["step"]), **{k: float(o[k]) for k in OPTIMIZER_FLOATS}}

        train = None
        if "train" in f:
            t = f["train"].attrs
            train = {"stage": text(t["stage"]), "step": int(t["step"]), "recipe": text(t["recipe"]),
                     "rng_state": int(t["rng_state"]),
                     "rng_streams": {k: int(v) for k, v in f["train/rng"].attrs.items()} if "train/rng" in f else {},
                     "metrics": {k: float(v) for k, v in f["metrics"].attrs.items()} if "metrics" in f else {}}
            if int(t["text_checksum"]) != text_checksum(train["stage"], train["recipe"]):
                fail(path, "/train stage and recipe text do not match text_checksum (damaged file)")

        routing = None
        if "routing" in f:  # the optional stored routing rule (docs/checkpoint.md)
            r = f["routing"].attrs
            routing = {"rule": text(r["rule"]), "criterion": text(r["criterion"]), "split": text(r["split"]),
                       "split_examples": int(r["split_examples"]), "split_checksum": int(r["split_checksum"]),
                       **{k: float(r[k]) for k in ("accuracy", "think_rate", "mean_tokens")}}
            if int(r["text_checksum"]) != text_checksum(routing["rule"], routing["criterion"] + "\0" + routing["split"] + "\0"):
                fail(path, "/routing rule, criterion and split text do not match text_checksum (damaged file)")

        return {"path": path, "format_version": int(f.attrs["format_version"]), "config": config,
                "parameter_count": count, "tensors": [{"name": n, "shape": s} for n, s in tensors],
                "has_optimizer": optimizer is not None, "optimizer": optimizer, "train": train,
                "tokenizer": tokenizer, "all_finite": finite, "routing": routing}


def print_summary(s):
    c = s["config"]
    print(f"checkpoint  {s['path']} ({FORMAT} v{s['format_version']}, read with h5py {h5py.__version__})")
    print(f"config      dim {c['dim']}, layers {c['n_layers']}, heads {c['n_heads']}, kv heads {c['n_kv_heads']}, "
          f"hidden {c['hidden_dim']}, vocab {c['vocab_size']}, context {c['max_seq_len']}, "
          f"{'tied' if c['tied_embeddings'] else 'untied'} classifier, rope theta {c['rope_theta']:g}, norm eps {c['norm_eps']:g}")
    print(f"tokenizer   {s['tokenizer']['kind']}, {s['tokenizer']['vocab_size']} ids, specials {s['tokenizer']['specials']}")
    print(f"parameters  {s['parameter_count']} ({'all finite' if s['all_finite'] else 'NON-FINITE VALUES PRESENT'})")
    print("tensors")
    width = max(len(t["name"]) for t in s["tensors"])
    for t in s["tensors"]:
        print(f"  {t['name']:<{width}}  {str(t['shape']):<14} {int(np.prod(t['shape']))}")
    o = s["optimizer"]
    print(f"optimizer   AdamW, step {o['step']}" if o else "optimizer   none (model-only checkpoint)")
    if s["routing"]:
        r = s["routing"]
        print(f"routing     {r['rule']}, chosen on {r['split']} ({r['split_examples']} examples) by {r['criterion']}: "
              f"accuracy {100 * r['accuracy']:.1f}%, think rate {100 * r['think_rate']:.1f}%, {r['mean_tokens']:.1f} tokens")
    t = s["train"]
    if t:
        print(f"training    stage {t['stage']}, step {t['step']}, rng_state {t['rng_state']:#x}")
        print("recipe")
        for line in (t["recipe"][:-1] if t["recipe"].endswith("\n") else t["recipe"]).split("\n"):
            print(f"  | {line}")
    else:
        print("training    none")


def compare(ours, theirs):
    """Differences between this summary and `reckon inspect --json`; empty when they agree."""
    problems = []

    def same(what, a, b):
        close = isinstance(a, float) or isinstance(b, float)
        if (close and not math.isclose(float(a), float(b), rel_tol=1e-6)) or (not close and a != b):
            problems.append(f"{what}: h5py reads {a!r}, reckon inspect says {b!r}")

    for k in CONFIG_INTS + CONFIG_FLOATS + ["tied_embeddings"]:
        same(f"config {k}", ours["config"][k], theirs["config"][k])
    same("parameter_count", ours["parameter_count"], theirs["parameter_count"])
    same("tensor names", [t["name"] for t in ours["tensors"]], [t["name"] for t in theirs["tensors"]])
    for a, b in zip(ours["tensors"], theirs["tensors"]):
        same(f"shape of {a['name']}", a["shape"], b["shape"])
    same("has_optimizer", ours["has_optimizer"], theirs["has_optimizer"])
    if ours["optimizer"] and theirs["optimizer"]:
        same("optimizer step", ours["optimizer"]["step"], theirs["optimizer"]["step"])
    same("has train", ours["train"] is not None, theirs["train"] is not None)
    if ours["train"] and theirs["train"]:
        for k in ["stage", "step", "recipe", "rng_state"]:
            same(f"train {k}", ours["train"][k], theirs["train"][k])
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--compare-json", metavar="FILE", help="`reckon inspect --json` output to check against ('-' = stdin)")
    args = parser.parse_args()

    try:
        summary = summarize(args.checkpoint)
    except (OSError, KeyError) as e:  # h5py raises these for unreadable data and absent objects
        fail(args.checkpoint, f"cannot read the checkpoint ({e})")
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_summary(summary)
    if args.compare_json:
        with (sys.stdin if args.compare_json == "-" else open(args.compare_json)) as fh:
            theirs = json.load(fh)
        problems = compare(summary, theirs)
        for p in problems:
            print(f"MISMATCH {p}", file=sys.stderr)
        if problems:
            sys.exit(1)
        print(f"agrees with reckon inspect: {len(summary['tensors'])} tensor shapes, "
              f"{summary['parameter_count']} parameters, config, optimizer and training state")


if __name__ == "__main__":
    main()

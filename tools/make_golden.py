#!/usr/bin/env python3
"""Regenerates the golden greedy tokens of the shipped default checkpoint.

Runs `reckon eval` without --checkpoint (so on the default the binary picks) on the ten
prompts of Tests/ReckonCLITests/Golden/prompts.jsonl with --routing threshold:0.5,short
(token 0 the likelier of <think> and <short>, then forced <short>; the rest greedy), and
writes every response's token ids and p(think) to Tests/ReckonCLITests/Golden/greedy.json,
keyed to the checkpoint's file name and SHA-256. ReckonCLITests.GoldenTests checks the
binary against that file.

Run it after the default checkpoint changes:

    swift build -c release --product reckon && python3 tools/make_golden.py
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "Tests", "ReckonCLITests", "Golden")
# The model's own greedy choice (every prompt here thinks), then forced <short>, so both
# answer grammars are pinned down.
ROUTING = "threshold:0.5,short"
MAX_TOKENS = 200


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reckon", default=os.path.join(ROOT, ".build", "release", "reckon"), help="the reckon binary")
    args = ap.parse_args()
    prompts = os.path.join(GOLDEN, "prompts.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "eval.json")
        cmd = [args.reckon, "eval", "--data", prompts, "--routing", ROUTING, "--max-tokens", str(MAX_TOKENS),
               "--threads", "1", "--records", "--json", out]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"make_golden: {' '.join(cmd)} failed:\n{run.stderr}")
        found = re.search(r"using the shipped default (\S+)", run.stderr)
        if not found:
            sys.exit(f"make_golden: the binary did not name its default checkpoint:\n{run.stderr}")
        checkpoint = os.path.normpath(os.path.join(ROOT, found.group(1)))
        with open(out) as f:
            greedy, short = json.load(f)
    with open(checkpoint, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    cases = [{"id": g["id"], "p_think": g["p_think"], "tokens": g["tokens"], "short_tokens": s["tokens"]}
             for g, s in zip(greedy["records"], short["records"])]
    header = {
        "checkpoint": os.path.basename(checkpoint),
        "sha256": sha,
        "routing": ROUTING,
        "max_tokens": MAX_TOKENS,
        "regenerate": "swift build -c release --product reckon && python3 tools/make_golden.py",
    }
    # One case per line, so a diff shows which prompt changed.
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in header.items()]
    lines += [' "cases": [', ",\n".join(f"  {json.dumps(c)}" for c in cases), " ]"]
    path = os.path.join(GOLDEN, "greedy.json")
    with open(path, "w") as f:
        f.write("{\n" + "\n".join(lines) + "\n}\n")
    print(f"wrote {path}: {len(cases)} prompts, {os.path.basename(checkpoint)} sha256 {sha[:16]}…")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Accuracy after a cut think, per server: each server is a `reckon serve` started with the
`--think-close-text` under test (docs/http-api.md, "The graceful close of a cut think").

    reckon data gen --task overthink --n 60 --dialects sae,symbolic --seed 7 --out cut.jsonl
    reckon serve --port 8123 &                          # the default closing text
    reckon serve --port 8124 --think-close-text "" &    # </think> alone
    python3 tools/think_close_eval.py --data cut.jsonl --server "default=http://127.0.0.1:8123" \
        --server "bare=http://127.0.0.1:8124" --budgets 16,32

Every prompt is forced to think (`routing` think) with `thinking_token_budget` B and graded by
the server (`expected_answer`). Prints one line per server and budget.
"""
import argparse
import json
import urllib.request


def ask(base, prompt, answer, budget, max_tokens):
    body = {"prompt": prompt, "max_tokens": max_tokens, "routing": "think", "expected_answer": answer}
    if budget is not None:
        body["thinking_token_budget"] = budget
    req = urllib.request.Request(f"{base}/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="JSONL with prompt and answer (reckon data gen)")
    ap.add_argument("--server", action="append", required=True, help="NAME=BASE_URL, repeatable")
    ap.add_argument("--budgets", default="16,32", help="comma-separated thinking_token_budget values; 'none' for no cap")
    ap.add_argument("--max-tokens", type=int, default=200)
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.data) if line.strip()]
    budgets = [None if b == "none" else int(b) for b in args.budgets.split(",")]
    for budget in budgets:
        for spec in args.server:
            name, base = spec.split("=", 1)
            res = [ask(base, r["prompt"], r["answer"], budget, args.max_tokens) for r in rows]
            cut = [o for o in res if o["think_truncated"]]
            answer_bytes = sum(len(o["choices"][0]["text"].encode()) for o in res) / len(res)
            print(f"budget {budget if budget is not None else 'none':>4} {name:>10}: correct {sum(o['correct'] for o in res)}/{len(res)}, "
                  f"cut {len(cut)}, correct among cut {sum(o['correct'] for o in cut)}/{len(cut)}, "
                  f"mean answer bytes {answer_bytes:.1f}")


if __name__ == "__main__":
    main()

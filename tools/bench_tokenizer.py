#!/usr/bin/env python3
"""Encode speed, Reckon's BPE against Hugging Face `tokenizers`, on the same text in one run.

Text: the committed tokenizer corpus (Tests/ReckonModelTests/Fixtures/tokenizer-corpus.json),
repeated to --repeat copies, one string per line. Both sides start cold (a fresh tokenizer per
pass, so no warm piece cache carries over) and encode line by line on one thread; medians of
--passes passes are printed with their ratio.

    swift build -c release --product reckon
    python3 tools/bench_tokenizer.py --reckon .build/release/reckon
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
from tokenizers import Tokenizer  # noqa: E402

FIX = os.path.join(os.path.dirname(__file__), "..", "Tests", "ReckonModelTests", "Fixtures")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reckon", required=True)
    ap.add_argument("--tokenizer", default=os.path.join(FIX, "smollm2-tokenizer.json"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()

    rows = json.load(open(os.path.join(FIX, "tokenizer-corpus.json"), encoding="utf-8"))
    lines = [r["text"].replace("\n", " ") for r in rows] * args.repeat
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines))
        path = f.name
    nbytes = os.path.getsize(path)

    out = subprocess.run([args.reckon, "tokenize", "--tokenizer", args.tokenizer, "--file", path,
                          "--parse-specials", "--bench", str(args.passes)], check=True, capture_output=True, text=True).stdout
    reckon = json.loads(out.strip().splitlines()[-1])

    rates, n = [], 0
    for _ in range(args.passes):
        tok = Tokenizer.from_file(args.tokenizer)
        t0 = time.perf_counter()
        n = sum(len(tok.encode(line, add_special_tokens=False).ids) for line in lines)
        rates.append(n / (time.perf_counter() - t0))
    hf = statistics.median(rates)
    batch_rates = []
    for _ in range(args.passes):
        tok = Tokenizer.from_file(args.tokenizer)
        t0 = time.perf_counter()
        nb = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))
        batch_rates.append(nb / (time.perf_counter() - t0))
    hf_batch = statistics.median(batch_rates)
    os.unlink(path)

    print(f"text: {len(lines)} lines, {nbytes / 1e6:.2f} MB; tokenizer {os.path.basename(args.tokenizer)}; 1 thread, median of {args.passes}")
    print(f"| encoder | tokens | tokens/s |")
    print(f"|---|---:|---:|")
    print(f"| Reckon BPETokenizer | {reckon['tokens']} | {reckon['median_tokens_per_s']:,.0f} |")
    print(f"| HF tokenizers {__import__('tokenizers').__version__} (encode per line) | {n} | {hf:,.0f} |")
    print(f"| HF tokenizers {__import__('tokenizers').__version__} (encode_batch, RAYON_NUM_THREADS=1) | {nb} | {hf_batch:,.0f} |")
    print(f"Reckon / HF encode: {reckon['median_tokens_per_s'] / hf:.2f}x; Reckon / HF encode_batch: {reckon['median_tokens_per_s'] / hf_batch:.2f}x")
    if reckon["tokens"] != n:
        print(f"warning: token counts differ ({reckon['tokens']} vs {n})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""llama.cpp on Reckon's GGUF export: its greedy tokens against the committed references.

Loads a GGUF written by `reckon export --format gguf` with llama-cpp-python (pip builds
llama.cpp from source; see docs/import.md for the time it takes), runs the 20 committed
SmolLM2 prompts (their token ids, so no tokenizer is involved), decodes 64 tokens greedily
(argmax of llama.cpp's logits, no stop on EOS) and compares them with the transformers
reference in Tests/ReckonImportTests/Fixtures/smollm2_reference.json, which
ReckonImportTests.ParityTests shows Reckon matches token for token. Also prints the
relative max-abs difference of the last-position logits on the 4 committed full rows.

    python3 -m pip install llama-cpp-python         # builds llama.cpp (CPU)
    reckon import checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smollm2.h5
    reckon export --format gguf /tmp/smollm2.h5 /tmp/smollm2-f32.gguf
    python3 tools/llamacpp_parity.py /tmp/smollm2-f32.gguf [--threads 2]
Exit status 0 when every continuation is identical.
"""
import argparse
import json
import os
import sys
import numpy as np
from llama_cpp import Llama

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ReckonImportTests", "Fixtures")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    ref = json.load(open(os.path.join(FIXTURES, "smollm2_reference.json")))
    rows = np.fromfile(os.path.join(FIXTURES, "smollm2_rows.f32"), dtype="<f4").reshape(-1, ref["vocab_size"])
    # logits_all: without it this llama-cpp-python leaves `scores` at zero after eval().
    llm = Llama(model_path=a.gguf, n_ctx=256, n_threads=a.threads, n_threads_batch=a.threads, logits_all=True, verbose=False)
    V = ref["vocab_size"]
    identical = 0
    for i, p in enumerate(ref["prompts"]):
        llm.reset()
        llm.eval(p["ids"])
        first = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        if "full_row" in p:
            r = rows[p["full_row"]]
            print(f"prompt {i}: last-position logits vs transformers, relative max-abs {np.abs(first[:V] - r).max() / np.abs(r).max():.2e}")
        out = []
        logits = first
        for _ in range(ref["greedy_steps"]):
            tok = int(np.argmax(logits))
            out.append(tok)
            llm.eval([tok])
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        same = out == p["greedy"]
        identical += same
        if not same:
            k = next(j for j, (x, y) in enumerate(zip(out, p["greedy"])) if x != y)
            print(f"prompt {i} ({p['kind']}): first difference at token {k}: llama.cpp {out[k]}, reference {p['greedy'][k]}")
    print(f"llama.cpp greedy continuations identical to the reference (and so to Reckon's): {identical}/{len(ref['prompts'])}")
    sys.exit(0 if identical == len(ref["prompts"]) else 1)


if __name__ == "__main__":
    main()

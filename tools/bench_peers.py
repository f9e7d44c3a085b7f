#!/usr/bin/env python3
"""Reckon against its peers on a pretrained model, side by side in one run.

Measures, at each thread count, the figures `reckon bench --checkpoint` prints, the same way
for every engine:
  * decode tokens/s at batch 1 and batch 32: a random 64-token prompt per sequence is
    prefilled (untimed), then 128 greedy steps of one token per sequence are timed one by
    one; batch / the median step time (robust to a step another process preempted);
  * prefill tokens/s: one random 256-token prompt in one call (median of 5 after a warm-up);
  * training tokens/s: full fine-tuning with AdamW (all parameters) on random tokens at
    B = 8 (--train-batch), T = 256 (median of --train-steps after one warm-up step). Not for llama.cpp,
    which does not train.

Engines:
  * Reckon: `reckon bench --checkpoint CKPT --thread-counts N --json ...`, run as a subprocess;
  * llama.cpp through llama-cpp-python's low-level API (llama_batch / llama_decode), on the
    F32 GGUF that `reckon export --format gguf --type f32` writes from the same checkpoint;
  * transformers (PyTorch eager, fp32, attn_implementation="eager"), loading the source
    GGUF (dequantised to fp32 as `reckon import` does), with torch.set_num_threads(N).

The engines take turns within every round (Reckon, llama.cpp, transformers at 1 thread, then
at 2, ...), so machine drift hits them alike; the table holds medians over --rounds.

    reckon import checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smollm2.h5
    reckon export --format gguf --type f32 /tmp/smollm2.h5 /tmp/smollm2-f32.gguf
    python3 tools/bench_peers.py --reckon .build/release/reckon --checkpoint /tmp/smollm2.h5 \\
        --gguf /tmp/smollm2-f32.gguf --rounds 3 --json /tmp/peers.json

--engines picks a subset (e.g. --engines llama.cpp,transformers); --skip-train skips training;
--skip-products skips Reckon's compute-bound figures (the sgemm peak, the decode-step products
at 1 and 32 rows, and the batch-32 ceiling they allow, `decode_batch_ratio_ceiling`).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PROMPT, NEW, PREFILL, TRAIN_B, TRAIN_T = 64, 128, 256, 8, 256


# ---------------------------------------------------------------- llama.cpp

class LlamaCpp:
    """One model, one context per thread count, driven through llama_batch."""

    def __init__(self, path, max_seqs=32):
        import llama_cpp as L
        self.L = L
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.max_seqs = max_seqs
        self.ctx = None

    def context(self, threads, n_ctx, n_seqs):
        L = self.L
        if self.ctx:
            L.llama_free(self.ctx)
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = max(512, PREFILL)
        cp.n_ubatch = max(512, PREFILL)
        cp.n_seq_max = n_seqs
        cp.n_threads = threads
        cp.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise SystemExit("llama.cpp could not create a context")

    def clear(self):
        L = self.L
        if hasattr(L, "llama_get_memory"):
            L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        else:
            L.llama_kv_self_clear(self.ctx)

    def decode(self, rows, logits_for):
        """rows: list of (token, pos, seq); logits_for: indices of rows whose logits are kept.
        Returns {row index: logits (V,)}."""
        L = self.L
        batch = L.llama_batch_init(len(rows), 0, 1)
        try:
            batch.n_tokens = len(rows)
            want = set(logits_for)
            for i, (tok, pos, seq) in enumerate(rows):
                batch.token[i] = tok
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 1 if i in want else 0
            rc = L.llama_decode(self.ctx, batch)
            if rc != 0:
                raise SystemExit(f"llama_decode returned {rc}")
            out = {}
            for i in logits_for:
                ptr = L.llama_get_logits_ith(self.ctx, i)
                out[i] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
            return out
        finally:
            L.llama_batch_free(batch)

    def measure(self, threads, rng):
        res = {}
        for b in (1, 32):
            self.context(threads, n_ctx=b * (PROMPT + NEW), n_seqs=b)
            nxt = []
            for s in range(b):
                toks = rng.integers(0, self.n_vocab, PROMPT).tolist()
                lg = self.decode([(t, p, s) for p, t in enumerate(toks)], [PROMPT - 1])
                nxt.append(int(np.argmax(lg[PROMPT - 1])))
            times = []
            for step in range(NEW):
                t0 = time.perf_counter()
                lg = self.decode([(nxt[s], PROMPT + step, s) for s in range(b)], list(range(b)))
                nxt = [int(np.argmax(lg[s])) for s in range(b)]
                times.append(time.perf_counter() - t0)
            res[f"decode_tokens_per_s_batch{b}"] = b / statistics.median(times)
        self.context(threads, n_ctx=PREFILL, n_seqs=1)
        toks = rng.integers(0, self.n_vocab, PREFILL).tolist()
        times = []
        for trial in range(6):
            self.clear()
            t0 = time.perf_counter()
            self.decode([(t, p, 0) for p, t in enumerate(toks)], [PREFILL - 1])
            if trial:
                times.append(time.perf_counter() - t0)
        res["prefill_tokens_per_s"] = PREFILL / statistics.median(times)
        return res


# ---------------------------------------------------------------- transformers

class Transformers:
    def __init__(self, gguf_path):
        import torch
        from transformers import AutoModelForCausalLM
        self.torch = torch
        folder, name = os.path.split(os.path.abspath(gguf_path))
        self.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32,
                                                          attn_implementation="eager")
        self.V = self.model.config.vocab_size

    def measure(self, threads, rng, train, train_steps, decode=True):
        torch = self.torch
        torch.set_num_threads(threads)
        m = self.model
        m.eval()
        res = {}
        if decode:
            with torch.no_grad():
                for b in (1, 32):
                    ids = torch.tensor(rng.integers(0, self.V, (b, PROMPT)), dtype=torch.long)
                    out = m(ids, use_cache=True)
                    past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                    times = []
                    for _ in range(NEW):
                        t0 = time.perf_counter()
                        out = m(nxt, past_key_values=past, use_cache=True)
                        past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                        times.append(time.perf_counter() - t0)
                    res[f"decode_tokens_per_s_batch{b}"] = b / statistics.median(times)
                ids = torch.tensor(rng.integers(0, self.V, (1, PREFILL)), dtype=torch.long)
                times = []
                for trial in range(6):
                    t0 = time.perf_counter()
                    m(ids, use_cache=True)
                    if trial:
                        times.append(time.perf_counter() - t0)
                res["prefill_tokens_per_s"] = PREFILL / statistics.median(times)
        if train:
            import copy
            tm = copy.deepcopy(m)  # the decode model keeps its weights
            tm.train()
            opt = torch.optim.AdamW(tm.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1)
            x = torch.tensor(rng.integers(0, self.V, (TRAIN_B, TRAIN_T)), dtype=torch.long)
            y = torch.tensor(rng.integers(0, self.V, (TRAIN_B, TRAIN_T)), dtype=torch.long)
            times = []
            for step in range(train_steps + 1):
                t0 = time.perf_counter()
                logits = tm(x, use_cache=False).logits
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                del logits, loss
                if step:
                    times.append(time.perf_counter() - t0)
                    print(f"    transformers train step {step}/{train_steps}: {times[-1]:.2f} s", flush=True)
            res["train_tokens_per_s"] = TRAIN_B * TRAIN_T / statistics.median(times)
            del tm, opt
        return res


# ---------------------------------------------------------------- Reckon

def reckon(binary, ckpt, threads, train, train_steps, micro, decode=True, products=True):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [binary, "bench", "--checkpoint", ckpt, "--thread-counts", str(threads), "--json", path,
           "--train-steps", str(train_steps), "--micro-batch", str(micro),
           "--batch", str(TRAIN_B), "--seq-len", str(TRAIN_T)]
    if not products:
        cmd.append("--skip-products")
    if not train:
        cmd.append("--skip-train")
    if not decode:
        cmd.append("--skip-decode")
    subprocess.run(cmd, check=True)
    fig = json.load(open(path))
    os.unlink(path)
    p = f"t{threads}_"
    return {k[len(p):]: v for k, v in fig.items() if k.startswith(p)}


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reckon", default=".build/release/reckon")
    ap.add_argument("--checkpoint", help="Reckon checkpoint (reckon import)")
    ap.add_argument("--gguf", help="F32 GGUF export of the same checkpoint, for llama.cpp")
    ap.add_argument("--source", default="checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf",
                    help="GGUF that transformers loads")
    ap.add_argument("--engines", default="reckon,llama.cpp,transformers")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--micro-batch", type=int, default=0, help="Reckon's --micro-batch")
    ap.add_argument("--train-batch", type=int, default=8, help="sequences of 256 tokens per training step")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-decode", action="store_true", help="training only (llama.cpp is then left out)")
    ap.add_argument("--skip-products", action="store_true",
                    help="skip Reckon's compute-bound figures (sgemm peak, products at the decode shapes)")
    ap.add_argument("--json")
    a = ap.parse_args()
    globals()["TRAIN_B"] = a.train_batch
    engines = a.engines.split(",")
    threads = [int(t) for t in a.threads.split(",")]
    train, decode = not a.skip_train, not a.skip_decode
    if not decode:
        engines = [e for e in engines if e != "llama.cpp"]
    peers = {}
    if "llama.cpp" in engines:
        peers["llama.cpp"] = LlamaCpp(a.gguf)
    if "transformers" in engines:
        peers["transformers"] = Transformers(a.source)
    results = {}  # (engine, threads, figure) -> [values]
    rng = np.random.default_rng(0)
    for r in range(a.rounds):
        for t in threads:
            for e in engines:
                print(f"round {r + 1}/{a.rounds}, {t} thread(s): {e}", flush=True)
                if e == "reckon":
                    fig = reckon(a.reckon, a.checkpoint, t, train, a.train_steps, a.micro_batch, decode, not a.skip_products)
                elif e == "llama.cpp":
                    fig = peers[e].measure(t, rng)
                else:
                    fig = peers[e].measure(t, rng, train, a.train_steps, decode)
                for k, v in fig.items():
                    results.setdefault(f"{e}|{t}|{k}", []).append(v)
                print("   " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(fig.items())), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    figures = ["decode_tokens_per_s_batch1", "decode_tokens_per_s_batch32", "prefill_tokens_per_s", "train_tokens_per_s"]
    print(f"\nmedians over {a.rounds} round(s)")
    for t in threads:
        print(f"\n{t} thread(s) | " + " | ".join(engines))
        for f in figures:
            print(f"{f} | " + " | ".join(f"{med[f'{e}|{t}|{f}']:.1f}" if f"{e}|{t}|{f}" in med else "-" for e in engines))
        one, many = "decode_tokens_per_s_batch1", "decode_tokens_per_s_batch32"
        if any(f"{e}|{t}|{one}" in med for e in engines):
            print("batch-32 / batch-1 | " + " | ".join(
                f"{med[f'{e}|{t}|{many}'] / med[f'{e}|{t}|{one}']:.2f}x" if f"{e}|{t}|{many}" in med else "-" for e in engines))
        if f"reckon|{t}|decode_bound_tokens_per_s" in med:
            for f in ["copy_gb_per_s", "read_gb_per_s", "decode_bound_tokens_per_s", "decode_bound_read_tokens_per_s",
                      "decode_fraction_of_bound", "decode_fraction_of_read_bound", "decode_batch_ratio",
                      "sgemm_gflops", "shapes_in_cache_gflops_rows32", "shapes_in_cache_openblas_gflops_rows32",
                      "shapes_in_cache_tokens_per_s_rows32", "decode_batch_ratio_ceiling",
                      "decode_batch32_bound_at_peak", "decode_batch_ratio_ceiling_at_peak",
                      "products_tokens_per_s_rows32", "products_openblas_tokens_per_s_rows32"]:
                if f"reckon|{t}|{f}" in med:
                    print(f"reckon {f}: {med[f'reckon|{t}|{f}']:.3f}")
    if a.json:
        json.dump({"medians": med, "all": results}, open(a.json, "w"), indent=1, sort_keys=True)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    sys.exit(main())

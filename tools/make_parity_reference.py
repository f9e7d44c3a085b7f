#!/usr/bin/env python3
"""Reference logits and greedy continuations from transformers (fp32, eager) for the import
parity tests (ReckonImportTests.ParityTests; docs/import.md).

  smollm2   SmolLM2-135M-Instruct from the fetched GGUF (tools/fetch_base.sh), loaded with
            AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=float32).
            20 prompts (12 plain, 8 chat via the model's own chat template); their token ids
            come from the same file's tokenizer and are committed with the text. Per position:
            the top-20 logits (ids, values) and max |logit|; full logit rows for the last
            position of 4 prompts (smollm2_rows.f32, little-endian float32); and 64 greedy
            tokens per prompt (argmax each step, no stop on EOS).
  tiny      The tiny random Llama and Qwen2 folders in Tests/ReckonImportTests/Fixtures (written
            by tools/make_tiny_hf_models.py): every position's full logits and 32 greedy tokens.

    python3 tools/make_parity_reference.py smollm2 [--gguf checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf] [--shard 0/2]
    python3 tools/make_parity_reference.py tiny
"""
import argparse
import json
import os
import struct
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "Tests", "ReckonImportTests", "Fixtures")

PLAIN = [
    "The capital of France is",
    "What do you get when you add 9 and 7?",
    "47*6 =",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "Water boils at",
    "I'm gonna tell ya, the thing about numbers is",
    "La tour Eiffel est située à",
    "1, 2, 3, 4,",
    "The quick brown fox",
    "In 1969, astronauts",
    "Twelve plus thirty-five equals",
]
CHAT = [
    "What is 47+8?",
    "Tell me a joke about cats.",
    "Explain photosynthesis in one sentence.",
    "How many legs does a spider have?",
    "Write a haiku about the sea.",
    "What's 9 times 7, innit?",
    "Translate 'good morning' into Spanish.",
    "Is 91 a prime number?",
]


def greedy(model, ids, steps):
    """Argmax continuation with the KV cache, never stopping early."""
    out = []
    with torch.no_grad():
        res = model(torch.tensor([ids]), use_cache=True)
        past, logits = res.past_key_values, res.logits[0, -1]
        for _ in range(steps):
            tok = int(torch.argmax(logits))
            out.append(tok)
            res = model(torch.tensor([[tok]]), past_key_values=past, use_cache=True)
            past, logits = res.past_key_values, res.logits[0, -1]
    return out


def logits_of(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def smollm2(gguf_path, shard, cache_dir):
    """Shard i/n computes prompts i, i+n, ...; each prompt's result is cached in cache_dir as it
    finishes, so several shards can run at once and a rerun resumes. Every shard writes the
    reference files once all prompts are cached."""
    folder, name = os.path.split(os.path.abspath(gguf_path))
    torch.set_num_threads(1)
    k, n = (int(x) for x in shard.split("/"))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = None
    prompts = [{"kind": "plain", "text": t, "ids": tok(t, add_special_tokens=False)["input_ids"]} for t in PLAIN]
    for t in CHAT:
        enc = tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                      tokenize=True, return_dict=True)
        prompts.append({"kind": "chat", "text": t, "ids": list(enc["input_ids"])})
    full_rows = [0, 2, 12, 13]
    os.makedirs(cache_dir, exist_ok=True)
    for i, p in enumerate(prompts):
        cached = os.path.join(cache_dir, f"{i}.json")
        if i % n != k or os.path.exists(cached):
            continue
        if model is None:
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
            model.eval()
        lg = logits_of(model, p["ids"])
        top = np.argsort(-lg, axis=1, kind="stable")[:, :20]
        p["top_ids"] = top.tolist()
        p["top_logits"] = [[float(lg[r, j]) for j in row] for r, row in enumerate(top)]
        p["max_abs"] = [float(np.abs(lg[r]).max()) for r in range(lg.shape[0])]
        if i in full_rows:
            p["full_row"] = full_rows.index(i)
            lg[-1].astype("<f4").tofile(cached + ".row")
        p["greedy"] = greedy(model, p["ids"], 64)
        with open(cached, "w") as f:
            json.dump(p, f)
        print(i, p["kind"], repr(p["text"]), len(p["ids"]), "->", repr(tok.decode(p["greedy"][:16])), flush=True)
    if not all(os.path.exists(os.path.join(cache_dir, f"{i}.json")) for i in range(len(prompts))):
        print("some prompts are still being computed by other shards")
        return
    prompts = [json.load(open(os.path.join(cache_dir, f"{i}.json"))) for i in range(len(prompts))]
    rows_blob = [np.fromfile(os.path.join(cache_dir, f"{i}.json.row"), dtype="<f4") for i in full_rows]
    ref = {"source": name, "vocab_size": int(rows_blob[0].shape[0]), "top_k": 20, "greedy_steps": 64,
           "transformers": __import__("transformers").__version__, "torch": torch.__version__, "prompts": prompts}
    with open(os.path.join(FIXTURES, "smollm2_reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    np.concatenate(rows_blob).tofile(os.path.join(FIXTURES, "smollm2_rows.f32"))


def tiny():
    torch.set_num_threads(2)
    texts = ["hello world", "47+8 = 55", "the cat sat on the mat", "what is 9 plus 7?"]
    for name in ("tiny-llama", "tiny-qwen2"):
        folder = os.path.join(FIXTURES, name)
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
        model.eval()
        prompts = []
        for t in texts:
            ids = tok(t, add_special_tokens=False)["input_ids"]
            lg = logits_of(model, ids)
            prompts.append({"text": t, "ids": ids, "logits": [[float(x) for x in row] for row in lg],
                            "greedy": greedy(model, ids, 32)})
        with open(os.path.join(FIXTURES, f"{name}_reference.json"), "w") as f:
            json.dump({"model": name, "greedy_steps": 32, "prompts": prompts}, f, separators=(",", ":"))
        print(name, [len(p["ids"]) for p in prompts])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["smollm2", "tiny"])
    ap.add_argument("--gguf", default=os.path.join(ROOT, "checkpoints", "base", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--shard", default="0/1", help="i/n: compute prompts i, i+n, ... (run n at once to use n cores)")
    ap.add_argument("--cache", default="/tmp/reckon-parity-cache", help="folder for per-prompt results")
    a = ap.parse_args()
    smollm2(a.gguf, a.shard, a.cache) if a.which == "smollm2" else tiny()

#!/usr/bin/env python3
"""PyTorch peer benchmark for one Reckon training step (CPU, float32, eager).

Builds the same decoder-only Llama-style model as Reckon's Swift trainer in
plain PyTorch (no Hugging Face), times full training steps, and reports the
median step time, tokens/s and MFU so the two can be compared side by side.

Architecture (no biases anywhere):
  * token embedding (V, d); separate untied classifier (V, d) unless --tied
  * n_layers pre-norm blocks:
        x = x + Attn(RMSNorm(x));  x = x + MLP(RMSNorm(x))
  * RMSNorm: eps 1e-5, weight only
  * RoPE, theta 10000, on interleaved pairs (llama2.c style): pair j of a head
    rotates (x[2j], x[2j+1]) by angle pos * theta^(-2j/head_dim)
  * causal multi-head attention; n_kv_heads < n_heads is supported by
    repeating each kv head n_heads/n_kv_heads times (query head h reads kv
    head h // n_rep)
  * SwiGLU MLP: w2(silu(w1 x) * w3 x)
  * final RMSNorm, then the classifier

One training step = forward, cross-entropy over all B*T tokens against random
targets, backward, torch.optim.AdamW.step (lr 3e-4, weight decay 0.1 on every
parameter), zero_grad. 3 warm-up steps, then --steps timed steps with
time.perf_counter; the median is reported.

FLOPs per step (the usual "6N" estimate plus attention):

    tokens          = B * T
    flops_per_step  = 6 * N_params * tokens  +  12 * L * T * d * tokens

where N_params counts every parameter, embedding and classifier included
(so a tied model counts the shared matrix once). The attention term is
12 * L * T * d per token: per layer, one token's QK^T and AV each take
T * d multiply-adds = 2 * T * d FLOPs, so 4 * T * d forward, times 3 for
forward + backward. Like the usual convention it ignores the causal mask
(which would halve that work) and the non-matmul ops.

MFU = (flops_per_step / median step seconds) / peak. The peak is
--peak-gflops if given, otherwise measured here: the median GFLOP/s of
torch.matmul on 512x512 float32 matrices with the same thread count,
repeated for about one second.

--decode additionally measures greedy decoding with a simple KV cache
(batch 1 and batch 32, 256 new tokens after a 16-token random prompt) for
reference; it does not affect the training figures.

Example:
    python3 tools/bench_torch.py --json /tmp/bench_torch.json
    python3 tools/bench_torch.py --decode
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, max_len, theta=10000.0):
    """cos/sin tables of shape (max_len, head_dim/2).

    Entry [pos, j] holds the angle pos * theta^(-2j/head_dim) used for the
    interleaved pair (x[2j], x[2j+1]).
    """
    j = torch.arange(0, head_dim, 2, dtype=torch.float64)          # 2j
    inv_freq = theta ** (-j / head_dim)
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    # Computed in float64 and then cast so large positions keep their accuracy.
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):
    """Rotate interleaved pairs. x: (B, H, T, hd); cos/sin: (T, hd/2)."""
    x2 = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = x2[..., 0], x2[..., 1]
    out0 = x0 * cos - x1 * sin
    out1 = x0 * sin + x1 * cos
    return torch.stack((out0, out1), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads, attn_impl):
        super().__init__()
        assert dim % n_heads == 0 and n_heads % n_kv_heads == 0
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.n_rep = n_heads // n_kv_heads
        self.head_dim = dim // n_heads
        self.attn_impl = attn_impl
        self.wq = nn.Linear(dim, n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(n_heads * self.head_dim, dim, bias=False)

    def forward(self, x, cos, sin, cache=None, start_pos=0):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)

        if cache is not None:
            # Write this chunk into the preallocated cache and attend over
            # everything up to and including it.
            k_cache, v_cache = cache
            k_cache[:B, :, start_pos:start_pos + T] = k
            v_cache[:B, :, start_pos:start_pos + T] = v
            k = k_cache[:B, :, :start_pos + T]
            v = v_cache[:B, :, :start_pos + T]

        if self.n_rep > 1:
            k = k.repeat_interleave(self.n_rep, dim=1)
            v = v.repeat_interleave(self.n_rep, dim=1)

        # Causal masking: a single new query may see the whole cache; a chunk
        # starting at position 0 is the plain causal case; anything else needs
        # an explicit mask offset by start_pos.
        S = k.shape[2]
        mask = None
        is_causal = False
        if T > 1:
            if start_pos == 0:
                is_causal = True
            else:
                mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=start_pos)

        if self.attn_impl == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        else:
            # Explicit matmul/softmax path, closer to a hand-written kernel.
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            if is_causal:
                mask = torch.ones(T, S, dtype=torch.bool).tril()
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            y = scores.softmax(dim=-1) @ v

        y = y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
        return self.wo(y)


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.attn)
        self.mlp_norm = RMSNorm(cfg.dim)
        self.mlp = MLP(cfg.dim, cfg.hidden)

    def forward(self, x, cos, sin, cache=None, start_pos=0):
        x = x + self.attn(self.attn_norm(x), cos, sin, cache, start_pos)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg, max_len):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim)
        self.classifier = nn.Linear(cfg.dim, cfg.vocab, bias=False)
        if cfg.tied:
            self.classifier.weight = self.embed.weight
        cos, sin = rope_tables(cfg.dim // cfg.n_heads, max_len)
        # Buffers, not parameters: they are not trained or counted.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        # llama2.c-like init; the values do not matter for timing, but keep
        # the loss sane (about ln V at start).
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, mean=0.0, std=0.02)

    def forward(self, tokens, caches=None, start_pos=0):
        _, T = tokens.shape
        cos = self.rope_cos[start_pos:start_pos + T]
        sin = self.rope_sin[start_pos:start_pos + T]
        x = self.embed(tokens)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i], start_pos)
        return self.classifier(self.norm(x))


def count_params(model):
    # model.parameters() yields a tied tensor once, so tied weights count once.
    return sum(p.numel() for p in model.parameters())


def flops_per_step(n_params, cfg):
    tokens = cfg.batch * cfg.seq_len
    return 6 * n_params * tokens + 12 * cfg.n_layers * cfg.seq_len * cfg.dim * tokens


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

def measure_matmul_gflops(n=512, target_seconds=1.0):
    """Median GFLOP/s of an n x n float32 torch.matmul, over ~target_seconds."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    c = torch.empty(n, n)
    flops = 2.0 * n ** 3
    for _ in range(5):  # warm up threads and caches
        torch.matmul(a, b, out=c)
    rates = []
    start = time.perf_counter()
    while time.perf_counter() - start < target_seconds or len(rates) < 10:
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        rates.append(flops / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def bench_train(cfg):
    torch.manual_seed(cfg.seed)
    model = Transformer(cfg, max_len=cfg.seq_len)
    n_params = count_params(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step_model = torch.compile(model) if cfg.compile else model

    # One fixed random batch: data loading is not part of what we compare.
    x = torch.randint(0, cfg.vocab, (cfg.batch, cfg.seq_len))
    y = torch.randint(0, cfg.vocab, (cfg.batch, cfg.seq_len))

    def step():
        logits = step_model(x)
        loss = F.cross_entropy(logits.view(-1, cfg.vocab), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # .item() also makes sure all work is finished

    losses = []
    for _ in range(cfg.warmup):
        losses.append(step())
    times = []
    for _ in range(cfg.steps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    return model, n_params, times, losses


@torch.inference_mode()
def bench_decode(model, cfg, batch, prompt_len=16, new_tokens=256):
    """Greedy decode with a KV cache; returns (prefill_s, total_s, tok/s)."""
    mc = model.cfg
    max_len = prompt_len + new_tokens
    head_dim = mc.dim // mc.n_heads
    caches = [
        (torch.zeros(batch, mc.n_kv_heads, max_len, head_dim),
         torch.zeros(batch, mc.n_kv_heads, max_len, head_dim))
        for _ in range(mc.n_layers)
    ]
    g = torch.Generator().manual_seed(cfg.seed)
    prompt = torch.randint(0, mc.vocab, (batch, prompt_len), generator=g)

    t0 = time.perf_counter()
    logits = model(prompt, caches, start_pos=0)
    tok = logits[:, -1].argmax(-1, keepdim=True)
    t_prefill = time.perf_counter() - t0
    # The prefill yields the first new token; each further one is one step.
    for i in range(1, new_tokens):
        logits = model(tok, caches, start_pos=prompt_len + i - 1)
        tok = logits[:, -1].argmax(-1, keepdim=True)
    total = time.perf_counter() - t0
    return t_prefill, total, batch * new_tokens / total


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_argument_group("model")
    m.add_argument("--dim", type=int, default=256)
    m.add_argument("--n-layers", type=int, default=4)
    m.add_argument("--n-heads", type=int, default=8)
    m.add_argument("--n-kv-heads", type=int, default=8)
    m.add_argument("--hidden", type=int, default=768)
    m.add_argument("--vocab", type=int, default=262)
    m.add_argument("--seq-len", "-T", type=int, default=256, help="context length T")
    m.add_argument("--batch", "-B", type=int, default=16)
    m.add_argument("--tied", action="store_true", help="tie classifier to the embedding")
    m.add_argument("--attn", choices=("sdpa", "math"), default="sdpa",
                   help="attention kernel: F.scaled_dot_product_attention or explicit matmul+softmax")
    r = p.add_argument_group("run")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--steps", type=int, default=10, help="timed steps")
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--lr", type=float, default=3e-4)
    r.add_argument("--weight-decay", type=float, default=0.1)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--compile", action="store_true", help="torch.compile the model (off by default)")
    r.add_argument("--peak-gflops", type=float, default=None,
                   help="peak GFLOP/s for MFU; default: measured 512x512 matmul")
    r.add_argument("--decode", action="store_true", help="also measure greedy KV-cache decode")
    r.add_argument("--json", metavar="FILE", help="write results as JSON")
    return p.parse_args(argv)


def main(argv=None):
    cfg = parse_args(argv)
    torch.set_num_threads(cfg.threads)
    torch.set_default_dtype(torch.float32)

    # Measure the matmul rate before training so both see the same machine
    # state (and we always report it, even when --peak-gflops is given).
    matmul_gflops = measure_matmul_gflops()
    peak = cfg.peak_gflops if cfg.peak_gflops is not None else matmul_gflops

    model, n_params, times, losses = bench_train(cfg)
    med = statistics.median(times)
    fps = flops_per_step(n_params, cfg)
    tokens = cfg.batch * cfg.seq_len
    achieved_gflops = fps / med / 1e9
    mfu = achieved_gflops / peak

    config = {k: getattr(cfg, k) for k in (
        "dim", "n_layers", "n_heads", "n_kv_heads", "hidden", "vocab", "seq_len",
        "batch", "tied", "attn", "compile", "steps", "warmup", "lr", "weight_decay")}

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float32, "
          f"{'compiled' if cfg.compile else 'eager'}, attn={cfg.attn}")
    print(f"model: d={cfg.dim} L={cfg.n_layers} H={cfg.n_heads} Hkv={cfg.n_kv_heads} "
          f"hidden={cfg.hidden} V={cfg.vocab} T={cfg.seq_len} B={cfg.batch} "
          f"{'tied' if cfg.tied else 'untied'}")
    print(f"params:            {n_params:,}")
    print(f"FLOPs/step:        {fps:.4e}  (6*N*{tokens} + 12*L*T*d*{tokens})")
    print(f"loss:              {losses[0]:.4f} -> {losses[-1]:.4f}")
    print(f"step time median:  {med * 1e3:.1f} ms  "
          f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f}, n={len(times)})")
    print(f"tokens/s:          {tokens / med:,.0f}")
    print(f"achieved:          {achieved_gflops:.2f} GFLOP/s")
    print(f"matmul 512 fp32:   {matmul_gflops:.2f} GFLOP/s")
    print(f"peak used:         {peak:.2f} GFLOP/s ({'given' if cfg.peak_gflops is not None else 'measured'})")
    print(f"MFU:               {mfu * 100:.1f}%")

    result = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": config,
        "n_params": n_params,
        "flops_per_step": fps,
        "step_seconds_median": med,
        "step_seconds_all": times,
        "tokens_per_s": tokens / med,
        "matmul_gflops_512": matmul_gflops,
        "peak_gflops_used": peak,
        "mfu": mfu,
    }

    if cfg.decode:
        # Decode runs on the eager model even with --compile: varying shapes
        # would just trigger recompiles.
        model.eval()
        rope_len = 16 + 256
        if model.rope_cos.shape[0] < rope_len:
            # 16 + 256 positions run past the training context; extend the
            # RoPE tables (timing only, quality is irrelevant here).
            cos, sin = rope_tables(cfg.dim // cfg.n_heads, rope_len)
            model.rope_cos, model.rope_sin = cos, sin
        bench_decode(model, cfg, batch=1, new_tokens=16)  # warm-up
        decode = {}
        for b in (1, 32):
            prefill_s, total_s, tps = bench_decode(model, cfg, batch=b)
            decode[f"batch_{b}"] = {"prompt_tokens": 16, "new_tokens": 256,
                                    "prefill_seconds": prefill_s, "total_seconds": total_s,
                                    "tokens_per_s": tps}
            print(f"decode batch {b:>2}:   {tps:,.0f} tok/s total "
                  f"({tps / b:,.1f} per stream; prefill {prefill_s * 1e3:.1f} ms, "
                  f"total {total_s:.2f} s)")
        result["decode"] = decode

    if cfg.json:
        with open(cfg.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {cfg.json}")


if __name__ == "__main__":
    main(sys.argv[1:])

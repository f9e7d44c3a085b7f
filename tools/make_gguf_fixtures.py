#!/usr/bin/env python3
"""Writes the GGUF dequantisation fixtures for ReckonImportTests with gguf-py.

Tests/ReckonImportTests/Fixtures/all_types.gguf holds one small tensor of every type Reckon
dequantises, plus metadata of every GGUF value type; all_types.json holds each tensor's
values from gguf.quants.dequantize as float32 bit patterns. Types gguf-py can quantise
(BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) are quantised from random normals; the k-quants are
random raw blocks with finite random f16 scales, so every code and scale bit is exercised.

    python3 tools/make_gguf_fixtures.py      # rewrites both files (deterministic, seed 22)
"""
import json
import os
from importlib.metadata import version
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ReckonImportTests", "Fixtures")
rng = np.random.default_rng(22)


def halves(n, scale):
    return (rng.standard_normal(n) * scale).astype(np.float16).view(np.uint8).reshape(n, 2)


def kquant_blocks(qtype, n_blocks):
    """Random raw blocks whose f16 fields are finite: d (and dmin) at 0 (and 2), Q6_K's d last."""
    size = gguf.GGML_QUANT_SIZES[qtype][1]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype == Q.Q6_K:
        raw[:, size - 2:] = halves(n_blocks, 0.01)
    else:
        raw[:, 0:2] = halves(n_blocks, 0.01)
        raw[:, 2:4] = halves(n_blocks, 0.01)
    return raw


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = 2
    tensors = {}
    x = rng.standard_normal((rows, 64)).astype(np.float32)
    # Special values that the f16/bf16 paths must carry exactly: zero, negative zero, a subnormal, infinities.
    xs = x.copy()
    xs[0, :5] = [0.0, -0.0, 3e-8, np.inf, -np.inf]
    tensors["t.F32"] = (xs, Q.F32)
    tensors["t.F16"] = (xs.astype(np.float16), Q.F16)
    for qtype in (Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0):
        src = xs if qtype == Q.BF16 else x
        tensors[f"t.{qtype.name}"] = (gguf.quants.quantize(src, qtype), qtype)
    for qtype in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
        tensors[f"t.{qtype.name}"] = (kquant_blocks(qtype, rows), qtype)

    w = gguf.GGUFWriter(os.path.join(OUT, "all_types.gguf"), "llama")
    w.add_custom_alignment(64)
    w.add_uint8("v.uint8", 200)
    w.add_int8("v.int8", -100)
    w.add_uint16("v.uint16", 60000)
    w.add_int16("v.int16", -30000)
    w.add_uint32("v.uint32", 4_000_000_000)
    w.add_int32("v.int32", -2_000_000_000)
    w.add_float32("v.float32", 0.1)
    w.add_uint64("v.uint64", 2**63 + 5)
    w.add_int64("v.int64", -2**62)
    w.add_float64("v.float64", 0.1)
    w.add_bool("v.bool", True)
    w.add_string("v.string", "héllo\nwörld ✓")
    w.add_array("v.array_int", [1, -2, 3])
    w.add_array("v.array_str", ["a", "", "ü"])
    expected = {}
    for name, (data, qtype) in tensors.items():
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, data)
            values = data.astype(np.float32)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
            values = gguf.quants.dequantize(data, qtype).astype(np.float32)
        expected[name] = {"type": qtype.name, "shape": list(values.shape),
                          "bits": [f"{b:08x}" for b in values.reshape(-1).view(np.uint32)]}
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(os.path.join(OUT, "all_types.json"), "w") as f:
        json.dump({"gguf_py": version("gguf"), "tensors": expected}, f, indent=0)
        f.write("\n")
    for name, e in expected.items():
        print(name, e["type"], e["shape"])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Data-parallel training on N machines, on paper: a ring allreduce moves 2(N−1)/N × the
gradient bytes through each machine's link, so with no overlap of communication and compute

    allreduce time = 2(N−1)/N × bytes ÷ bandwidth,
    step time      = compute time of the global batch ÷ N + allreduce time.

Prints, for N = 8..64 machines at 10 and 25 Gb/s, the allreduce time per step and the share
of the step it takes. --compute is the measured one-machine compute time of one global batch
(tools/bench_data_parallel.py); latency terms (2(N−1) messages of ~µs) are left out.

    python3 tools/allreduce_model.py --params 3544320 --compute 1.6 --name small
"""
import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", type=int, required=True, help="parameters (fp32 gradients: 4 bytes each)")
    ap.add_argument("--compute", type=float, required=True, help="seconds of compute for one global batch on one machine")
    ap.add_argument("--name", default="model")
    ap.add_argument("--machines", default="8,16,32,64")
    a = ap.parse_args()
    nbytes = 4 * a.params
    print(f"{a.name}: {a.params:,} parameters, {nbytes / 1e6:.1f} MB of gradients; one-machine compute {a.compute:.3g} s/step")
    print("| N | 10 Gb/s allreduce | share of step | speed-up | 25 Gb/s allreduce | share of step | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for n in map(int, a.machines.split(",")):
        cells = []
        for gbps in (10, 25):
            t = 2 * (n - 1) / n * nbytes / (gbps * 1e9 / 8)
            step = a.compute / n + t
            cells += [f"{1000 * t:.1f} ms", f"{100 * t / step:.0f} %", f"{a.compute / step:.1f}×"]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

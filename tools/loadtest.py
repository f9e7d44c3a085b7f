#!/usr/bin/env python3
"""Load test for `reckon serve` (Python standard library only).

Drives a running server on loopback with a request loop bounded in count and time:
N requests over C keep-alive connections, mixed `routing` think/short, a few streamed.
Reports status counts (and fails on any 5xx), p50/p95 latency for short and think
requests, the budget invariant spent <= allowance read from /metrics (polled during the
run and checked at the end), and the server's resident memory (VmRSS from
/proc/PID/status) after warm-up and after the run.

Example (see docs/performance.md):
    reckon serve --checkpoint checkpoints/warmup-small.h5 --budget 2000:500 --budget-policy truncate &
    python3 tools/loadtest.py --pid $! --requests 10000 --concurrency 64 --max-tokens 64

Exit status: 0 when there were no 5xx, no transport errors, the invariant held in every
sample, and VmRSS after the run is within --rss-tolerance of VmRSS after warm-up; else 1.
"""

import argparse
import asyncio
import json
import random
import re
import sys
import time


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def read_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host, port, api_key):
        self.host, self.port, self.api_key = host, port, api_key
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
            self.writer = None

    async def request(self, method, path, body=None):
        if self.writer is None:
            await self.open()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if self.api_key:
            head += f"Authorization: Bearer {self.api_key}\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed before the response")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            payload = b"".join(parts)
        elif "content-length" in headers:
            payload = await self.reader.readexactly(int(headers["content-length"]))
        else:
            payload = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, payload


def parse_metrics(text):
    """name{labels} -> value, for the samples the checks need."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line)
        if not m:
            raise ValueError(f"not Prometheus text: {line!r}")
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


async def fetch_metrics(host, port, api_key):
    conn = Connection(host, port, api_key)
    try:
        status, _, payload = await conn.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_metrics(payload.decode())
    finally:
        await conn.close()


def make_body(rng, args, i):
    a, b = rng.randint(0, 999), rng.randint(0, 999)
    op = rng.choice(["+", "-", "*"])
    routing = "think" if rng.random() < args.think_fraction else "short"
    body = {
        "prompt": f"{a}{op}{b}=", "max_tokens": args.max_tokens, "routing": routing,
        "group": f"g{i % args.groups}", "temperature": 0,
    }
    if args.model:
        body["model"] = args.model
    if rng.random() < args.stream_fraction:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


async def run_phase(args, count, deadline, records, label):
    """`count` requests over `args.concurrency` connections, none started after `deadline`."""
    rng = random.Random(args.seed + (0 if label == "main" else 7919))
    next_index = 0
    lock = asyncio.Lock()

    async def worker():
        nonlocal next_index
        conn = Connection(args.host, args.port, args.api_key)
        try:
            while True:
                async with lock:
                    if next_index >= count or time.monotonic() > deadline:
                        return
                    i = next_index
                    next_index += 1
                    body = make_body(rng, args, i)
                path = "/v1/completions"
                t0 = time.monotonic()
                try:
                    status, _, payload = await conn.request("POST", path, body)
                    error = None
                except Exception as e:  # transport failure: count it, reconnect
                    status, payload, error = None, b"", repr(e)
                    await conn.close()
                elapsed = time.monotonic() - t0
                rec = {"routing": body["routing"], "stream": bool(body.get("stream")), "status": status,
                       "latency": elapsed, "error": error}
                if status == 200 and not body.get("stream"):
                    try:
                        o = json.loads(payload)
                        rec["budget_action"] = o.get("budget_action")
                        rec["reasoning_tokens"] = o["usage"]["reasoning_tokens"]
                        rec["completion_tokens"] = o["usage"]["completion_tokens"]
                    except Exception as e:
                        rec["error"] = f"bad JSON body: {e!r}"
                elif status is not None and status >= 400:
                    try:
                        rec["code"] = json.loads(payload)["error"]["code"]
                    except Exception as e:
                        rec["error"] = f"error body is not OpenAI-shaped JSON: {e!r}"
                records.append(rec)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))


async def monitor(args, samples, stop):
    """Polls /metrics for the budget invariant while the run goes on."""
    while not stop.is_set():
        try:
            m = await fetch_metrics(args.host, args.port, args.api_key)
            if "reckon_budget_tokens_spent_total" in m:
                samples.append((m["reckon_budget_tokens_spent_total"], m["reckon_budget_allowance"]))
        except Exception as e:
            samples.append(("error", repr(e)))
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.metrics_interval)
        except asyncio.TimeoutError:
            pass


def summarize(records, wall):
    statuses = {}
    for r in records:
        key = str(r["status"]) if r["status"] is not None else "transport-error"
        statuses[key] = statuses.get(key, 0) + 1
    out = {"requests": len(records), "wall_seconds": round(wall, 2),
           "requests_per_second": round(len(records) / wall, 2) if wall > 0 else None, "statuses": statuses}
    for routing in ("short", "think"):
        lat = [r["latency"] for r in records if r["routing"] == routing and r["status"] == 200]
        out[f"{routing}_ok"] = len(lat)
        out[f"{routing}_p50_ms"] = round(1000 * percentile(lat, 50), 1)
        out[f"{routing}_p95_ms"] = round(1000 * percentile(lat, 95), 1)
    actions = {}
    for r in records:
        if r.get("status") == 200 and not r["stream"]:
            a = r.get("budget_action") or "none"
            actions[a] = actions.get(a, 0) + 1
    out["budget_actions_in_responses"] = actions
    think = [r for r in records if r["routing"] == "think" and "reasoning_tokens" in r]
    if think:
        out["think_mean_reasoning_tokens"] = round(sum(r["reasoning_tokens"] for r in think) / len(think), 2)
    errors = [r["error"] for r in records if r.get("error")]
    out["errors"] = len(errors)
    if errors:
        out["first_error"] = errors[0]
    return out


async def main_async(args):
    # Warm-up: the same traffic, not measured; then the resident-memory baseline.
    warm = []
    await run_phase(args, args.warmup, time.monotonic() + args.time_limit, warm, "warmup")
    rss_warm = read_rss_kib(args.pid) if args.pid else None
    print(f"warm-up: {len(warm)} requests, statuses {summarize(warm, 1)['statuses']}"
          + (f", VmRSS {rss_warm} KiB" if rss_warm else ""), file=sys.stderr)

    records, samples = [], []
    stop = asyncio.Event()
    mon = asyncio.create_task(monitor(args, samples, stop))
    t0 = time.monotonic()
    await run_phase(args, args.requests, t0 + args.time_limit, records, "main")
    wall = time.monotonic() - t0
    stop.set()
    await mon
    final = await fetch_metrics(args.host, args.port, args.api_key)
    rss_after = read_rss_kib(args.pid) if args.pid else None

    report = summarize(records, wall)
    report["completed_all"] = len(records) == args.requests
    five_xx = sum(n for s, n in report["statuses"].items() if s.startswith("5"))
    report["5xx"] = five_xx
    if "reckon_budget_tokens_spent_total" in final:
        samples.append((final["reckon_budget_tokens_spent_total"], final["reckon_budget_allowance"]))
    numeric = [(s, a) for s, a in samples if s != "error"]
    report["invariant_samples"] = len(numeric)
    report["invariant_violations"] = sum(1 for s, a in numeric if s > a + 1e-9)
    report["metrics_errors"] = len(samples) - len(numeric)
    if numeric:
        report["final_spent"], report["final_allowance"] = numeric[-1]
    report["metrics_budget_actions"] = {k: v for k, v in final.items() if k.startswith("reckon_budget_actions_total")}
    report["metrics_route"] = {k: v for k, v in final.items() if k.startswith("reckon_route_total")}
    report["metrics_rejected"] = {k: v for k, v in final.items() if k.startswith("reckon_requests_rejected_total")}
    ok = five_xx == 0 and report["errors"] == 0 and report["invariant_violations"] == 0
    if rss_warm and rss_after:
        change = (rss_after - rss_warm) / rss_warm
        report["rss_after_warmup_kib"], report["rss_after_run_kib"] = rss_warm, rss_after
        report["rss_change_percent"] = round(100 * change, 2)
        report["rss_within_tolerance"] = abs(change) <= args.rss_tolerance
        ok = ok and report["rss_within_tolerance"]
    report["ok"] = ok
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--api-key", default=None)
    p.add_argument("--model", default=None, help="model field to send (default: none)")
    p.add_argument("--pid", type=int, default=None, help="server PID, for VmRSS from /proc/PID/status")
    p.add_argument("--requests", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=256, help="requests before the memory baseline (not measured)")
    p.add_argument("--time-limit", type=float, default=540, help="no request starts after this many seconds")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--think-fraction", type=float, default=0.5)
    p.add_argument("--stream-fraction", type=float, default=0.1)
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--metrics-interval", type=float, default=1.0)
    p.add_argument("--rss-tolerance", type=float, default=0.10)
    p.add_argument("--json", default=None, help="also write the report here")
    args = p.parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The benchmark harness: the same workloads against several WebDAV servers, interleaved.

For each workload: an untimed warm-up on every target, then repetitions taken
round-robin across the targets (the first target of each round rotates), so that
drift in the machine's load hits every target alike. Dirty pages are flushed
(untimed) before each repetition. Each target's result is the median of its
repetitions, with the bad tail (p95 of times, p5 of rates). Standard library only.

    python bench/harness.py --target name=a,url=http://127.0.0.1:8081/,prepare=DIR \\
        --target name=b,url=http://127.0.0.1:8082/dav/Bench/,user=U,password=P \\
        [--workloads propfind1k,get_small_c1] [--reps N] [--quick] [--out FILE.jsonl]

``bench/run.py`` (``make bench``) starts the servers, calls ``run`` and writes
bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from client import Conn, Errors, Target, describe
from stats import percentile, summary
from workloads import (
    PROPFIND_RCLONE,
    WORKLOAD_NAMES,
    XML_CT,
    Params,
    Workload,
    build_workloads,
    make_dirs,
    make_fixture,
)

Log = Callable[[str], None]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settle() -> None:
    """Flush dirty pages so that earlier writes are not written back mid-measurement."""
    os.sync()


def preflight(params: Params, t: Target) -> None:
    """The target answers PROPFIND Depth 0 on its root with these credentials."""
    conn = Conn(t, params.timeout)
    try:
        status = conn.request("PROPFIND", t.base, body=PROPFIND_RCLONE,
                              headers={"Depth": "0", "Content-Type": XML_CT}).status
    finally:
        conn.close()
    if status != 207:
        raise RuntimeError(f"PROPFIND {t.base} on {t.name}: HTTP {status}")


def prepare(params: Params, t: Target, fixtures: list[str], say: Log) -> dict[str, float]:
    """Create the fixtures the chosen workloads need; returns seconds per fixture."""
    preflight(params, t)
    make_dirs(params, t, [f"{params.prefix}/"])
    seconds = {}
    for name in fixtures:
        start = time.perf_counter()
        make_fixture(params, t, name)
        seconds[name] = round(time.perf_counter() - start, 1)
    say(f"{t.name}: fixtures ready {seconds} "
        f"({'on disk' if t.prepare else 'through the server'})")
    return seconds


def run_workload(w: Workload, targets: list[Target], reps: int | None,
                 say: Log) -> list[dict[str, Any]]:
    """Warm up, then ``reps`` interleaved repetitions; one summary dict per target."""
    results: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    settle()
    for t in targets:
        try:
            w.warmup(t)
        except Exception as exc:  # noqa: BLE001
            say(f"{t.name}/{w.name}: warm-up error {describe(exc)}")
    n = reps or w.reps()
    for rep in range(n):
        k = rep % len(targets)
        for t in targets[k:] + targets[:k]:
            settle()
            try:
                res = w.run(t, rep)
            except Exception as exc:  # noqa: BLE001
                res = {"errors": Errors()}
                res["errors"].add(describe(exc))
            results[t.name].append(res)
    w.finish()
    out = []
    for t in targets:
        reps_of_t = results[t.name]
        values = [r["value"] for r in reps_of_t if "value" in r]
        errors = Errors()
        for r in reps_of_t:
            errors.merge(r["errors"])
        row: dict[str, Any] = {"type": "result", "target": t.name, "workload": w.name,
                               "unit": w.unit, "better": w.better,
                               **summary(values, w.better), "values": values,
                               "errors": errors.count, "error_samples": errors.samples}
        ttfb = [r["ttfb_ms"] for r in reps_of_t if "ttfb_ms" in r]
        if ttfb:
            row["ttfb_ms"] = percentile(ttfb, 50)
        lat = [x for r in reps_of_t for x in r.get("lat", [])]
        if lat:
            row["lat_ms_p50"] = (percentile(lat, 50) or 0) * 1000
            row["lat_ms_p99"] = (percentile(lat, 99) or 0) * 1000
        out.append(row)
    say(f"{w.name}: " + "  ".join(
        f"{r['target']}={r['median'] if r['median'] is None else round(r['median'], 2)} "
        f"{w.unit}" + (f" ({r['errors']} errors)" if r["errors"] else "") for r in out))
    return out


def run(targets: list[Target], params: Params, names: list[str] | None = None,
        reps: int | None = None, say: Log = log,
        extra: dict[str, list[Target]] | None = None) -> list[dict[str, Any]]:
    """Prepare every target, then run the named workloads (default all) interleaved;
    ``extra``: more targets (not prepared) for some workloads, in the same rounds."""
    workloads = [w for w in build_workloads(params) if names is None or w.name in names]
    fixtures: list[str] = []
    for w in workloads:
        if w.fixture and w.fixture not in fixtures:
            fixtures.append(w.fixture)
    if "put" in fixtures:
        fixtures.remove("put")
        for t in targets:
            make_dirs(params, t, [f"{params.prefix}/", f"{params.prefix}/put/"])
    for t in targets:
        prepare(params, t, fixtures, say)
    results = []
    for w in workloads:
        results += run_workload(w, targets + (extra or {}).get(w.name, []), reps, say)
    return results


def parse_target(spec: str) -> Target:
    fields = dict(part.split("=", 1) for part in spec.split(","))
    return Target(fields["name"], fields["url"], fields.get("user"), fields.get("password"),
                  fields.get("prepare"))


def pick_workloads(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOAD_NAMES]
    if unknown:
        raise SystemExit(f"unknown workloads {unknown}; known: {', '.join(WORKLOAD_NAMES)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--target", action="append", required=True,
                        help="name=N,url=U[,user=U,password=P,prepare=DIR]")
    parser.add_argument("--workloads", default=",".join(WORKLOAD_NAMES))
    parser.add_argument("--reps", type=int, help="repetitions of every workload")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--out", help="write the results as JSON lines to this file")
    args = parser.parse_args()
    params = Params(prefix=f"bench-{time.strftime('%Y%m%d-%H%M%S')}")
    if args.quick:
        params = params.quick()
    results = run([parse_target(s) for s in args.target], params,
                  pick_workloads(args.workloads), args.reps)
    lines = "".join(json.dumps(r) + "\n" for r in results)
    if args.out:
        with open(args.out, "w") as f:
            f.write(lines)
    else:
        sys.stdout.write(lines)
    return 1 if any(r["errors"] or r["median"] is None for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

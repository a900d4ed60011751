#!/usr/bin/env python3
"""``make bench``: davdrive against bare WsgiDAV, side by side, into bench/results.md.

Starts bare WsgiDAV (filesystem provider, no auth, logging off) and ``davdrive serve``
(auth and rights on: user writer1 of category office with write right on /Bench;
TLS off, request log off) on loopback free ports, in temporary folders; runs the
harness (bench/harness.py) against both, interleaved; reads both servers' memory;
checks that davdrive's memory stays flat over a large upload, download and a
10,000-entry listing; runs bench/scaling.py (1,000 against 100,000 nodes) and
bench/hidden_missing.py; writes the markdown report (bench/report.py).

    python bench/run.py [--quick] [--workloads a,b] [--reps N] [--out FILE] [--workers N]

Exit status 0 when every workload ran without error, even if a target is missed
(the report says NOT met); 1 when a workload or a check failed to run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report
import scaling
import servers
from client import Conn, Target
from workloads import PROPFIND_RCLONE, XML_CT, Params, count_propfind, make_fixture, put_large

HERE = Path(__file__).resolve().parent


def flatness(params: Params, server: servers.Server, t: Target, flat_mib: int,
             say: harness.Log) -> list[tuple[str, int, int]]:
    """Memory (PSS of the server's processes) before and after: a ``flat_mib`` upload,
    its download, the 10k listing."""
    big = Params(prefix=params.prefix, large_mib=flat_mib, block=params.block)
    rel = f"{params.prefix}/flat.bin"
    steps = []

    def rss() -> int:
        return servers.memory(server.pid)["Pss"]

    before = rss()
    status, _ = put_large(big, t, rel, tag=f"flat:{time.time_ns()}:")
    if status not in (200, 201, 204):
        raise RuntimeError(f"flatness upload: HTTP {status}")
    steps.append((f"upload of {flat_mib} MiB", before, after := rss()))
    conn = Conn(t, 600)
    try:
        answer = conn.request("GET", t.path(rel), discard=True)
        if answer.status != 200 or answer.size != flat_mib << 20:
            raise RuntimeError(f"flatness download: HTTP {answer.status}, {answer.size} bytes")
        steps.append((f"download of {flat_mib} MiB", after, after := rss()))
        answer = conn.request("PROPFIND", t.path(f"{params.prefix}/pf10k/"),
                              body=PROPFIND_RCLONE, headers={"Depth": "1", "Content-Type": XML_CT})
        responses, _ = count_propfind(answer.body, params.small_size)
        if answer.status != 207 or responses != params.files_10k + 1:
            raise RuntimeError(f"flatness listing: HTTP {answer.status}, {responses} responses")
        steps.append((f"PROPFIND of {params.files_10k:,} entries", after, rss()))
    finally:
        conn.close()
    say("flatness: " + ", ".join(f"{s} {round((a - b) / (1 << 20)):+d} MiB" for s, b, a in steps))
    return steps


def hidden_missing(quick: bool) -> tuple[str, bool | None]:
    """Run bench/hidden_missing.py; (its table, within its bound); raises if it broke."""
    extra = ["--rounds", "10", "--files", "200"] if quick else []
    done = subprocess.run([sys.executable, str(HERE / "hidden_missing.py"), *extra],
                          capture_output=True, text=True, check=False)
    if "worst hidden/missing ratio" not in done.stdout:
        raise RuntimeError(f"hidden_missing.py failed: {done.stderr.strip()[-500:]}")
    return done.stdout, done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds (smoke test)")
    parser.add_argument("--workloads", default=",".join(harness.WORKLOAD_NAMES))
    parser.add_argument("--reps", type=int, help="repetitions of every workload")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="davdrive's server processes (default: one per core)")
    args = parser.parse_args()
    names = harness.pick_workloads(args.workloads)
    params = Params()
    if args.quick:
        params = params.quick()
    flat_mib = 8 if args.quick else 1024
    small, large, rounds = (200, 2000, 10) if args.quick else (1000, 100_000, 200)
    say = harness.log
    failures: list[str] = []
    notes = [
        "bare WsgiDAV: fixtures written to its folder on disk; davdrive: fixtures created "
        "through the server by MKCOL and PUT on 8 connections (real blobs, rows and audit "
        "records, exactly what clients produce).",
        f"davdrive runs as deployed on this machine: {args.workers} server process"
        f"{'es' if args.workers > 1 else ''} (`serve --workers {args.workers}`, one per core, "
        "docs/large-files-and-workers.md); bare WsgiDAV has no such option and runs one.",
        "Every PUT carries unique content. The bench cuts no power: that each 201 is durable "
        "rests on the server (SQLite synchronous=FULL, blobs and new folders fsynced before "
        "the commit), which the test suite checks.",
    ]
    run_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="davdrive-bench-") as tmp_name:
        tmp = Path(tmp_name)
        servers.init_drive(tmp / "drive")
        bare = servers.start_wsgidav(tmp / "bare", tmp)
        ours = None
        try:
            ours = servers.start_davdrive(tmp / "drive", tmp, workers=args.workers)
            targets = [
                Target(report.BASE, bare.url, prepare=str(tmp / "bare")),
                Target(report.OURS, ours.url, servers.USER, servers.PASSWORD),
            ]
            # The large file as bare WsgiDAV's fixture wrote it, sent by bench/ceiling.py;
            # the PUTs also against WsgiDAV flushing each file (same folder on disk).
            ceiling = servers.start_ceiling(tmp / "bare" / params.prefix / "large" / "big.bin")
            durable = servers.start_wsgidav(tmp / "bare", tmp, durable=True)
            durable_target = [Target(report.DURABLE, durable.url)]
            try:
                results = harness.run(
                    targets, params, names, args.reps, say,
                    extra={"get_large": [Target(report.CEILING, ceiling.url)],
                           **dict.fromkeys(report.DURABLE_WORKLOADS, durable_target)},
                )
            finally:
                ceiling.stop()
                durable.stop()
            run_info["memory"] = {report.BASE: servers.memory(bare.pid),
                                  report.OURS: servers.memory(ours.pid)}
            try:
                if "propfind10k" not in names:
                    make_fixture(params, targets[1], "pf10k")
                run_info["flatness"] = flatness(params, ours, targets[1], flat_mib, say)
            except Exception as exc:  # noqa: BLE001
                failures.append(f"flatness: {exc}")
        finally:
            bare.stop()
            if ours is not None:
                ours.stop()
    try:
        run_info["scaling"] = scaling.measure(rounds, small, large, say)
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        failures.append(f"scaling: {exc}")
    try:
        run_info["hidden"], run_info["hidden_ok"] = hidden_missing(args.quick)
    except Exception as exc:  # noqa: BLE001
        failures.append(str(exc))
    reps = args.reps or f"{params.reps_pf1k}/{params.reps_pf10k}/{params.reps_small}/" \
                        f"{params.reps_large} (PROPFIND 1k/10k, small, large)"
    settings = (f"{'quick mode, ' if args.quick else ''}repetitions {reps}, interleaved "
                f"round-robin after a warm-up; small operations {params.duration:g} s each "
                f"(+{params.warmup:g} s warm-up), {params.small_files} files of "
                f"{params.small_size} B; large file {params.large_mib} MiB; listings of "
                f"{params.files_1k:,} and {params.files_10k:,} files")
    notes += [f"Could not run: {f}" for f in failures]
    text = report.render(report.Run(
        machine=servers.machine(), settings=settings, results=results,
        memory=run_info.get("memory", {}), flatness=run_info.get("flatness", []),
        scaling=run_info.get("scaling", []),
        scaling_sizes=(small, large), hidden=run_info.get("hidden", ""),
        hidden_ok=run_info.get("hidden_ok"), notes=notes))
    Path(args.out).write_text(text)
    say(f"wrote {args.out}")
    print(text)
    broken = [r for r in results if r["errors"] or r["median"] is None]
    return 1 if broken or failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

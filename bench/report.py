"""bench/results.md: medians, ratios against bare WsgiDAV with each target of the
performance issue marked met / NOT met, memory, scaling and flatness.

``render(run)`` is pure: it takes the collected facts (a ``Run``) and returns markdown.
A ratio is "met" when it is at least the target; speed ratios are >1 when davdrive
is faster (see ``stats.speed_ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stats import speed_ratio

BASE, OURS = "wsgidav", "davdrive"
CEILING = "loopback ceiling"  # bench/ceiling.py, measured with get_large only
DURABLE = "wsgidav-durable"  # bench/durable_wsgidav.py, measured with the PUTs only
DURABLE_WORKLOADS = ("put_small_c1", "put_small_c8", "put_large")
MiB = 1 << 20
# workload -> (minimum speed ratio vs bare WsgiDAV, or None: reported, no target)
TARGETS: dict[str, float | None] = {
    "propfind1k": 15.0,
    "propfind1k_allprop": None,
    "propfind10k": 15.0,
    "get_small_c1": 1.3,
    "get_small_c8": 1.5,
    "put_small_c1": 1.0,
    "put_small_c8": 1.0,
    "get_large": 5.0,
    "put_large": 1.0,
}
FIRST_BYTE_MS = 20.0  # the 10k listing's first byte
SCALING_BOUND = 1.3  # cost on the large drive / cost on the small one
FLAT_MIB = 32  # RSS growth allowed over a 1 GiB upload, download or 10k listing
HIDDEN_BOUND = 1.2


@dataclass
class Run:
    """Everything one ``make bench`` run measured."""

    machine: str
    settings: str
    results: list[dict[str, Any]]
    memory: dict[str, dict[str, int]]  # server -> Pss, VmRSS, VmHWM, processes
    flatness: list[tuple[str, int, int]] = field(default_factory=list)  # step, before, after
    scaling: list[tuple[str, float, float]] = field(default_factory=list)
    scaling_sizes: tuple[int, int] = (1000, 100_000)
    hidden: str = ""  # the table printed by hidden_missing.py
    hidden_ok: bool | None = None
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**NOT met**")


def num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def mib(n: int) -> str:
    return f"{n / MiB:.0f} MiB"


def _by(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["workload"], r["target"]): r for r in results}


def ratio_rows(results: list[dict[str, Any]]) -> list[tuple[str, float | None, float | None,
                                                            bool | None]]:
    """(workload, ratio, target, met) for each workload measured, in TARGETS order."""
    got = _by(results)
    rows = []
    for name, target in TARGETS.items():
        base, ours = got.get((name, BASE)), got.get((name, OURS))
        if base is None or ours is None:
            continue
        ratio = speed_ratio(base["median"], ours["median"], ours["better"])
        failed = base["errors"] or ours["errors"]
        met = None if target is None else (ratio is not None and ratio >= target and not failed)
        rows.append((name, ratio, target, met))
    return rows


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    text = f"{num(r['median'])} ({num(r['tail'])})"
    return text + (f" **{r['errors']} errors**" if r["errors"] else "")


def _detail(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if "ttfb_ms" in r:
        return f"first byte {num(r['ttfb_ms'])}"
    if "lat_ms_p50" in r:
        return f"{num(r['lat_ms_p50'])} / {num(r['lat_ms_p99'])}"
    return "-"


def _ceiling(got: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """What the machine's loopback carries for get_large, against davdrive and the target."""
    top, ours, base = (got.get(("get_large", name)) for name in (CEILING, OURS, BASE))
    if not (top and top["median"] and ours and ours["median"] and base and base["median"]):
        return []
    target = TARGETS["get_large"]
    asked = f", the target ({target:g}x bare WsgiDAV) {num(base['median'] * target)} MB/s" \
            f" = {base['median'] * target / top['median']:.0%} of it" if target else ""
    return ["", f"Loopback ceiling for get_large (bench/ceiling.py: a bare socket server "
                f"sending the same file in 1 MiB blocks, no HTTP parsing, in the same "
                f"interleaved repetitions): {num(top['median'])} MB/s ({num(top['tail'])}). "
                f"davdrive {num(ours['median'])} MB/s = "
                f"{ours['median'] / top['median']:.0%} of it{asked}."]


def _durable(got: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """The PUTs against WsgiDAV flushing each file to the disk, as davdrive does."""
    rows = []
    for name in DURABLE_WORKLOADS:
        theirs, ours = got.get((name, DURABLE)), got.get((name, OURS))
        if theirs and ours:
            ratio = speed_ratio(theirs["median"], ours["median"], ours["better"])
            shown = f"{ratio:.2f}x" if ratio is not None else "-"
            rows.append(f"| {name} | {_cell(theirs)} | {_cell(ours)} | {shown} |")
    if not rows:
        return []
    return ["", "Like with like: the PUTs also against WsgiDAV writing each file durably "
                "(bench/durable_wsgidav.py: the same command, with the file and its folder "
                "flushed to the disk before the answer, as davdrive does), in the same "
                "interleaved repetitions. No target; the verdicts above compare with bare "
                "WsgiDAV.", "",
            f"| workload | {DURABLE} | {OURS} | ratio |", "|---|---|---|---|", *rows]


def render(run: Run) -> str:
    got = _by(run.results)
    rows = ratio_rows(run.results)
    checks: list[bool] = [met for _, _, _, met in rows if met is not None]
    out = ["# Benchmark results", "",
           "Written by `make bench` (bench/run.py); how to read it: docs/performance.md.", "",
           f"Machine: {run.machine}.", "", f"Run: {run.settings}.", ""]
    out += [f"- {note}" for note in run.notes]
    out += ["", "## Medians", "",
            "Median over the repetitions (in brackets the bad tail: p95 of times, p5 of "
            "rates). 1 MB = 10^6 bytes.", "",
            f"| workload | unit | {BASE} | {OURS} |", "|---|---|---|---|"]
    for name in TARGETS:
        base, ours = got.get((name, BASE)), got.get((name, OURS))
        if base or ours:
            unit = (base or ours or {})["unit"]
            lower = (base or ours or {})["better"] == "lower"
            out.append(f"| {name} | {unit}{' (lower is better)' if lower else ''} "
                       f"| {_cell(base)} | {_cell(ours)} |")
    out += ["", "## Speed relative to bare WsgiDAV", "",
            "Ratio of medians, >1 = davdrive faster (for times: WsgiDAV's time / davdrive's).",
            "", "| workload | ratio | target | verdict |", "|---|---|---|---|"]
    for name, ratio, target, met in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else "-"
        goal = f">= {target:g}x" if target is not None else "(none)"
        out.append(f"| {name} | {shown} | {goal} | {verdict(met)} |")
    out += _ceiling(got)
    out += _durable(got)
    ten_k = got.get(("propfind10k", OURS))
    if ten_k and "ttfb_ms" in ten_k:
        ok = ten_k["ttfb_ms"] <= FIRST_BYTE_MS and not ten_k["errors"]
        checks.append(ok)
        base_ttfb = got.get(("propfind10k", BASE), {}).get("ttfb_ms")
        out += ["", f"First byte of the 10k listing (median): davdrive {num(ten_k['ttfb_ms'])} ms "
                f"(target <= {FIRST_BYTE_MS:g} ms: {verdict(ok)}); bare WsgiDAV "
                f"{num(base_ttfb)} ms."]
    details = [name for name in TARGETS if any(
        "ttfb_ms" in r or "lat_ms_p50" in r for t in (BASE, OURS) if (r := got.get((name, t))))]
    if details:
        out += ["", "## Details", "",
                "PROPFIND: median time to the first byte (ms). Small operations: latency of "
                "one request, p50 / p99 over all repetitions (ms).", "",
                f"| workload | {BASE} | {OURS} |", "|---|---|---|"]
        for name in details:
            out.append(f"| {name} | {_detail(got.get((name, BASE)))} "
                       f"| {_detail(got.get((name, OURS)))} |")
    if run.memory:
        out += ["", "## Memory of the servers", "",
                "Memory after all the workloads above, of each server's processes together: "
                "PSS (proportional set size: a page shared by several processes counts once "
                "in all; for one process, its resident memory less its share of libraries "
                "other processes map too), VmRSS now and VmHWM peak (summed: shared pages "
                "count in every process).", "",
                "| server | processes | PSS | VmRSS | VmHWM |", "|---|---|---|---|---|"]
        for name, m in run.memory.items():
            out.append(f"| {name} | {m.get('processes', 1)} | {mib(m.get('Pss', 0))} "
                       f"| {mib(m['VmRSS'])} | {mib(m['VmHWM'])} |")
        if BASE in run.memory and OURS in run.memory:
            ours, base = run.memory[OURS], run.memory[BASE]
            ok = ours["Pss"] <= base["Pss"] if "Pss" in ours and "Pss" in base else (
                ours["VmRSS"] <= base["VmRSS"])
            checks.append(ok)
            out += ["", "davdrive's memory at the end (PSS of all its processes) no more than "
                        f"bare WsgiDAV's: {verdict(ok)}."]
    if run.flatness:
        worst = max(after - before for _, before, after in run.flatness)
        ok = worst <= FLAT_MIB * MiB
        checks.append(ok)
        out += ["", "## Flatness", "",
                f"Memory (PSS of all its processes) of the davdrive server around each step, "
                f"after the run above. Flat means it grows by at most {FLAT_MIB} MiB.", "",
                "| step | before | after | growth |", "|---|---|---|---|"]
        for step, before, after in run.flatness:
            growth = f"{round((after - before) / MiB):+d} MiB"
            out.append(f"| {step} | {mib(before)} | {mib(after)} | {growth} |")
        out += ["", f"Flat: {verdict(ok)} (largest growth {mib(worst)})."]
    if run.scaling:
        small, large = run.scaling_sizes
        out += ["", "## Scaling", "",
                f"The same request on a drive of {small:,} and of {large:,} nodes, two servers "
                f"interleaved (bench/scaling.py; drives built by bulk SQL inserts). Bound: "
                f"{SCALING_BOUND}.", "",
                f"| request | {small:,} nodes, ms | {large:,} nodes, ms | ratio | verdict |",
                "|---|---|---|---|---|"]
        for name, s, big in run.scaling:
            ok = big / s <= SCALING_BOUND
            checks.append(ok)
            out.append(f"| {name} | {s * 1000:.2f} | {big * 1000:.2f} | {big / s:.2f} "
                       f"| {verdict(ok)} |")
    if run.hidden:
        if run.hidden_ok is not None:
            checks.append(run.hidden_ok)
        out += ["", "## Hidden against missing paths", "",
                f"bench/hidden_missing.py: a hidden item must answer as fast as a missing one "
                f"(ratio within {HIDDEN_BOUND}, either way): {verdict(run.hidden_ok)}.", "",
                run.hidden.strip()]
    errors = [r for r in run.results if r["errors"] or r["median"] is None]
    if errors:
        out += ["", "## Errors", ""]
        out += [f"- {r['target']} / {r['workload']}: {r['errors']} errors "
                f"{r['error_samples']}" for r in errors]
    summary = [f"**{sum(checks)} of {len(checks)} checks met.**", ""]
    return "\n".join(out[:4] + summary + out[4:]) + "\n"

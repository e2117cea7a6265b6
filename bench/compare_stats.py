"""Headline comparison of the label-matrix statistics, all contenders in ONE process on the same L.

    PYTHONPATH=python $PEERS_PYTHON bench/compare_stats.py          # with Snorkel
    PYTHONPATH=python python bench/compare_stats.py --n 100000 --repeats 3         # quick, without peers

Prints a Markdown table (min / median seconds, ratios) and writes it to bench/results/stats.md and .json.
Goals: all pairwise statistics at n = 1e6, m = 50 within 10x of one read of L, and >= 50x faster than
Snorkel's LFAnalysis.lf_summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import _common  # noqa: E402
from labelfuse import __version__ as labelfuse_version  # noqa: E402
from labelfuse import label_stats  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # the peers venv has it, but the script must not need it
    def tqdm(it, **_):
        return it

GOAL_VS_READ = 10.0
GOAL_VS_SNORKEL = 50.0


def contenders(L: np.ndarray, k: int) -> Dict[str, tuple]:
    """name -> (callable, is_slow). Slow ones get fewer repeats and no warm-up."""
    n, m = L.shape
    L_edit = _common.edited_column(L, k, column=0)
    base = label_stats(L, k)
    old = np.ascontiguousarray(L[:, 0])
    gi = _common.group_index(n)
    c: Dict[str, tuple] = {}
    for how, fn in _common.ONE_READS.items():
        c[f"read: {_ONE_READ_EXPR[how]}"] = (lambda fn=fn: fn(L), False)
    c["labelfuse pairwise, 1 thread"] = (lambda: label_stats(L, k, n_threads=1), False)
    c["labelfuse pairwise, 2 threads"] = (lambda: label_stats(L, k, n_threads=2), False)
    c["labelfuse + overlap matrix, 2 threads"] = (lambda: label_stats(L, k, overlap_matrix=True, n_threads=2), False)
    c[f"labelfuse grouped ({_common.N_GROUPS}), 2 threads"] = (
        lambda: label_stats(L, k, group_index=gi, n_threads=2), False)
    c["labelfuse update_column (10% of one LF), 2 threads"] = (
        lambda: base.update_column(L_edit, 0, old, n_threads=2), False)
    c["numpy reference (pairwise, BLAS float32)"] = (lambda: _common.numpy_stats(L, k), True)
    if _common.HAVE_SNORKEL:
        c["snorkel LFAnalysis(L).lf_summary()"] = (lambda: _common.snorkel_lf_summary(L), True)
        if _common.snorkel_overlap_fits(n, m, k):
            c["snorkel LabelModel overlap O (_generate_O)"] = (lambda: _common.snorkel_overlap(L, k), True)
    return c


_ONE_READ_EXPR = {"votes": "np.count_nonzero(L != -1)", "sum": "L.sum()", "max": "L.max()"}
ONE_READ_NAME = f"read: {_ONE_READ_EXPR[_common.ONE_READ]}"
PAIRWISE = "labelfuse pairwise, 2 threads"


def run_config(n: int, m: int, k: int, repeats: int, peer_repeats: int) -> Dict[str, object]:
    L = _common.label_matrix(n, m, k)
    # Correctness before speed: labelfuse must equal the numpy reference on this very matrix.
    _common.assert_same_counts(_common.numpy_stats(L, k), label_stats(L, k))
    times: Dict[str, List[float]] = {}
    cpu: Dict[str, List[float]] = {}
    for name, (fn, slow) in tqdm(contenders(L, k).items(), desc=f"n={n} m={m} k={k}", leave=False):
        t = _common.time_it(fn, peer_repeats if slow else repeats, warmup=not slow)
        times[name], cpu[name] = t["wall"], t["cpu"]
    return {"n": n, "m": m, "k": k, "votes_per_row": float(np.count_nonzero(L != -1) / n), "times": times,
            "cpu_times": cpu, "loadavg_after": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def summarize(cfg: Dict[str, object]) -> Dict[str, object]:
    times: Dict[str, List[float]] = cfg["times"]  # type: ignore[assignment]
    mins = {k: min(v) for k, v in times.items()}
    read, ours = mins[ONE_READ_NAME], mins[PAIRWISE]
    ratios = {
        "pairwise / one read": ours / read,
        "1 thread / 2 threads": mins["labelfuse pairwise, 1 thread"] / ours,
        "numpy reference / labelfuse": mins["numpy reference (pairwise, BLAS float32)"] / ours,
    }
    if "snorkel LFAnalysis(L).lf_summary()" in mins:
        ratios["snorkel lf_summary / labelfuse"] = mins["snorkel LFAnalysis(L).lf_summary()"] / ours
    # The same two goals in CPU time, 1 thread against 1 thread (robust to the other tenants of the machine).
    cpu = {k: min(v) for k, v in cfg["cpu_times"].items()}  # type: ignore[union-attr]
    ratios["CPU: pairwise 1 thread / one read"] = cpu["labelfuse pairwise, 1 thread"] / cpu[ONE_READ_NAME]
    if "snorkel LFAnalysis(L).lf_summary()" in cpu:
        ratios["CPU: snorkel lf_summary / labelfuse 1 thread"] = (
            cpu["snorkel LFAnalysis(L).lf_summary()"] / cpu["labelfuse pairwise, 1 thread"])
    if "snorkel LabelModel overlap O (_generate_O)" in mins:
        ratios["snorkel overlap O / labelfuse overlap"] = (
            mins["snorkel LabelModel overlap O (_generate_O)"] / mins["labelfuse + overlap matrix, 2 threads"])
    return ratios


def markdown(configs: List[Dict[str, object]], env: Dict[str, str]) -> str:
    lines = [f"Measured {env['date']} on {env['cpu']} ({env['cores']} cores, load average at start "
             f"{env['loadavg']}); labelfuse {env['labelfuse']}, numpy {env['numpy']}, snorkel {env['snorkel']}.",
             "Times are wall seconds over repeated calls on the same int8 L; ratios use the minima of wall times. "
             "CPU s is process CPU time (both threads summed for 2 threads): on this shared 2-core machine it "
             "shows what a 1-thread contender costs without the other tenants.", ""]
    for cfg in configs:
        times: Dict[str, List[float]] = cfg["times"]  # type: ignore[assignment]
        cpu: Dict[str, List[float]] = cfg["cpu_times"]  # type: ignore[assignment]
        read = min(times[ONE_READ_NAME])
        lines += [f"### n = {cfg['n']:,}, m = {cfg['m']}, k = {cfg['k']} "
                  f"({cfg['votes_per_row']:.1f} votes per row; load average after: {cfg['loadavg_after']})", "",
                  "| contender | runs | min s | median s | min / one read | min CPU s |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, ts in times.items():
            lines.append(f"| {name} | {len(ts)} | {min(ts):.4f} | {statistics.median(ts):.4f} | "
                         f"{min(ts) / read:.1f}x | {min(cpu[name]):.4f} |")
        lines += ["", "| ratio | value | goal |", "|---|---:|---|"]
        for name, value in cfg["ratios"].items():  # type: ignore[union-attr]
            goal = ""
            if name in ("pairwise / one read", "CPU: pairwise 1 thread / one read"):
                goal = f"<= {GOAL_VS_READ:.0f}x: {'met' if value <= GOAL_VS_READ else 'MISSED'}"
            elif name in ("snorkel lf_summary / labelfuse", "CPU: snorkel lf_summary / labelfuse 1 thread"):
                goal = f">= {GOAL_VS_SNORKEL:.0f}x: {'met' if value >= GOAL_VS_SNORKEL else 'MISSED'}"
            lines.append(f"| {name} | {value:.1f}x | {goal} |")
        lines.append("")
    return "\n".join(lines)


def environment() -> Dict[str, str]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu, "cores": str(os.cpu_count()),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "python": platform.python_version(),
            "labelfuse": labelfuse_version, "numpy": np.__version__, "snorkel": version("snorkel"),
            "scipy": version("scipy"), "torch": version("torch")}


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--k", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--repeats", type=int, default=7, help="runs of the fast contenders (after one warm-up)")
    ap.add_argument("--peer-repeats", type=int, default=3, help="runs of Snorkel and the numpy reference")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "stats",
                    help="writes OUT.md and OUT.json")
    ap.add_argument("--from-json", type=Path, help="re-render a previous OUT.json instead of measuring")
    args = ap.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        env, configs = saved["environment"], saved["configs"]
    else:
        env = environment()
        configs = [run_config(int(args.n), args.m, k, args.repeats, args.peer_repeats) for k in args.k]
    for cfg in configs:
        cfg["ratios"] = summarize(cfg)
    text = markdown(configs, env)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"environment": env, "configs": configs}, indent=1) + "\n")


if __name__ == "__main__":
    main()

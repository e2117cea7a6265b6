"""Scaling: time and peak memory of statistics, fit, predict_proba and refit on synthetic label matrices
(``labelfuse.synthetic.make_label_matrix``), for labelfuse and the importable peers.

Every (contender, n, m, k) measurement runs in its own subprocess with a timeout, so a peer that explodes (Snorkel
builds a dense one-hot L of n*m*k float64 and an (mk)^2 overlap matrix) is recorded as "stopped at <phase>"
instead of hanging the run, and memory peaks do not leak from one measurement into the next.

Memory: two numbers per phase. ``traced_peak_mib`` is tracemalloc's peak (allocations made through Python's
allocators, numpy arrays included; NOT our C++ core's internal buffers); ``rss_peak_mib`` is the phase's peak
resident set (VmHWM, reset before each phase through /proc/self/clear_refs on Linux) minus the RSS at its start:
every allocation, native ones included.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["DEFAULT_GRID", "FULL_GRID", "measure", "run_grid", "to_markdown", "write_scaling"]

Config = Tuple[int, int, int]  # n, m, k

# a default grid that finishes in a few minutes on 2 shared cores: growth in n at (m=10, k=2), in m, and in k
DEFAULT_GRID: List[Config] = [(10_000, 10, 2), (100_000, 10, 2), (1_000_000, 10, 2),
                              (100_000, 100, 2), (100_000, 10, 10), (100_000, 10, 100)]
FULL_GRID: List[Config] = sorted({(n, m, k) for n in (10_000, 100_000, 1_000_000, 10_000_000)
                                  for m in (10, 100, 1000) for k in (2, 10, 100)
                                  if n * m <= 1_000_000_000})  # L itself must fit: 1e7 x 1000 int8 is 10 GB
CONTENDERS = ("labelfuse triplet", "labelfuse Dawid-Skene", "Snorkel LabelModel", "FlyingSquid",
              "crowd-kit DawidSkene")


def _proc_status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise OSError(field)


def _reset_rss_peak() -> float:
    """Reset the peak-RSS counter (Linux: 5 > /proc/self/clear_refs resets VmHWM) and return the current RSS, so
    that each phase's peak is its own, not make_label_matrix's. Elsewhere: ru_maxrss, never reset."""
    import gc

    gc.collect()
    try:  # give freed heap back first, else a phase reuses the generator's freed pages and its RSS does not grow
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_mib("VmRSS")
    except OSError:
        return _rss_peak_mib()


def _rss_peak_mib() -> float:
    try:
        return _proc_status_mib("VmHWM")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(contender: str, n: int, m: int, k: int, seed: int = 0) -> Dict[str, Any]:
    """Run in the subprocess: each phase's wall seconds and tracemalloc peak, printed as JSON line by line so the
    parent keeps the finished phases of a measurement that times out."""
    import warnings

    import numpy as np

    from ..synthetic import make_label_matrix

    warnings.simplefilter("ignore")
    _warm_up(contender, k)  # imports and first-call initialisation are not what is measured
    L = make_label_matrix(n, m, k, random_state=seed).L
    out: Dict[str, Any] = {}

    def phase(name: str, fn):
        base = _reset_rss_peak()
        tracemalloc.start()
        t = time.perf_counter()
        res = fn()
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out[name] = {"s": seconds, "traced_peak_mib": peak}
        print(json.dumps({"phase": name, **out[name], "rss_peak_mib": _rss_peak_mib() - base}), flush=True)
        return res

    L2 = L.copy()
    L2[: n // 10, 0] = np.where(L[: n // 10, 0] >= 0, (L[: n // 10, 0] + 1) % k, -1)  # edit one LF on 10% of rows
    if contender.startswith("labelfuse"):
        from .. import label_stats
        from ..models import LabelModel

        method = "triplet" if contender.endswith("triplet") else "dawid_skene"
        phase("statistics", lambda: label_stats(L, k))
        model = phase("fit", lambda: LabelModel(cardinality=k, method=method).fit(L))
        phase("predict_proba", lambda: model.predict_proba(L))
        phase("refit", lambda: model.refit(L2, columns=[0]))
    elif contender == "Snorkel LabelModel":
        from snorkel.labeling.model import LabelModel as SLM

        # Snorkel's statistics are its overlap matrix O (built inside fit from the dense one-hot L)
        def stats():
            m_ = SLM(cardinality=k, verbose=False)
            m_._set_constants(L)
            m_._create_tree()
            m_._generate_O(L)

        phase("statistics", stats)
        model = SLM(cardinality=k, verbose=False)
        phase("fit", lambda: model.fit(L, seed=123, progress_bar=False, n_epochs=100))
        phase("predict_proba", lambda: model.predict_proba(L))
        phase("refit", lambda: model.fit(L2, seed=123, progress_bar=False, n_epochs=100))  # no incremental refit
    elif contender == "FlyingSquid":
        from .peers import flyingsquid

        predict = phase("fit", lambda: flyingsquid(L, k))
        phase("predict_proba", lambda: predict(L))
        phase("refit", lambda: flyingsquid(L2, k))
    elif contender == "crowd-kit DawidSkene":
        from .peers import crowdkit_dawid_skene

        predict = phase("fit", lambda: crowdkit_dawid_skene(L, k))
        phase("predict_proba", lambda: predict(L))
        phase("refit", lambda: crowdkit_dawid_skene(L2, k))
    else:
        raise ValueError(f"contender: unknown {contender!r}")
    return out


def _warm_up(contender: str, k: int) -> None:
    """Run the contender once on a tiny matrix (imports, lazy initialisation, torch's first call)."""
    from ..synthetic import make_label_matrix

    L = make_label_matrix(200, 5, k, random_state=1).L
    if contender.startswith("labelfuse"):
        from ..models import LabelModel

        LabelModel(cardinality=k, method="triplet" if contender.endswith("triplet") else "dawid_skene").fit(
            L).predict_proba(L)
    elif contender == "Snorkel LabelModel":
        from snorkel.labeling.model import LabelModel as SLM

        model = SLM(cardinality=k, verbose=False)
        model.fit(L, seed=123, progress_bar=False, n_epochs=5)  # Snorkel's fit returns None
        model.predict_proba(L)
    elif contender == "FlyingSquid":
        from .peers import flyingsquid

        flyingsquid(L, k)(L)
    elif contender == "crowd-kit DawidSkene":
        from .peers import crowdkit_dawid_skene

        crowdkit_dawid_skene(L, k)(L)


def _applicable(contender: str, k: int) -> bool:
    import importlib.util

    module = {"Snorkel LabelModel": "snorkel", "FlyingSquid": "flyingsquid", "crowd-kit DawidSkene": "crowdkit"}
    if contender == "FlyingSquid" and k != 2:
        return False
    return contender not in module or importlib.util.find_spec(module[contender]) is not None


def _one(contender: str, n: int, m: int, k: int, timeout: float) -> Dict[str, Any]:
    cmd = [sys.executable, "-c", "import sys; from labelfuse.bench.scaling import measure; "
           "measure(sys.argv[1], *map(int, sys.argv[2:5]))", contender, str(n), str(m), str(k)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                         os.environ.get("PYTHONPATH")])))
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        stdout, status = proc.stdout, ("ok" if proc.returncode == 0 else
                                       f"failed ({(proc.stderr.strip().splitlines() or ['?'])[-1][:160]})")
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        status = "timeout"
    phases = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            phases[rec.pop("phase")] = rec
    row: Dict[str, Any] = {"contender": contender, "n": n, "m": m, "k": k, "phases": phases, "status": status,
                           "wall_s": time.perf_counter() - t}
    if status != "ok":
        order = (["statistics"] if contender.startswith("labelfuse") or contender.startswith("Snorkel") else []) + [
            "fit", "predict_proba", "refit"]
        missing = [p for p in order if p not in phases]
        row["stopped_at"] = f"{missing[0] if missing else '?'} ({status}{f' after {timeout:.0f} s' if status == 'timeout' else ''})"
    return row


def run_grid(full: bool = False, timeout: float = 45.0, peers: bool = True,
             grid: Optional[Sequence[Config]] = None, progress: bool = True) -> Dict[str, Any]:
    """Every contender on every configuration; a contender that timed out or failed on a configuration is not
    run on larger ones of the same m and k (it is recorded as skipped, after its stop)."""
    from tqdm.auto import tqdm

    grid = list(grid or (FULL_GRID if full else DEFAULT_GRID))
    contenders = [c for c in CONTENDERS if peers or c.startswith("labelfuse")]
    rows: List[Dict[str, Any]] = []
    stopped: Dict[str, List[Config]] = {}
    jobs = [(c, cfg) for cfg in grid for c in contenders if _applicable(c, cfg[2])]
    for contender, (n, m, k) in tqdm(jobs, desc="scaling", disable=not progress):
        if any(n >= n0 and m >= m0 and k >= k0 for n0, m0, k0 in stopped.get(contender, [])):
            rows.append({"contender": contender, "n": n, "m": m, "k": k, "phases": {}, "status": "skipped",
                         "stopped_at": "skipped (stopped on a smaller configuration)"})
            continue
        row = _one(contender, n, m, k, timeout)
        rows.append(row)
        if row["status"] == "timeout":  # a failure is a bug to read, not a size limit: larger ones still run
            stopped.setdefault(contender, []).append((n, m, k))
    return {"grid": "full" if full else "default", "timeout_s": timeout, "rows": rows,
            "memory": "traced_peak_mib: tracemalloc peak per phase (Python/numpy allocations, not the C++ core's "
                      "internal buffers); rss_peak_mib: the phase's peak RSS (VmHWM, reset before each phase "
                      "through /proc/self/clear_refs) minus RSS at its start: every allocation, C++ included",
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}


def to_markdown(res: Dict[str, Any]) -> str:
    lines = [f"Grid: {res['grid']}, timeout {res['timeout_s']:.0f} s per measurement (own subprocess), started "
             f"{res['started']}, load average {res['load_average']}.", "", f"Memory: {res['memory']}.", "",
             "| contender | n | m | k | statistics s | fit s | predict_proba s | refit s | traced peak MiB (max phase) "
             "| RSS peak MiB | status |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in res["rows"]:
        ph = r["phases"]
        cell = lambda p: f"{ph[p]['s']:.4f}" if p in ph else "-"
        traced = max((p["traced_peak_mib"] for p in ph.values()), default=float("nan"))
        rss = max((p["rss_peak_mib"] for p in ph.values()), default=float("nan"))
        status = {"ok": "ok", "skipped": r.get("stopped_at", "skipped")}.get(r["status"], f"stopped at {r.get('stopped_at')}")
        lines.append(f"| {r['contender']} | {r['n']:.0e} | {r['m']} | {r['k']} | {cell('statistics')} | {cell('fit')} "
                     f"| {cell('predict_proba')} | {cell('refit')} | {traced:.1f} | {rss:.1f} | {status} |")
    return "\n".join(lines) + "\n"


def plot(res: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_spec = [("n", lambda r: r["m"] == 10 and r["k"] == 2), ("m", lambda r: r["n"] == 100_000 and r["k"] == 2),
                 ("k", lambda r: r["n"] == 100_000 and r["m"] == 10)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, (var, keep) in zip(axes, axes_spec):
        for i, contender in enumerate(CONTENDERS):  # one colour per contender in every panel
            pts = sorted((r[var], sum(p["s"] for name, p in r["phases"].items() if name in ("fit", "predict_proba")))
                         for r in res["rows"] if r["contender"] == contender and keep(r) and r["status"] == "ok")
            if pts:
                ax.loglog(*zip(*pts), marker="o", label=contender, color=f"C{i}")
            for r in res["rows"]:
                if r["contender"] == contender and keep(r) and r["status"] not in ("ok", "skipped"):
                    ax.axvline(r[var], color=f"C{i}", ls=":", alpha=0.6)
        ax.set_xlabel(var)
        ax.set_ylabel("fit + predict_proba, s")
        ax.set_title({"n": "growth in n (m=10, k=2)", "m": "growth in m (n=1e5, k=2)",
                      "k": "growth in k (n=1e5, m=10)"}[var])
        ax.grid(True, which="both", alpha=0.3)
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", label=c) for i, c in enumerate(CONTENDERS)]
    axes[0].legend(handles=handles, fontsize=7)
    fig.suptitle("Cost growth (log-log; dotted: where a contender stopped: timeout or failure)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_scaling(res: Dict[str, Any], out: Path) -> List[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".md"), out.with_suffix(".json")]
    paths[0].write_text("# Scaling\n\n" + to_markdown(res))
    paths[1].write_text(json.dumps(res, indent=1, default=float))
    try:
        plot(res, out.with_suffix(".png"))
        paths.append(out.with_suffix(".png"))
    except ImportError:  # e.g. the peers venv has no matplotlib: python -m labelfuse.bench.scaling FILE.json
        print(f"matplotlib not importable: plot later with python -m labelfuse.bench.scaling {paths[1]}")
    return paths


if __name__ == "__main__":  # python -m labelfuse.bench.scaling results.json: (re)draw the figure
    source = Path(sys.argv[1])
    plot(json.loads(source.read_text()), source.with_suffix(".png"))

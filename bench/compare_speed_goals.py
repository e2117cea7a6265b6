"""Speed goals of the statistics kernel and the posterior at n = 1e6, m = 50, each beside its peer or baseline
measured in the same process on the same L:

- `LFAnalysis(L).lf_summary(Y)` vs Snorkel 0.10's `LFAnalysis(L).lf_summary(Y)` (goal >= 100x), and vs our own
  `lf_summary()` without Y (goal: with Y <= 2x without);
- `label_stats(L, 2)` on one thread (goal <= 40 ms) and on two (goal >= 1.8x the one-thread speed), beside one
  read of L (`np.count_nonzero(L != -1)`);
- `predict_proba` of the triplet and covariance models, k = 2, one thread (goal <= 50 ms), beside a numpy
  reference of the same posterior (a table gather per LF);
- the covariance fit at k = 10 (goal <= 150 ms), beside `label_stats` with the overlap matrix it needs.

    PYTHONPATH=python $PEERS_PYTHON bench/compare_speed_goals.py                  # with Snorkel
    PYTHONPATH=python python bench/compare_speed_goals.py --n 100000 --repeats 3    # quick, without peers
    PYTHONPATH=<other checkout>/python $PEERS_PYTHON bench/compare_speed_goals.py --tag before   # another build

Prints a Markdown table (min wall and min process CPU seconds; CPU time is what a one-thread contender costs
without the other tenants of a shared machine) and writes results/speed_goals[-TAG].md and .json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import _common  # noqa: E402
import labelfuse  # noqa: E402
from labelfuse import LabelModel, label_stats  # noqa: E402
from labelfuse.labeling import LFAnalysis  # noqa: E402
from labelfuse.synthetic import make_label_matrix  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # the script must not need it
    def tqdm(it, **_):
        return it


def time_it(fn: Callable[[], object], repeats: int) -> Dict[str, float]:
    """The best of ``repeats`` calls after a warm-up (first-touch page faults, imports, thread pools)."""
    t = _common.time_it(fn, repeats, warmup=True)
    return {"wall": min(t["wall"]), "cpu": min(t["cpu"]), "runs": repeats}


def numpy_posterior(L: np.ndarray, log_cpt: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """p(y | votes) from log P(vote | y) tables (m, k + 1, k), vote index 0 = abstain: one gather per LF."""
    s = np.broadcast_to(log_prior, (L.shape[0], log_prior.shape[0])).copy()
    for j in range(L.shape[1]):
        s += log_cpt[j][L[:, j].astype(np.intp) + 1]
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    return s / s.sum(axis=1, keepdims=True)


def snorkel_lf_summary_y(L: np.ndarray, Y: np.ndarray):
    from snorkel.labeling import LFAnalysis as SnorkelLFAnalysis

    with warnings.catch_warnings():  # scipy >= 1.14 warns inside Snorkel about an int8 -> float64 cast
        warnings.simplefilter("ignore", FutureWarning)
        return SnorkelLFAnalysis(L).lf_summary(Y)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(labelfuse.__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--peer-repeats", type=int, default=2)
    ap.add_argument("--tag", default="", help="suffix of the result files (e.g. 'before' for another build)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    n, m, R = int(args.n), args.m, args.repeats

    syn2 = make_label_matrix(n, m, 2, random_state=1234 + m + 2)
    L2, Y2 = syn2.L, syn2.Y
    L10 = make_label_matrix(n, m, 10, random_state=1234 + m + 10).L
    fitted = {meth: LabelModel(method=meth, n_threads=1).fit(L2) for meth in ("triplet", "covariance")}

    # (row, contender, callable, repeats)
    plan: List[tuple] = [
        ("lf_summary", "labelfuse LFAnalysis(L).lf_summary(Y), 1 thread",
         lambda: LFAnalysis(L2, n_threads=1).lf_summary(Y2), R),
        ("lf_summary", "labelfuse LFAnalysis(L).lf_summary(), 1 thread",
         lambda: LFAnalysis(L2, n_threads=1).lf_summary(), R),
    ]
    if _common.HAVE_SNORKEL:
        plan.append(("lf_summary", "Snorkel 0.10 LFAnalysis(L).lf_summary(Y)", lambda: snorkel_lf_summary_y(L2, Y2),
                     args.peer_repeats))
    plan += [
        ("label_stats", "one read: np.count_nonzero(L != -1)", lambda: np.count_nonzero(L2 != -1), R),
        ("label_stats", "labelfuse label_stats(L, 2), 1 thread", lambda: label_stats(L2, 2, n_threads=1), R),
        ("label_stats", "labelfuse label_stats(L, 2), 2 threads", lambda: label_stats(L2, 2, n_threads=2), R),
    ]
    for meth, lm in fitted.items():
        plan.append(("predict_proba", f"labelfuse {meth} predict_proba, 1 thread", lambda lm=lm: lm.predict_proba(L2), R))
    log_cpt, log_prior = fitted["triplet"]._log_tables
    plan.append(("predict_proba", "numpy reference posterior (triplet tables)",
                 lambda: numpy_posterior(L2, log_cpt, log_prior), max(2, R // 3)))
    plan += [
        ("covariance k=10", "labelfuse label_stats(L, 10, overlap_matrix=True), 1 thread",
         lambda: label_stats(L10, 10, overlap_matrix=True, n_threads=1), max(2, R // 3)),
        ("covariance k=10", "labelfuse covariance fit, 1 thread",
         lambda: LabelModel(method="covariance", n_threads=1).fit(L10), max(2, R // 3)),
        ("covariance k=10", "labelfuse covariance fit, 2 threads",
         lambda: LabelModel(method="covariance", n_threads=2).fit(L10), max(2, R // 3)),
    ]
    # the contenders compute the same thing: check before timing
    np.testing.assert_allclose(fitted["triplet"].predict_proba(L2[:10000]),
                               numpy_posterior(L2[:10000], log_cpt, log_prior), rtol=0, atol=1e-9)
    if _common.HAVE_SNORKEL:
        ours, theirs = LFAnalysis(L2).lf_summary(Y2), snorkel_lf_summary_y(L2, Y2)
        for col in ("Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."):
            np.testing.assert_allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float), err_msg=col)

    load_before = os.getloadavg()
    results = []
    for row, name, fn, reps in tqdm(plan, desc="contenders"):
        results.append({"row": row, "contender": name, **time_it(fn, reps)})
    load_after = os.getloadavg()
    by = {r["contender"]: r for r in results}

    def ratio(a: str, b: str, key: str) -> float:
        return by[a][key] / by[b][key] if a in by and b in by else float("nan")

    lfy, lf0 = "labelfuse LFAnalysis(L).lf_summary(Y), 1 thread", "labelfuse LFAnalysis(L).lf_summary(), 1 thread"
    snk = "Snorkel 0.10 LFAnalysis(L).lf_summary(Y)"
    st1, st2 = "labelfuse label_stats(L, 2), 1 thread", "labelfuse label_stats(L, 2), 2 threads"
    goals = [
        ("lf_summary(Y) / lf_summary()", "wall", ratio(lfy, lf0, "wall"), "<= 2x", lambda v: v <= 2),
        ("lf_summary(Y) / lf_summary()", "CPU", ratio(lfy, lf0, "cpu"), "<= 2x", lambda v: v <= 2),
        ("Snorkel lf_summary(Y) / ours", "wall", ratio(snk, lfy, "wall"), ">= 100x", lambda v: v >= 100),
        ("Snorkel lf_summary(Y) / ours", "CPU", ratio(snk, lfy, "cpu"), ">= 100x", lambda v: v >= 100),
        ("label_stats 1 thread (ms)", "CPU", 1e3 * by[st1]["cpu"], "<= 40 ms", lambda v: v <= 40),
        ("label_stats 1 thread / 2 threads", "wall", ratio(st1, st2, "wall"), ">= 1.8x", lambda v: v >= 1.8),
    ]
    for meth in fitted:
        c = f"labelfuse {meth} predict_proba, 1 thread"
        goals.append((f"{meth} predict_proba 1 thread (ms)", "CPU", 1e3 * by[c]["cpu"], "<= 50 ms", lambda v: v <= 50))
    for th in (1, 2):
        c = f"labelfuse covariance fit, {th} thread{'s' if th > 1 else ''}"
        goals.append((f"covariance fit k=10, {th} thread(s) (ms)", "CPU" if th == 1 else "wall",
                      1e3 * by[c]["cpu" if th == 1 else "wall"], "<= 150 ms", lambda v: v <= 150))

    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before / {load_after[0]:.1f} after; "
        f"labelfuse {labelfuse.__version__} (commit {commit()}), numpy {np.__version__}"
        + (", snorkel 0.10" if _common.HAVE_SNORKEL else ", without Snorkel") + f". n = {n:,}, m = {m}.",
        "",
        "| row | contender | runs | min wall s | min CPU s |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['row']} | {r['contender']} | {r['runs']} | {r['wall']:.4f} | {r['cpu']:.4f} |")
    lines += ["", "| goal | time | value | target | met |", "|---|---|---:|---|---|"]
    for name, key, value, target, ok in goals:
        met = "-" if value != value else ("yes" if ok(value) else "MISSED")
        lines.append(f"| {name} | {key} | {value:.3g} | {target} | {met} |")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "speed_goals" + (f"-{args.tag}" if args.tag else "")
    (args.out / f"{stem}.md").write_text(text + "\n")
    (args.out / f"{stem}.json").write_text(json.dumps({"n": n, "m": m, "results": results,
                                                       "load": [load_before, load_after]}, indent=1))


if __name__ == "__main__":
    main()

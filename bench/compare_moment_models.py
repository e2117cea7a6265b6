"""Triplet and covariance label models beside FlyingSquid (binary) and Snorkel's LabelModel on the same L.

Run with the peers venv (labelfuse from the working tree):
    PYTHONPATH=python $PEERS_PYTHON bench/compare_moment_models.py [--quick]
Prints a markdown table and writes bench/results/moment_models.{md,json}.

Timings are wall-clock seconds on this machine (2 cores shared with other work: look at the load average printed
with the table). labelfuse runs with n_threads=2; "fit" includes computing the statistics from L. Peers whose
memory or time would not fit are run on the first rows only (the table gives the rows fitted and predicted; ratios
scale peer times to the full n per row): Snorkel's fit and
predict_proba build a dense float64 one-hot L of n*m*k*8 bytes; FlyingSquid's predict_proba_marginalized takes
~17 s per 1e5 rows at m = 50.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from labelfuse import _core, label_stats
from labelfuse.models.covariance import fit_covariance
from labelfuse.models.triplet import fit_triplet
from labelfuse.synthetic import make_label_matrix

THREADS = 2
SNORKEL_ONEHOT_LIMIT = 1 << 30  # bytes of Snorkel's dense one-hot matrix
FLYINGSQUID_PREDICT_ROWS = {10: 100_000, 50: 20_000}

CONFIGS = [  # name, n, m, k, class balance
    ("binary balanced", 1_000_000, 10, 2, None),
    ("binary imbalanced", 1_000_000, 10, 2, [0.8, 0.2]),
    ("4-class imbalanced (Snorkel's trap)", 1_000_000, 10, 4, [0.6, 0.25, 0.1, 0.05]),
    ("m=50 binary", 1_000_000, 50, 2, None),
    ("m=50 10-class", 1_000_000, 50, 10, None),
]


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def accuracy(P, Y):
    return float(np.mean(np.asarray(P).argmax(1) == Y))


def run_labelfuse(name, fit, overlap, L, Y, k, truth):
    def fit_all():
        return fit(label_stats(L, k, overlap_matrix=overlap, n_threads=THREADS))

    result, cold = timed(fit_all)
    warm = min(timed(fit_all)[1] for _ in range(3))
    st = label_stats(L, k, overlap_matrix=overlap, n_threads=THREADS)
    fit_only = min(timed(fit, st)[1] for _ in range(5))
    tables = result.log_tables()
    P, predict = timed(_core.posterior, L, *tables, k, n_threads=THREADS)
    err = float(np.nanmax(np.abs(result.info["accuracy"] - truth.accuracy)))
    return dict(contender=name, fit_rows=len(Y), rows=len(Y), fit_cold_s=cold, fit_s=warm, fit_only_s=fit_only,
                predict_s=predict, accuracy=accuracy(P, Y), max_lf_accuracy_error=err,
                class_balance=np.round(result.class_balance, 3).tolist(), correct=P.argmax(1) == Y)


def run_snorkel(L, Y, k, prior_name, class_balance=None):
    import torch
    from snorkel.labeling.model import LabelModel

    torch.set_num_threads(THREADS)
    n, m = L.shape
    rows = min(n, SNORKEL_ONEHOT_LIMIT // (8 * m * k))
    Ls, Ys = np.asarray(L[:rows], dtype=np.int64), Y[:rows]
    model = LabelModel(cardinality=k, verbose=False)
    _, fit_s = timed(model.fit, Ls, class_balance=class_balance, progress_bar=False, seed=0)
    P, predict_s = timed(model.predict_proba, Ls)
    return dict(contender=f"Snorkel LabelModel ({prior_name})", fit_rows=rows, rows=rows, fit_cold_s=fit_s,
                fit_s=fit_s, fit_only_s=None, predict_s=predict_s, accuracy=accuracy(P, Ys), max_lf_accuracy_error=None,
                class_balance=None if class_balance is None else np.round(class_balance, 3).tolist())


def run_snorkel_majority(L, Y, k):
    from snorkel.labeling.model import MajorityLabelVoter

    P, predict_s = timed(MajorityLabelVoter(cardinality=k).predict_proba, np.asarray(L, dtype=np.int64))
    return dict(contender="Snorkel MajorityLabelVoter", fit_rows=None, rows=len(Y), fit_cold_s=None, fit_s=None,
                fit_only_s=None, predict_s=predict_s, accuracy=accuracy(P, Y), max_lf_accuracy_error=None,
                class_balance=None)


def run_flyingsquid(L, Y, truth):
    from labelfuse.bench.peers import peer_patches

    n, m = L.shape
    signed = np.where(L < 0, 0, np.where(L == 1, 1, -1)).astype(np.int64)  # FlyingSquid: +1 / -1, 0 = abstain
    rows = min(n, FLYINGSQUID_PREDICT_ROWS.get(m, 20_000))
    with peer_patches():  # FlyingSquid calls np.product (removed in numpy 2); undone when the block ends
        from flyingsquid.label_model import LabelModel

        model = LabelModel(m)
        _, fit_s = timed(model.fit, signed, verbose=False)
        p1, predict_s = timed(model.predict_proba_marginalized, signed[:rows])
        accuracies = model.estimated_accuracies()
    P = np.stack([1 - p1, p1], axis=1)
    # FlyingSquid reports P(lambda_i = y) over all rows (abstentions count as wrong): condition on voting
    acc_est = np.asarray(accuracies).ravel() / np.maximum((L >= 0).mean(axis=0), 1e-12)
    return dict(contender="FlyingSquid", fit_rows=n, rows=rows, fit_cold_s=fit_s, fit_s=fit_s, fit_only_s=None,
                predict_s=predict_s, accuracy=accuracy(P, Y[:rows]),
                max_lf_accuracy_error=float(np.max(np.abs(acc_est - truth.accuracy))), class_balance=None)


def fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="n = 1e5 instead of 1e6")
    ap.add_argument("--only", type=int, nargs="*", help="indices of the configurations to run (default: all)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    out = {"load_average": os.getloadavg(), "threads": THREADS, "configs": []}
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    suffix = ("_quick" if args.quick else "") + ("_" + "_".join(map(str, args.only)) if args.only else "")
    lines = [f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; labelfuse n_threads={THREADS}",
             ""]
    for index, (title, n, m, k, prior) in enumerate(CONFIGS):
        if args.only and index not in args.only:
            continue
        if args.quick:
            n //= 10
        truth = make_label_matrix(n, m, k, class_balance=prior, random_state=7)
        L, Y = truth.L, truth.Y
        rows = [
            run_labelfuse("labelfuse triplet", fit_triplet, False, L, Y, k, truth),
            run_labelfuse("labelfuse covariance", fit_covariance, True, L, Y, k, truth),
        ]
        bayes = accuracy(_core.posterior(L, np.log(truth.cpt), np.log(truth.class_balance), k), Y)
        peers = []
        try:
            peers.append(run_snorkel(L, Y, k, "default uniform prior"))
            if prior is not None:
                peers.append(run_snorkel(L, Y, k, "true prior given", class_balance=np.asarray(prior)))
            peers.append(run_snorkel_majority(L, Y, k))
        except ImportError as exc:
            print(f"snorkel not available: {exc}")
        if k == 2:
            try:
                peers.append(run_flyingsquid(L, Y, truth))
            except ImportError as exc:
                print(f"flyingsquid not available: {exc}")
        rows += peers
        timed_peers = [r for r in peers if r["fit_s"] is not None]
        fastest_fit = min((r["fit_s"] * n / r["fit_rows"] for r in timed_peers), default=None)
        fastest_pred = min((r["predict_s"] * n / r["rows"] for r in peers), default=None)
        best = max(peers, key=lambda r: r["accuracy"], default=None)
        lines.append(f"### {title}: n = {n:,}, m = {m}, k = {k}, prior = {prior or 'uniform'}; "
                     f"Bayes accuracy with the true parameters {bayes:.4f}")
        lines.append("")
        lines.append("| contender | fit rows | predict rows | fit s (cold) | fit s (best of 3) | fit only s | "
                     "predict s | accuracy | max LF acc error | class balance |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            fit_rows = "—" if r["fit_rows"] is None else f"{r['fit_rows']:,}"
            lines.append("| " + " | ".join([r["contender"], fit_rows, f"{r['rows']:,}", fmt(r["fit_cold_s"]),
                                             fmt(r["fit_s"]),
                                             fmt(r["fit_only_s"], 4), fmt(r["predict_s"]), fmt(r["accuracy"], 4),
                                             fmt(r["max_lf_accuracy_error"]), fmt(r["class_balance"])]) + " |")
        lines.append("")
        for r in rows[:2]:
            bits = []
            if fastest_fit:
                bits.append(f"fit {fastest_fit / r['fit_s']:.1f}x faster than the fastest peer fit (per row)")
            if fastest_pred:
                bits.append(f"predict {fastest_pred / r['predict_s']:.1f}x the fastest peer predict (per row)")
            if best is not None:  # on the rows the best peer predicted
                ours = float(np.mean(r["correct"][: best["rows"]]))
                bits.append(f"accuracy {ours - best['accuracy']:+.4f} vs the best peer ({best['contender']}, on its "
                            f"{best['rows']:,} rows)")
            lines.append(f"- {r['contender']}: " + "; ".join(bits))
        lines.append("")
        for r in rows[:2]:
            r.pop("correct")
        out["configs"].append(dict(title=title, n=n, m=m, k=k, prior=prior, bayes_accuracy=bayes, rows=rows))
        print("\n".join(lines[-(len(rows) + 8):]), flush=True)
        # written after every configuration, so that a run cut short keeps what it measured
        (results / f"moment_models{suffix}.md").write_text("\n".join(lines) + "\n")
        (results / f"moment_models{suffix}.json").write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()

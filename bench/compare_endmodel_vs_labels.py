"""Does the end model beat the labels it learns from? Adapter on MiniLM embeddings trained on majority-vote labels
vs (a) those labels on the test split and (b) logistic regression trained on the gold train labels of the same
embeddings (the supervised ceiling of a linear head), on every WRENCH-format set with a train split and MiniLM
embeddings under the data folder.

Labels: soft majority vote (vote shares) on the train rows with at least one vote; on test the argmax of the vote
shares, ties and all-abstain rows given to the class the train labels favour (so both contenders answer every
row). Adapter: early stopping on the labeled valid split with the set's metric (WRENCH's: F1 for sms, accuracy
otherwise); mean ± sd over seeds. The Adapter gets the vote shares on the valid rows as P_dev and warns when its
cross-validated valid score does not beat theirs (column "warned"); --adapter '{"hidden": "auto"}' lets it choose
its head on valid (column "head chosen"). Supervised LR: scikit-learn's LogisticRegression (C=1, lbfgs) on all train rows
with their gold labels.

    PYTHONPATH=python python bench/compare_endmodel_vs_labels.py [--seeds 3] [--sets wrench_sms ...] [--adapter JSON]

Writes bench/results/compare_endmodel_vs_labels.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from labelfuse import load_dataset
from labelfuse.endmodels import Adapter
from labelfuse.metrics import accuracy, f1
from labelfuse.bench.suite import default_data_folder

DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"
METRIC = {"wrench_sms": "f1"}  # WRENCH's metric; accuracy elsewhere


def sets_with_train_embeddings() -> list[str]:
    return sorted(p.parent.parent.name for p in DATA.glob("*/minilm/train.npy")
                  if (p.parent.parent / "train.json").is_file())


def score(name: str, y: np.ndarray, pred: np.ndarray) -> float:
    return f1(y, pred) if METRIC.get(name) == "f1" else accuracy(y, pred)


def soft_majority_vote(L: np.ndarray, k: int) -> np.ndarray:
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), 1.0 / k)


def hard_labels(P: np.ndarray, fallback: int) -> np.ndarray:
    """argmax; rows whose top share is tied go to ``fallback``."""
    top = P.max(axis=1, keepdims=True)
    tied = (np.isclose(P, top)).sum(axis=1) > 1
    return np.where(tied, fallback, P.argmax(axis=1))


def supervised_lr(X: np.ndarray, y: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000).fit(X, y).predict(X_test)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--adapter", default="{}", help="extra Adapter keyword arguments as JSON")
    args = ap.parse_args()
    extra = json.loads(args.adapter)
    results = []
    for name in args.sets or sets_with_train_embeddings():
        ds = load_dataset(DATA / name, splits=["train", "valid", "test"])
        tr, va, te, k = ds["train"], ds["valid"], ds["test"], ds.cardinality
        P = soft_majority_vote(tr.L, k)
        covered = (tr.L != -1).any(axis=1)
        majority = int(np.bincount(P[covered].argmax(axis=1), minlength=k).argmax())
        labels_test = score(name, te.Y, hard_labels(soft_majority_vote(te.L, k), majority))
        labels_train_acc = accuracy(tr.Y[covered], P[covered].argmax(axis=1))
        sup = score(name, te.Y, supervised_lr(tr.embeddings, tr.Y, te.embeddings))
        P_dev = soft_majority_vote(va.L, k)
        scores, seconds, cpu_seconds, heads, warned = [], [], [], [], 0
        for seed in range(args.seeds):
            model = Adapter(device="cpu", random_state=seed, progress=False,
                            dev_metric=METRIC.get(name, "accuracy"), **extra)
            start, cpu_start = time.perf_counter(), time.process_time()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(tr.embeddings, P, va.embeddings, va.Y, P_dev=P_dev)
            seconds.append(time.perf_counter() - start)
            cpu_seconds.append(time.process_time() - cpu_start)
            warned += any("training labels" in str(w.message) for w in caught)
            heads.append(getattr(model, "selection_", {}).get("chosen", str(model.hidden_)))
            scores.append(score(name, te.Y, model.predict(te.embeddings)))
        row = dict(set=name, metric=METRIC.get(name, "accuracy"), k=k, n_train=len(tr.Y),
                   coverage=float(covered.mean()), label_train_accuracy=float(labels_train_acc),
                   labels_test=labels_test, adapter_mean=float(np.mean(scores)), adapter_sd=float(np.std(scores)),
                   supervised_lr=sup, fit_seconds=float(np.median(seconds)),
                   fit_cpu_seconds=float(np.median(cpu_seconds)), heads=heads, warned=warned)
        results.append(row)
        print(json.dumps(row), flush=True)
    lines = [f"Adapter {extra or '(defaults)'} trained on soft majority vote; test split; {args.seeds} seeds", "",
             "| set | metric | coverage | MV labels (test) | Adapter on MV | Adapter − labels | supervised LR "
             "| Adapter − LR | fit s (wall / CPU) | head chosen | warned |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| {r['set']} | {r['metric']} | {r['coverage']:.2f} | {r['labels_test']:.3f} | "
            f"{r['adapter_mean']:.3f} ± {r['adapter_sd']:.3f} | {r['adapter_mean'] - r['labels_test']:+.3f} | "
            f"{r['supervised_lr']:.3f} | {r['adapter_mean'] - r['supervised_lr']:+.3f} | {r['fit_seconds']:.1f} / {r['fit_cpu_seconds']:.1f} | {'; '.join(sorted(set(r['heads'])))} | {r['warned']}/{args.seeds} |")
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "compare_endmodel_vs_labels.md").write_text(text + "\n")
    (OUT / "compare_endmodel_vs_labels.json").write_text(json.dumps({"adapter": extra, "rows": results}, indent=1))


if __name__ == "__main__":
    main()

"""Triplet and covariance fits on the real WRENCH label matrices, beside majority vote and Snorkel's LabelModel.

Fit on the train split (chemprot: valid, it has no train), score accuracy on test. Each labelfuse method runs with
the class balance estimated from moments and with it given (the train split's gold label frequencies, standing in
for a labeled dev set). Run:
    PYTHONPATH=python $PEERS_PYTHON bench/real_moment_models.py [data_dir]
Every LF in these sets votes a single class, outside the symmetric-noise model of the triplet fit (see the
warnings in FitResult.info): the moment estimate of the class balance is then unreliable.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from labelfuse import _core, label_stats
from labelfuse.models.covariance import fit_covariance
from labelfuse.bench.suite import default_data_folder
from labelfuse.models.triplet import fit_triplet

SETS = [("wrench_youtube", 2), ("wrench_sms", 2), ("wrench_trec", 6), ("wrench_semeval", 9), ("wrench_chemprot", 10)]


def load(path: Path):
    d = json.loads(path.read_text())
    items = [d[key] for key in sorted(d, key=int)]
    return np.array([it["weak_labels"] for it in items], dtype=np.int16), np.array([it["label"] for it in items])


def main(data: Path) -> None:
    warnings.filterwarnings("ignore")
    header = ["data set", "triplet", "triplet (balance given)", "covariance", "covariance (balance given)",
              "majority vote", "Snorkel LabelModel"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name, k in SETS:
        split = "valid" if name == "wrench_chemprot" else "train"
        L, Y = load(data / name / f"{split}.json")
        L_test, Y_test = load(data / name / "test.json")
        balance = np.bincount(Y, minlength=k) / len(Y)
        row = [name]
        for fit, overlap in ((fit_triplet, False), (fit_covariance, True)):
            st = label_stats(L, k, overlap_matrix=overlap)
            for given in (None, balance):
                r = fit(st, class_balance=given)
                P = _core.posterior(L_test, *r.log_tables(), k)
                row.append(f"{np.mean(P.argmax(1) == Y_test):.3f}")
        votes = np.stack([(L_test == c).sum(1) for c in range(k)], 1)
        row.append(f"{np.mean(votes.argmax(1) == Y_test):.3f}")  # ties and all-abstain rows: lowest class
        try:
            from snorkel.labeling.model import LabelModel

            lm = LabelModel(cardinality=k, verbose=False)
            lm.fit(L.astype(np.int64), progress_bar=False, seed=0)
            row.append(f"{np.mean(lm.predict_proba(L_test.astype(np.int64)).argmax(1) == Y_test):.3f}")
        except ImportError:
            row.append("—")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default_data_folder() or Path("../shared/data"))

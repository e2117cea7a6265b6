"""Adapter fit time on a real set: WRENCH sms train (4571 x 384 MiniLM embeddings), majority-vote soft labels,
early stopping on the labeled valid split, CPU. Wall time next to CPU time (process_time: all threads of this
process), per configuration, plus the settings the defaults had before (batch 64, lr 1e-3, torch's thread
count) as the baseline measured in the same run. torch.optim imports torch._dynamo on first use (seconds on a
busy machine, once per process); it is imported before the clock starts.

    PYTHONPATH=python python bench/compare_adapter_speed.py [--repeats 2] [--set wrench_sms]

Writes bench/results/compare_adapter_speed.{json,md}.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from labelfuse import load_dataset
from labelfuse.endmodels import Adapter
from labelfuse.bench.suite import default_data_folder

DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"

# the settings the defaults had before this benchmark existed, and the defaults now
CONFIGS = {
    "batch 64, lr 1e-3, torch's threads (old defaults)": dict(batch_size=64, lr=1e-3, n_threads=None),
    "defaults": {},
}


def soft_majority_vote(L: np.ndarray, k: int) -> np.ndarray:
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), 1.0 / k)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="wrench_sms")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    args = ap.parse_args()
    importlib.import_module("torch._dynamo")  # torch.optim imports it on first use: a one-off cost kept out
    ds = load_dataset(DATA / args.set, splits=["train", "valid", "test"])
    tr, va, te = ds["train"], ds["valid"], ds["test"]
    P = soft_majority_vote(tr.L, ds.cardinality)
    rows = []
    for name in args.configs:
        for rep in range(args.repeats):
            model = Adapter(device="cpu", random_state=rep, progress=False, **CONFIGS[name])
            w0, c0 = time.perf_counter(), time.process_time()
            model.fit(tr.embeddings, P, va.embeddings, va.Y)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            epochs = len(model.history_)
            acc = float((model.predict(te.embeddings) == te.Y).mean())
            rows.append(dict(config=name, repeat=rep, wall_s=wall, cpu_s=cpu, epochs=epochs,
                             test_accuracy=acc))
            print(f"{name:34s} rep {rep}: wall {wall:6.2f} s  cpu {cpu:6.2f} s  epochs {epochs:3d}  "
                  f"test acc {acc:.3f}", flush=True)
    base = [r for r in rows if r["config"] == args.configs[0]]
    base_wall = float(np.median([r["wall_s"] for r in base]))
    lines = [f"Adapter fit on {args.set} train ({tr.embeddings.shape[0]} x {tr.embeddings.shape[1]}), CPU, "
             f"torch threads {torch.get_num_threads()}, load average before {os.getloadavg()[0]:.1f}",
             "", "| configuration | wall s (median) | CPU s (median) | epochs | wall vs first row | test acc |",
             "|---|---|---|---|---|---|"]
    for name in args.configs:
        rs = [r for r in rows if r["config"] == name]
        wall = float(np.median([r["wall_s"] for r in rs]))
        cpu = float(np.median([r["cpu_s"] for r in rs]))
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {np.median([r['epochs'] for r in rs]):.0f} | "
                     f"{base_wall / wall:.1f}x faster | {np.mean([r['test_accuracy'] for r in rs]):.3f} |")
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "compare_adapter_speed.md").write_text(text + "\n")
    (OUT / "compare_adapter_speed.json").write_text(json.dumps(
        {"rows": rows, "python": platform.python_version(), "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()

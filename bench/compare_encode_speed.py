"""encode() against the sentence-transformers model it wraps, called directly (batch 64), on the same SMS texts in
one process: texts/s in wall time next to CPU time, for each backend of encode() (torch, onnx fp32, onnx int8), and
the min/mean cosine of each contender's embeddings to sentence-transformers'. The embeddings cache is off, so every
contender encodes every text; the ONNX export and quantisation happen (once, cached) before the clock.

    PYTHONPATH=python python bench/compare_encode_speed.py [--n 1000] [--repeats 2] [--threads N]
"""
from __future__ import annotations

import argparse
import csv
import os
import time
import warnings
from pathlib import Path

import numpy as np

from labelfuse.bench.suite import default_data_folder
from labelfuse.embeddings import onnx_backend
from labelfuse.embeddings.encode import _load_default, _onnx_folder, encode

DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def sms_texts(n: int) -> list:
    with open(DATA / "lfr_sms" / "train.csv", newline="", encoding="utf-8") as f:
        return [row["v2"] for row in csv.DictReader(f)][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2, help="rounds, contenders in turn; the fastest round counts")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: its own)")
    args = ap.parse_args()
    texts = sms_texts(args.n)
    st = _load_default("cpu")
    st.encode(texts[:8])  # warm-up: first-call allocations out of every timing
    with warnings.catch_warnings():  # torch's legacy-exporter notes, once, outside the timings
        warnings.simplefilter("ignore")
        for int8 in (False, True):
            onnx_backend.model_file(st, _onnx_folder(None), int8)
    for backend in ("onnx", "onnx-int8"):
        encode(texts[:8], cache_dir=False, progress=False, backend=backend, n_threads=args.threads)
    contenders = [
        ("sentence-transformers encode(batch_size=64)",
         lambda: st.encode(texts, batch_size=64, show_progress_bar=False, normalize_embeddings=True)),
        ("encode(backend='torch')", lambda: encode(texts, cache_dir=False, progress=False, device="cpu")),
        ("encode(backend='onnx') fp32", lambda: encode(texts, cache_dir=False, progress=False, backend="onnx",
                                                      n_threads=args.threads)),
        ("encode(backend='onnx-int8')", lambda: encode(texts, cache_dir=False, progress=False, backend="onnx-int8",
                                                      n_threads=args.threads)),
    ]
    best = {}
    for _ in range(args.repeats):  # in turn, so a burst of load on this shared machine hits every contender alike
        for name, fn in contenders:
            got = timed(fn)
            if name not in best or got[1] < best[name][1]:
                best[name] = got
    rows = [(name, *best[name]) for name, _ in contenders]
    ref, base, base_cpu = rows[0][1], rows[0][2], rows[0][3]
    print(f"{len(texts)} SMS texts (lfr_sms train), CPU, {os.cpu_count()} cores, onnxruntime threads "
          f"{args.threads or 'default'}, best of {args.repeats} rounds\n")
    print("| contender | wall s | CPU s | texts/s (wall) | vs s-t (wall) | vs s-t (CPU) | cosine to s-t min / mean |")
    print("|---|---|---|---|---|---|---|")
    for name, emb, wall, cpu in rows:
        cos = np.sum(np.asarray(emb, dtype=np.float64) * ref, axis=1)
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {len(texts) / wall:.0f} | {base / wall:.2f}x | "
              f"{base_cpu / cpu:.2f}x | {cos.min():.4f} / {cos.mean():.4f} |")


if __name__ == "__main__":
    main()

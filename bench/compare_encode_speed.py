"""encode() against the sentence-transformers model it wraps, called directly (batch 64), on the same SMS texts in
one process: texts/s in wall time next to CPU time. The cache is off, so both encode every text.

    PYTHONPATH=python python bench/compare_encode_speed.py [--n 2000]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from labelfuse import load_dataset
from labelfuse.bench.suite import default_data_folder
from labelfuse.embeddings.encode import _load_default, encode

DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    texts = load_dataset(DATA / "wrench_sms", splits=["train"], embeddings=False)["train"].texts[:args.n]
    st = _load_default("cpu")
    st.encode(texts[:8])  # warm-up: first-call allocations out of both timings
    rows = [("sentence-transformers encode(batch_size=64)",
             timed(lambda: st.encode(texts, batch_size=64, show_progress_bar=False))),
            ("labelfuse encode()", timed(lambda: encode(texts, cache_dir=False, progress=False, device="cpu")))]
    base = rows[0][1][0]
    print(f"{len(texts)} SMS texts, CPU\n\n| contender | wall s | CPU s | texts/s | vs sentence-transformers |\n|---|---|---|---|---|")
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {len(texts) / wall:.0f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()

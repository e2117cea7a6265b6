"""Time applying LFs to a DataFrame: labelfuse.apply_lfs vs Snorkel's PandasLFApplier vs a bare Python loop.

The bare loop (itertuples, call each function, one np.array at the end) is the floor any applier pays for calling
Python LFs. Both appliers must produce the same L. Usage (Snorkel is optional)::

    PYTHONPATH=python $PEERS_PYTHON bench/apply_lfs_vs_snorkel.py --rows 50000
"""
from __future__ import annotations

import argparse
import re
import time

import numpy as np
import pandas as pd

from labelfuse.datasets import load_dataset
from labelfuse.labeling import apply_lfs, labeling_function

ABSTAIN, HAM, SPAM = -1, 0, 1


def tutorial_functions():
    """The Snorkel spam tutorial's keyword / regex / length LFs as plain functions of a row with ``.text``."""
    def keyword(name, words, label):
        def f(x, words=tuple(words)):
            return label if any(w in x.text.lower() for w in words) else ABSTAIN
        f.__name__ = name
        return f

    def regex_check_out(x):
        return SPAM if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN

    def short_comment(x):
        return HAM if len(x.text.split()) < 5 else ABSTAIN

    return [keyword("keyword_my", ["my"], SPAM), keyword("keyword_subscribe", ["subscribe"], SPAM),
            keyword("keyword_link", ["http"], SPAM), keyword("keyword_please", ["please", "plz"], SPAM),
            keyword("keyword_song", ["song"], HAM), regex_check_out, short_comment]


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    texts = load_dataset(splits=["train"], embeddings=False).train.texts
    df = pd.DataFrame({"text": (texts * (args.rows // len(texts) + 1))[: args.rows], "id": np.arange(args.rows)})
    funcs = tutorial_functions()
    n_calls = len(df) * len(funcs)

    def bare_loop():
        return np.array([[f(x) for f in funcs] for x in df.itertuples(index=False)], dtype=np.int8)

    ours = [labeling_function(name=f.__name__)(f) for f in funcs]
    results = {"bare loop": best_of(bare_loop, args.repeat),
               "labelfuse apply_lfs": best_of(lambda: apply_lfs(ours, df, progress=False), args.repeat)}
    try:
        from snorkel.labeling import LabelingFunction as SnorkelLF, PandasLFApplier
    except ImportError:
        print("snorkel not installed: skipping it")
    else:
        theirs = PandasLFApplier([SnorkelLF(f.__name__, f) for f in funcs])
        results["snorkel PandasLFApplier"] = best_of(lambda: theirs.apply(df, progress_bar=False), args.repeat)

    reference = results["bare loop"][1]
    base = results["labelfuse apply_lfs"][0]
    print(f"{len(df)} rows x {len(funcs)} LFs ({n_calls} calls), best of {args.repeat}")
    for name, (seconds, L) in results.items():
        assert np.array_equal(L, reference), f"{name} disagrees with the bare loop"
        print(f"  {name:26s} {seconds:7.3f} s  {1e9 * seconds / n_calls:7.0f} ns/call  "
              f"{seconds / base:5.2f}x labelfuse")


if __name__ == "__main__":
    main()

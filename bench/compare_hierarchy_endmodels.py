"""TREC end models on MiniLM embeddings: SingleTask vs FlatMTL vs HierMTL (the MeTaL paper's end-model table).

    PYTHONPATH=python:bench python bench/compare_hierarchy_endmodels.py [--seeds 3] [--epochs 30]

Rows are the WRENCH trec splits (their precomputed MiniLM embeddings): train texts join to trec_qc_raw's
coarse:fine labels by normalised text (unmatched or ambiguous rows dropped), valid likewise (dev set for early
stopping), test's fine label is its leaked first token (the embeddings were computed without it). Training labels:
the hierarchical label model's end-label posteriors (fine-level LFs only, the best unsupervised setting in
compare_hierarchy.py, class balance from the valid labels); rows where every LF abstains are masked out.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

import trec_hierarchy_lfs as trec
from labelfuse.endmodels import FlatMTL, HierMTL, SingleTask
from labelfuse.hierarchy.models import HierarchicalLabelModel

WRENCH = trec.DATA / "wrench_trec"


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def load(g):
    raw_texts, raw_c, raw_f = trec.read_raw("train")
    by_text = {}
    for t, c, f in zip(raw_texts, raw_c, raw_f):
        by_text.setdefault(norm(t), set()).add((c, f))
    names = g.end_label_names()

    def end(c, f):
        return names.index(f"{c}:{f}" if c in trec.FINE else c)

    out = {}
    for split in ("train", "valid", "test"):
        d = json.loads((WRENCH / f"{split}.json").read_text())
        X = np.load(WRENCH / "minilm" / f"{split}.npy").astype(np.float32)
        keep, texts, Y = [], [], []
        for i, key in enumerate(sorted(d, key=int)):
            text = d[key]["data"]["text"]
            if split == "test":
                fine, text = text.split(" ", 1)
                label = end(trec.COARSE[d[key]["label"]], fine)
            else:
                labels = by_text.get(norm(text), set())
                if len(labels) != 1:
                    continue
                label = end(*next(iter(labels)))
            keep.append(i)
            texts.append(text)
            Y.append(label)
        out[split] = (X[keep], texts, np.array(Y))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hierarchy_endmodels.table.md"))
    args = ap.parse_args()
    g = trec.task_graph()
    data = load(g)
    X_tr, texts_tr, Y_tr = data["train"]
    X_dev, _, Y_dev = data["valid"]
    X_te, _, Y_te = data["test"]
    L_tr = trec.apply_lfs(texts_tr, with_coarse=False)
    lm = HierarchicalLabelModel(g).fit(L_tr, Y_dev=Y_dev)
    P = lm.predict_proba(L_tr)
    mask = np.concatenate([v for v in L_tr.values()], axis=1).max(axis=1) >= 0
    coarse_of_end = g.end_task_labels[:, 0]
    lm_pred = P.argmax(axis=1)
    lines = [
        "# TREC end models on MiniLM embeddings (labels: hierarchical label model, fine LFs only, dev balance)",
        "",
        f"train rows {len(Y_tr)} ({mask.sum()} with a vote), dev {len(Y_dev)}, test {len(Y_te)}; "
        f"label model on covered train rows: end {100 * (lm_pred == Y_tr)[mask].mean():.1f}%, "
        f"coarse {100 * (coarse_of_end[lm_pred] == coarse_of_end[Y_tr])[mask].mean():.1f}%. "
        f"max_epochs {args.epochs}, seeds 0..{args.seeds - 1}, CPU.",
        "",
        "| end model | test end acc. (%) | test coarse acc. (%) | s/fit |",
        "|---|---|---|---|",
    ]
    for cls in (SingleTask, FlatMTL, HierMTL):
        res, t0 = [], time.perf_counter()
        for seed in range(args.seeds):
            net = cls(g, seed=seed, max_epochs=args.epochs, progress=False, device="cpu")
            net.fit(X_tr, P, X_dev, Y_dev, mask=mask)
            pred = net.predict_proba(X_te).argmax(axis=1)
            res.append([(pred == Y_te).mean(), (coarse_of_end[pred] == coarse_of_end[Y_te]).mean()])
        res = 100 * np.array(res)
        secs = (time.perf_counter() - t0) / args.seeds
        lines.append(f"| {cls.__name__} | {res[:, 0].mean():.1f} ± {res[:, 0].std():.1f} | "
                     f"{res[:, 1].mean():.1f} ± {res[:, 1].std():.1f} | {secs:.1f} |")
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print(table)
    Path(args.out).write_text(table)


if __name__ == "__main__":
    main()

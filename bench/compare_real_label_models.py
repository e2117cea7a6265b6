"""Label models on real weak-supervision data: labelfuse's methods beside Snorkel, FlyingSquid and crowd-kit,
run on the same label matrices in one process.

    PYTHONPATH=python $PEERS_PYTHON bench/compare_real_label_models.py [--data ../shared/data]

Protocol: every model is fitted on the unlabeled training votes (chemprot has no train split: valid votes;
spouse has only a test split: its own votes, transductively) and scored on test gold (tennis: dev gold). Rows
where every LF abstains are predicted from the model's class balance, for every method alike (argmax of
predict_proba). "+dev prior" variants take the class balance from the valid split's gold labels (ours:
``Y_dev=``; Snorkel: ``class_balance=``) — the only use of labels. Peers that are not installed are skipped.
Writes bench/results/real_label_models.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import labelfuse as lf
from labelfuse.datasets import load_dataset
from labelfuse.metrics import f1

ROOT = Path(__file__).resolve().parents[1]
WRENCH = ("wrench_youtube", "wrench_sms", "wrench_trec", "wrench_semeval", "wrench_chemprot")


def load_sets(data: Path):
    """(name, L_fit, L_eval, Y_eval, Y_dev or None, k)."""
    for name in WRENCH:
        ds = load_dataset(data / name, embeddings=False)
        fit = ds.train if ds.train is not None else ds.valid
        dev = ds.valid if ds.train is not None else None
        yield name, fit.L, ds.test.L, ds.test.Y, None if dev is None else dev.Y, ds.cardinality
    import pandas as pd

    df = pd.read_csv(data / "denoise_spouse_test" / "test_spouse_snorkel.csv")
    L = df[[f"LF{i}" for i in range(1, 10)]].to_numpy().astype(np.int8)
    yield "spouse (test, transductive)", L, L, df["label"].to_numpy().astype(np.int64), None, 2
    t = data / "flyingsquid_tennis"
    to_ours = lambda a: np.select([a == 0, a == -1, a == 1], [-1, 0, 1]).astype(np.int8)  # 0 abstain, +-1
    Y = (np.load(t / "Y_dev_video.npy") > 0).astype(np.int64)
    yield "tennis (dev)", to_ours(np.load(t / "L_train_video.npy")), to_ours(np.load(t / "L_dev_video.npy")), Y, None, 2


def score(P, Y, k):
    pred = P.argmax(axis=1)
    return float((pred == Y).mean()), float(f1(Y, pred, k))


def ours(L_fit, L_eval, Y, Y_dev, k):
    rows = {}
    mv = lf.models.MajorityVote(cardinality=k).fit(L_fit)
    rows["labelfuse MV"] = (mv, None)
    for method in ("triplet", "covariance", "dawid_skene"):
        rows[f"labelfuse {method}"] = (lf.models.LabelModel(cardinality=k, method=method), None)
        if Y_dev is not None:
            rows[f"labelfuse {method} +dev prior"] = (lf.models.LabelModel(cardinality=k, method=method), Y_dev)
    out = {}
    for name, (model, ydev) in rows.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            model.fit(L_fit, **({} if ydev is None else {"Y_dev": ydev}))
            fit_s = time.perf_counter() - t
            P = model.predict_proba(L_eval)
        out[name] = score(P, Y, k) + (fit_s,)
    return out


def peers(L_fit, L_eval, Y, Y_dev, k):
    """The peer wrappers (and the patches they need) live in labelfuse.bench.peers, shared with the suite."""
    from labelfuse.bench.peers import available_peers, warm_up

    out = {}
    for name, fit in available_peers(k).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warm_up(fit, k)  # imports and first-call set-up are not part of the timed fit
        variants = {name: None}
        if name == "Snorkel LabelModel" and Y_dev is not None:
            variants["Snorkel LabelModel +dev prior"] = Y_dev  # class_balance= from valid gold (add-one smoothed)
        for label, ydev in variants.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                predict = fit(L_fit, k, ydev)
                fit_s = time.perf_counter() - t
                out[label] = score(predict(L_eval), Y, k) + (fit_s,)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "real_label_models")
    args = ap.parse_args(argv)
    results, lines = {}, []
    for name, L_fit, L_eval, Y, Y_dev, k in load_sets(args.data):
        res = {**ours(L_fit, L_eval, Y, Y_dev, k), **peers(L_fit, L_eval, Y, Y_dev, k)}
        results[name] = res
        metric = "F1" if k == 2 else "macro-F1"
        best_ours = max(v[0] for n, v in res.items() if n.startswith("labelfuse"))
        peer_accs = [v[0] for n, v in res.items() if not n.startswith("labelfuse")]
        best_peer = max(peer_accs) if peer_accs else float("nan")
        lines.append(f"\n### {name} (k={k}, fit rows {L_fit.shape[0]}, eval rows {L_eval.shape[0]}, "
                     f"{L_fit.shape[1]} LFs)\n")
        lines.append(f"| method | accuracy | {metric} | fit s |\n|---|---|---|---|")
        for n, (acc, f1, s) in sorted(res.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"| {n} | {acc:.4f} | {f1:.4f} | {s:.3f} |")
        lines.append(f"\nbest labelfuse accuracy {best_ours:.4f} vs best peer {best_peer:.4f} "
                     f"({'>=' if best_ours >= best_peer - 1e-12 else '<'})")
        print("\n".join(lines[-(len(res) + 3):]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("# Label models on real data\n" + "\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

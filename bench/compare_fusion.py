"""Embedding fusion evidence: test accuracy / F1 of the label model alone, Epoxy, Liger and WS + kNN on real data
with the precomputed MiniLM embeddings (tuning on valid only), and the speed of a cached refit at n = 1e5, m = 20
against the reference approach (dense similarity of every abstaining row to every voter, per LF, as Epoxy does).

    PYTHONPATH=python python bench/compare_fusion.py                 # both parts
    PYTHONPATH=python python bench/compare_fusion.py --only accuracy --label-model triplet
    PYTHONPATH=python python bench/compare_fusion.py --only speed --n 100000

Results: bench/results/compare_fusion.{json,md}.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import labelfuse
from labelfuse.embeddings import NeighborGraph, extend_votes
from labelfuse.fusion import Epoxy, Liger, ws_knn_proba

DATA = Path("/work/shared/data")
RESULTS = Path(__file__).resolve().parent / "results"
WRENCH_SETS = ("wrench_youtube", "wrench_sms", "wrench_trec")


# -- data (tiny local loaders until labelfuse.datasets lands) ---------------------------------------------------------
def load_wrench(name: str, split: str):
    rows = json.loads((DATA / name / f"{split}.json").read_text())
    keys = sorted(rows, key=int)
    L = np.array([rows[k]["weak_labels"] for k in keys], dtype=np.int8)
    Y = np.array([rows[k]["label"] for k in keys], dtype=np.int64)
    X = np.load(DATA / name / "minilm" / f"{split}.npy")
    return L, Y, X


def load_spouse(seed: int = 0):
    """The spouse test split is the only one with votes: a seeded 60 / 10 / 30 train / valid / test split of it."""
    csv.field_size_limit(1 << 30)
    with open(DATA / "denoise_spouse_test" / "test_spouse_snorkel.csv", newline="") as f:
        table = list(csv.DictReader(f))
    L = np.array([[int(r[f"LF{j}"]) for j in range(1, 10)] for r in table], dtype=np.int8)
    Y = np.array([int(r["label"]) for r in table], dtype=np.int64)
    X = np.load(DATA / "denoise_spouse_test" / "minilm" / "test.npy")
    order = np.random.default_rng(seed).permutation(len(Y))
    cut1, cut2 = int(0.6 * len(Y)), int(0.7 * len(Y))
    parts = {"train": order[:cut1], "valid": order[cut1:cut2], "test": order[cut2:]}
    return {s: (L[i], Y[i], X[i]) for s, i in parts.items()}


def datasets():
    for name in WRENCH_SETS:
        yield name, {s: load_wrench(name, s) for s in ("train", "valid", "test")}
    yield "denoise_spouse", load_spouse()


# -- metrics ----------------------------------------------------------------------------------------------------------
def metrics(Y, P):
    pred = P.argmax(axis=1)
    k = P.shape[1]
    f1s = []
    for c in ([1] if k == 2 else range(k)):
        tp = np.sum((pred == c) & (Y == c))
        denom = np.sum(pred == c) + np.sum(Y == c)
        f1s.append(2 * tp / denom if denom else 0.0)
    return {"acc": float((pred == Y).mean()), "f1": float(np.mean(f1s))}


def resolve_label_model(name: str):
    if name == "symmetric":  # a stand-in while the label models are not merged
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from _fusion_helpers import symmetric_fit
        return symmetric_fit(0.75)
    return name


# -- accuracy ---------------------------------------------------------------------------------------------------------
def run_accuracy(label_model, scoring_for):
    out = {}
    for name, d in datasets():
        (Lt, _, Xt), (Lv, Yv, Xv), (Ls, Ys, Xs) = d["train"], d["valid"], d["test"]
        k = int(max(Lt.max(), Yv.max(), Ys.max()) + 1)
        scoring = scoring_for(name)
        graph = NeighborGraph(n_neighbors=64).fit(Xt)
        common = dict(label_model=label_model, cardinality=k, neighbor_graph=graph, scoring=scoring)
        res = {}
        t0 = time.perf_counter()
        alone = Epoxy(thresholds=np.inf, **common).fit(Lt, Xt, Lv, Xv, Yv)
        res["label model"] = metrics(Ys, alone.predict_proba(Ls, Xs))
        epoxy = Epoxy(**common).fit(Lt, Xt, Lv, Xv, Yv)
        res["Epoxy"] = metrics(Ys, epoxy.predict_proba(Ls, Xs))
        liger = Liger(**common).fit(Lt, Xt, Lv, Xv, Yv)
        res["Liger"] = metrics(Ys, liger.predict_proba(Ls, Xs))
        # WS + kNN: label-model posteriors of the training rows, averaged over each row's nearest training rows;
        # the number of neighbours is chosen on valid
        ids_v = graph.query(Xv, n_neighbors=64)[0]
        ids_s = graph.query(Xs, n_neighbors=64)[0]
        P_train = alone.train_proba_
        best_nn = max((5, 10, 20, 40, 64), key=lambda nn: (metrics(Yv, ws_knn_proba(P_train, ids_v, nn))[
            "f1" if scoring == "f1" else "acc"], -nn))
        res["WS + kNN"] = metrics(Ys, ws_knn_proba(P_train, ids_s, best_nn))
        res["_info"] = {
            "n_train": int(len(Lt)), "n_valid": int(len(Lv)), "n_test": int(len(Ls)), "m": int(Lt.shape[1]),
            "k": k, "scoring": scoring, "seconds": round(time.perf_counter() - t0, 2),
            "coverage_test": {
                "raw": float((Ls >= 0).any(axis=1).mean()),
                "Epoxy": float((epoxy.extend(Ls, Xs) >= 0).any(axis=1).mean()),
            },
            "epoxy_offset": [r for r in epoxy.search_ if r["score"] is not None and r["score"] ==
                             max(s["score"] for s in epoxy.search_)][:1],
            "liger_parts": int(liger.n_parts_), "knn_neighbours": best_nn,
            "epoxy_thresholds": np.round(epoxy.thresholds_, 3).tolist(),
        }
        out[name] = res
        print(name, {m: (round(v["acc"], 3), round(v["f1"], 3)) for m, v in res.items() if m != "_info"},
              f"({res['_info']['seconds']} s)", flush=True)
    return out


# -- speed ------------------------------------------------------------------------------------------------------------
def synthetic_task(n, m, d, k=2, n_clusters=50, seed=0):
    """Clustered embeddings with a label per cluster; LFs vote with random coverage and accuracy."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    z = rng.integers(0, n_clusters, size=n)
    X = centres[z] + 0.8 * rng.standard_normal((n, d)).astype(np.float32)
    Y = rng.integers(0, k, size=n_clusters)[z]
    cov = rng.uniform(0.02, 0.2, size=m)
    acc = rng.uniform(0.6, 0.9, size=m)
    votes = rng.random((n, m)) < cov
    right = rng.random((n, m)) < acc
    L = np.where(votes, np.where(right, Y[:, None], (Y[:, None] + 1) % k), -1).astype(np.int8)
    return X, L, Y


def dense_reference_extend(L, X, thresholds, k, columns, block=4096):
    """Epoxy's reference approach for the given LFs: similarity of every abstaining row to every voter of the LF
    (blocked BLAS products, so memory stays bounded), max per class, then the same rule."""
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    out = L.copy()
    for j in columns:
        voters = np.flatnonzero(L[:, j] >= 0)
        V, cls = Xn[voters], L[voters, j]
        abst = np.flatnonzero(L[:, j] < 0)
        for start in range(0, len(abst), block):
            rows = abst[start:start + block]
            S = Xn[rows] @ V.T
            best = np.stack([S[:, cls == c].max(axis=1) if (cls == c).any() else np.full(len(rows), -np.inf)
                             for c in range(k)], axis=1)
            top = best.max(axis=1)
            unique = (best == top[:, None]).sum(axis=1) == 1
            take = unique & (top > thresholds[j])
            out[rows[take], j] = best[take].argmax(axis=1)
    return out


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def run_speed(label_model, n, m, d, parts, repeat):
    import faiss

    res = {"n": n, "m": m, "d": d, "parts": parts, "n_threads": labelfuse._core.max_threads()}
    X, L, _ = synthetic_task(n, m, d)
    # graph construction versus faiss's own search (normalise + flat index + search K+1), interleaved
    K = 32
    n_graph = min(n, 30000)
    Xg = X[:n_graph]

    def faiss_only():
        Xc = Xg.astype(np.float32, copy=True)
        faiss.normalize_L2(Xc)
        index = faiss.IndexFlatIP(d)
        index.add(Xc)
        index.search(Xc, K + 1)

    tf, tg = [], []
    for _ in range(3):
        tf.append(timed(faiss_only, 1)[0])
        tg.append(timed(lambda: NeighborGraph(n_neighbors=K).fit(Xg), 1)[0])
    res["graph"] = {"n": n_graph, "K": K, "faiss_search_s": statistics.median(tf),
                    "neighbor_graph_s": statistics.median(tg),
                    "ratio": statistics.median(tg) / statistics.median(tf), "all_faiss_s": tf, "all_graph_s": tg}
    print("graph", res["graph"], flush=True)

    t = time.perf_counter()
    graph = NeighborGraph(n_neighbors=K).fit(X)
    res["graph_build_full_s"] = time.perf_counter() - t
    est = Liger(label_model, thresholds="unsupervised", n_parts=parts, neighbor_graph=graph, cardinality=2).fit(L, X)
    thr = est.thresholds_.copy()
    res["thresholds"] = np.round(thr, 3).tolist()
    res["extended_votes"] = int(est.extension_report_.extended.sum())
    res["fallback_pairs"] = int(est.extension_report_.fallback.sum())
    L_edit = L.copy()
    L_edit[:, 3] = np.where(L[:, 3] >= 0, 1 - L[:, 3], -1)  # the user edits one LF
    est.set_params(thresholds=thr)  # keep thresholds fixed across refits
    est.threshold_mode_ = "given"
    full, all_full = timed(lambda: est.refit(L_edit), repeat)
    one, all_one = timed(lambda: est.refit(L_edit, columns=[3]), repeat)
    ext, _ = timed(lambda: extend_votes(L_edit, graph, thr, cardinality=2), repeat)
    res["refit_full_ms"] = full * 1e3
    res["refit_one_lf_ms"] = one * 1e3
    res["extension_only_ms"] = ext * 1e3
    res["refit_full_all_ms"] = [x * 1e3 for x in all_full]
    # the reference: dense similarities per LF; measured on two LFs and scaled to m (the full run would take
    # minutes); same machine, same run
    cols = [3, 7]
    t = time.perf_counter()
    ref = dense_reference_extend(L_edit, X, thr, 2, cols)
    per_lf = (time.perf_counter() - t) / len(cols)
    ours = extend_votes(L_edit, graph, thr, cardinality=2)
    res["reference_matches_on_measured_lfs"] = bool(np.array_equal(ref[:, cols], ours[:, cols]))
    res["reference_mismatches"] = int((ref[:, cols] != ours[:, cols]).sum())
    res["reference_per_lf_s"] = per_lf
    res["reference_all_lfs_s_extrapolated"] = per_lf * m
    res["ratio_full_refit"] = per_lf * m / full
    res["ratio_one_lf_refit"] = per_lf / one
    print({k: v for k, v in res.items() if k not in ("graph", "refit_full_all_ms", "thresholds")}, flush=True)
    return res


def write_markdown(results, path):
    lines = ["# Embedding fusion: test accuracy / F1 (tuned on valid only)", ""]
    acc = results.get("accuracy")
    if acc:
        methods = ["label model", "Epoxy", "Liger", "WS + kNN"]
        lines += ["| data set | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
        for name, res in acc.items():
            cells = [f"{res[m]['acc']:.3f} / {res[m]['f1']:.3f}" for m in methods]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", f"label model: {results['label_model']}; cells: accuracy / F1 (binary: class 1; else macro)",
                  ""]
    sp = results.get("speed")
    if sp:
        lines += ["# Refit speed (graph cached)", "",
                  f"n = {sp['n']}, m = {sp['m']}, d = {sp['d']}, parts = {sp['parts']}, threads = {sp['n_threads']}",
                  "", f"- full refit: {sp['refit_full_ms']:.1f} ms (median); one edited LF: "
                  f"{sp['refit_one_lf_ms']:.1f} ms; extension alone: {sp['extension_only_ms']:.1f} ms",
                  f"- reference (dense per LF): {sp['reference_per_lf_s']:.2f} s per LF, "
                  f"{sp['reference_all_lfs_s_extrapolated']:.1f} s for all {sp['m']} (extrapolated from 2 LFs)",
                  f"- ratio: {sp['ratio_full_refit']:.0f}x (full refit), {sp['ratio_one_lf_refit']:.0f}x (one LF)",
                  f"- graph build vs faiss search (n = {sp['graph']['n']}): {sp['graph']['neighbor_graph_s']:.2f} s "
                  f"vs {sp['graph']['faiss_search_s']:.2f} s, ratio {sp['graph']['ratio']:.3f}", ""]
    path.write_text("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["accuracy", "speed"])
    ap.add_argument("--label-model", default="triplet")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    label_model = resolve_label_model(args.label_model)
    results = {"label_model": args.label_model}
    if args.only in (None, "accuracy"):
        results["accuracy"] = run_accuracy(label_model, lambda name: "f1" if "spouse" in name else "accuracy")
    if args.only in (None, "speed"):
        results["speed"] = run_speed(label_model, args.n, args.m, args.d, args.parts, args.repeat)
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.only is None else f"_{args.only}"
    (RESULTS / f"compare_fusion{suffix}.json").write_text(json.dumps(results, indent=1, default=float))
    write_markdown(results, RESULTS / f"compare_fusion{suffix}.md")


if __name__ == "__main__":
    main()

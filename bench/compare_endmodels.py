"""Label model alone vs an Adapter (MLP on MiniLM embeddings) trained on its probabilistic labels.

WRENCH youtube and sms, precomputed all-MiniLM-L6-v2 embeddings (float16 on disk, L2-normalised). For each label
model: its own test accuracy / F1 (argmax; ties and all-abstain rows go to the class the label model's training
labels favour), and the Adapter trained on its labels for rows where at least one LF voted (mean ± std over 5
seeds, early stopping on the labeled valid split with WRENCH's metric for the set: accuracy for youtube, F1 for
sms), the 5-seed ensemble, and accuracy on the test rows where every LF abstains (where the label model can only
guess the prior). Also the CPU training time per epoch.

    PYTHONPATH=python python bench/compare_endmodels.py [--seeds 5] [--sets wrench_youtube wrench_sms]

Writes bench/results/compare_endmodels.{json,md,png}.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from labelfuse import load_dataset
from labelfuse.endmodels import Adapter, Ensemble
from labelfuse.metrics import accuracy, f1
from labelfuse.bench.suite import default_data_folder

# $LABELFUSE_BENCH_DATA / $LABELFUSE_DATA, else ../shared/data beside the repository
DATA = default_data_folder() or Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results"
DEV_METRIC = {"wrench_youtube": "accuracy", "wrench_sms": "f1"}


def majority_vote_probs(L: np.ndarray, k: int) -> np.ndarray:
    """Vote shares per class; all-abstain rows uniform."""
    counts = np.stack([(L == c).sum(axis=1) for c in range(k)], axis=1).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.maximum(total, 1), 1.0 / k)


def label_sources(train, valid, test, k: int) -> dict:
    """name -> (P_train, P_test, rows to train on). Majority vote, every LabelModel method, and Liger (Dawid-Skene
    per part, thresholds and parts tuned on valid; the Adapter then trains on the rows its extension covers)."""
    covered = (train.L >= 0).any(axis=1)
    P = majority_vote_probs
    sources = {"majority vote": (P(train.L, k), P(test.L, k), covered)}
    from labelfuse.models import LabelModel

    for method in ("triplet", "covariance", "dawid_skene"):
        lm = LabelModel(cardinality=k, method=method, random_state=0).fit(train.L)
        sources[f"LabelModel {method}"] = (lm.predict_proba(train.L), lm.predict_proba(test.L), covered)
    try:
        from labelfuse.fusion import Liger
    except ImportError as exc:
        print(f"  Liger unavailable: {exc}")
        return sources
    liger = Liger(label_model="dawid_skene", seed=0).fit(train.L, train.embeddings, valid.L, valid.embeddings,
                                                         valid.Y)
    extended = (liger.extend(train.L, train.embeddings) >= 0).any(axis=1)
    sources["Liger (dawid_skene)"] = (liger.predict_proba(train.L, train.embeddings),
                                      liger.predict_proba(test.L, test.embeddings), extended)
    return sources


def label_model_predictions(P: np.ndarray, prior_class: int) -> np.ndarray:
    top = P.max(axis=1, keepdims=True)
    tied = (P >= top - 1e-12).sum(axis=1) > 1
    return np.where(tied, prior_class, P.argmax(axis=1))


def scores(y: np.ndarray, pred: np.ndarray, uncovered: np.ndarray) -> dict:
    return {
        "accuracy": accuracy(y, pred),
        "f1": f1(y, pred, cardinality=2),
        "acc_all_abstain": accuracy(y[uncovered], pred[uncovered]),
    }


def run_set(name: str, seeds: int, n_threads: int) -> dict:
    ds = load_dataset(DATA / name, drop_labeled=True)
    train, valid, test = ds["train"], ds["valid"], ds["test"]
    k = 2
    covered_train = (train.L >= 0).any(axis=1)
    uncovered_test = ~(test.L >= 0).any(axis=1)
    print(
        f"{name}: train {train.n} ({covered_train.mean():.3f} covered), valid {valid.n}, test {test.n} "
        f"({uncovered_test.sum()} all-abstain), {train.n_lfs} LFs, embeddings {train.embeddings.shape}"
    )
    results = {"n_train": train.n, "n_test": test.n, "n_test_all_abstain": int(uncovered_test.sum()), "rows": []}
    for lm_name, (P_train, P_test, rows) in label_sources(train, valid, test, k).items():
        prior_class = int(np.bincount(P_train[covered_train].argmax(axis=1), minlength=k).argmax())
        lm_scores = scores(test.Y, label_model_predictions(P_test, prior_class), uncovered_test)
        results["rows"].append({"labels": lm_name, "model": "label model", **_single(lm_scores)})
        print(f"  {lm_name:>22} alone: " + _fmt(lm_scores))
        for variant, extra in (("Adapter", {}), ("Adapter conf-weighted", {"confidence_weighted": True})):
            members, per_seed, epoch_s = [], [], []
            for seed in range(seeds):
                model = Adapter(
                    seed=seed, dev_metric=DEV_METRIC[name], n_threads=n_threads, progress=False, device="cpu", **extra
                )
                model.fit(train.embeddings, P_train, valid.embeddings, valid.Y, mask=rows)
                per_seed.append(scores(test.Y, model.predict(test.embeddings), uncovered_test))
                epoch_s += [h["seconds"] for h in model.history_]
                members.append(model)
            agg = {m: (float(np.mean([s[m] for s in per_seed])), float(np.std([s[m] for s in per_seed])))
                   for m in per_seed[0]}
            ens = scores(test.Y, Ensemble.from_models(members).predict(test.embeddings), uncovered_test)
            row = {
                "labels": lm_name,
                "model": variant,
                **{m: v[0] for m, v in agg.items()},
                **{f"{m}_std": v[1] for m, v in agg.items()},
                "ensemble": ens,
                "epochs_mean": float(np.mean([len(m.history_) for m in members])),
                "seconds_per_epoch": float(np.mean(epoch_s)),
            }
            results["rows"].append(row)
            print(
                f"  {lm_name:>22} -> {variant}: "
                + ", ".join(f"{m} {v[0]:.3f}±{v[1]:.3f}" for m, v in agg.items())
                + f" | ensemble of {seeds}: {_fmt(ens)} | {row['seconds_per_epoch'] * 1e3:.0f} ms/epoch CPU,"
                f" {row['epochs_mean']:.0f} epochs"
            )
    return results


def _single(s: dict) -> dict:
    return {**s, **{f"{m}_std": 0.0 for m in s}}


def _fmt(s: dict) -> str:
    return ", ".join(f"{m} {v:.3f}" for m, v in s.items())


def write_markdown(all_results: dict, seeds: int, path: Path) -> None:
    lines = [
        f"# Label model vs Adapter on MiniLM embeddings (test split; mean ± std over {seeds} seeds)",
        "",
        "| data set | labels from | model | accuracy | F1 (spam) | accuracy where all LFs abstain (n) "
        "| ensemble acc / F1 | CPU ms/epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, res in all_results["sets"].items():
        for r in res["rows"]:
            uncovered = f"{r['acc_all_abstain']:.3f}"
            if "seconds_per_epoch" not in r:  # the label model itself: one deterministic number
                lines.append(
                    f"| {name} | {r['labels']} | {r['model']} | {r['accuracy']:.3f} | {r['f1']:.3f} | "
                    f"{uncovered} ({res['n_test_all_abstain']}) | - | - |"
                )
                continue
            ens = r["ensemble"]
            lines.append(
                f"| {name} | {r['labels']} | {r['model']} | {r['accuracy']:.3f} ± {r['accuracy_std']:.3f} | "
                f"{r['f1']:.3f} ± {r['f1_std']:.3f} | {uncovered} ± {r['acc_all_abstain_std']:.3f} "
                f"({res['n_test_all_abstain']}) | {ens['accuracy']:.3f} / {ens['f1']:.3f} | "
                f"{r['seconds_per_epoch'] * 1e3:.0f} |"
            )
    lines += ["", f"Machine: {all_results['machine']}; torch threads: {all_results['n_threads']}."]
    path.write_text("\n".join(lines) + "\n")


def plot(all_results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(all_results["sets"])
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets):
        rows = all_results["sets"][name]["rows"]
        labels = [f"{r['labels']}\n{r['model']}" for r in rows]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["accuracy"] for r in rows], 0.4, yerr=[r["accuracy_std"] for r in rows], label="all test")
        ax.bar(x + 0.2, [r["acc_all_abstain"] for r in rows], 0.4, yerr=[r["acc_all_abstain_std"] for r in rows],
               label="test rows where all LFs abstain")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sets", nargs="+", default=["wrench_youtube", "wrench_sms"])
    parser.add_argument("--n-threads", type=int, default=1, help="torch threads while training (restored after)")
    args = parser.parse_args()
    start = time.perf_counter()
    all_results = {
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores (shared)",
        "n_threads": args.n_threads,
        "seeds": args.seeds,
        "sets": {name: run_set(name, args.seeds, args.n_threads) for name in args.sets},
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "compare_endmodels.json").write_text(json.dumps(all_results, indent=2))
    write_markdown(all_results, args.seeds, OUT / "compare_endmodels.md")
    plot(all_results, OUT / "compare_endmodels.png")
    print(f"wrote {OUT}/compare_endmodels.{{json,md,png}} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

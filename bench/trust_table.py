"""Labels a user can trust by default: every label model, every fusion, and the automatic choice, on every
WRENCH-format set in the data folder, scored as WRENCH scores (accuracy; binary F1 of the positive class for sms
and spouse) with WRENCH's tie policy (a per-row hash among the tied classes, :func:`labelfuse.metrics.score`).

Rows, each fitted on the train split's votes (and embeddings), scored once on test:

- majority-class baseline (the most frequent test class; the floor every default must clear);
- majority vote, triplet, covariance, Dawid-Skene: the label models with their defaults (class balance
  estimated, no dev labels);
- Epoxy / Liger (triplet) without dev labels (unsupervised thresholds; Liger then uses one part), and with dev
  labels (their own search on valid);
- auto: ``labelfuse.fit_labels`` with the valid split as dev (label model, class balance and fusion chosen by
  repeated k-fold and the one-standard-error rule), and without dev labels (its documented unsupervised choice).

The gap is auto minus the best single method in hindsight (the best test score among the rows above except the
auto rows and the baseline). A set without a train split (wrench_chemprot) is fitted on its test split's votes
(transductive, as the label models never see labels); the dev set is always valid.

    PYTHONPATH=python python bench/trust_table.py            # all sets; rewrites the table in bench/README.md
    PYTHONPATH=python python bench/trust_table.py --datasets wrench_youtube --no-readme
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from labelfuse import Epoxy, LabelModel, Liger, MajorityVote, fit_labels, load_dataset
from labelfuse.bench.suite import default_data_folder
from labelfuse.diagnostics import LabelfuseWarning
from labelfuse.metrics import score

HERE = Path(__file__).resolve().parent
F1_SETS = ("sms", "spouse")  # WRENCH scores these binary sets by F1 of the positive class
START, END = "<!-- trust-table start -->", "<!-- trust-table end -->"
SINGLE = ("majority vote", "triplet", "covariance", "Dawid-Skene", "Epoxy (no dev)", "Liger (no dev)",
          "Epoxy (dev)", "Liger (dev)")


def wrench_sets(data: Path):
    return [p for p in sorted(data.iterdir()) if p.is_dir() and (p / "test.json").is_file()
            and (p / "valid.json").is_file()]


def metric_of(name: str) -> str:
    return "f1" if any(s in name for s in F1_SETS) else "accuracy"


def evaluate(folder: Path, seed: int = 0) -> dict:
    ds = load_dataset(folder)
    tr = ds.train if ds.train is not None else ds.test
    va, te, k = ds.valid, ds.test, ds.cardinality
    metric = metric_of(folder.name)

    def test_score(P):
        return 100 * score(te.Y, P, metric, tie_policy="hash", cardinality=k, warn=False)[metric]

    rows, notes = {}, {}

    def fit(name, make):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            P = make()
        rows[name] = test_score(P)
        ours = [w for w in caught if issubclass(w.category, LabelfuseWarning)]
        notes[name] = {"seconds": time.perf_counter() - t0, "warnings": len(ours),
                       "warning_categories": sorted({w.category.__name__ for w in ours})}

    majority = np.bincount(te.Y, minlength=k).argmax()
    rows["majority-class baseline"] = test_score(np.eye(k)[np.full(te.n, majority)])
    fit("majority vote", lambda: MajorityVote(cardinality=k).fit(tr.L).predict_proba(te.L))
    for name, method in (("triplet", "triplet"), ("covariance", "covariance"), ("Dawid-Skene", "dawid_skene")):
        fit(name, lambda method=method: LabelModel(cardinality=k, method=method, random_state=seed).fit(
            tr.L).predict_proba(te.L))
    X = tr.embeddings
    if X is not None:
        for cls in (Epoxy, Liger):
            fit(f"{cls.__name__} (no dev)", lambda cls=cls: cls("triplet", cardinality=k, random_state=seed).fit(
                tr.L, X).predict_proba(te.L, te.embeddings))
            fit(f"{cls.__name__} (dev)", lambda cls=cls: cls("triplet", cardinality=k, random_state=seed).fit(
                tr.L, X, va.L, va.embeddings, va.Y).predict_proba(te.L, te.embeddings))
    chosen = {}

    def auto(dev: bool):
        fitted = fit_labels(tr.L, X, *((va.L, va.Y, va.embeddings) if dev else ()), cardinality=k,
                            scoring="f1" if metric == "f1" else "accuracy", random_state=seed)
        chosen["auto (dev)" if dev else "auto (no dev)"] = {key: v for key, v in fitted.chosen_.items()}
        return fitted.predict_proba(te.L, None if X is None else te.embeddings)

    fit("auto (dev)", lambda: auto(True))
    fit("auto (no dev)", lambda: auto(False))
    singles = {m: rows[m] for m in SINGLE if m in rows}
    best = max(singles, key=singles.get)
    return {"name": folder.name, "k": k, "metric": metric, "n_train": tr.n, "n_valid": va.n, "n_test": te.n,
            "train_split": "train" if ds.train is not None else "test (no train split)", "rows": rows,
            "notes": notes, "chosen": chosen, "best_single": best, "gap": rows["auto (dev)"] - rows[best]}


def goals(r: dict) -> dict:
    rows = r["rows"]
    out = {"auto >= best - 1": r["gap"] >= -1.0}
    base = rows["majority-class baseline"]
    unsup = "auto (no dev)"
    out["unsupervised default >= majority class (or warned)"] = rows[unsup] >= base or r["notes"][unsup]["warnings"] > 0
    if "Liger (dev)" in rows:
        out["Liger >= its label model (dev / no dev)"] = (rows["Liger (dev)"] >= rows["triplet"]
                                                          and rows["Liger (no dev)"] >= rows["triplet"])
        out["fusion without dev >= its label model"] = (rows["Epoxy (no dev)"] >= rows["triplet"]
                                                        and rows["Liger (no dev)"] >= rows["triplet"])
    return out


def markdown(results: list, command: str) -> str:
    methods = ["majority-class baseline", *SINGLE, "auto (dev)", "auto (no dev)"]
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}` (one seed, 0). "
             "Scores on test in points: accuracy, or binary F1 of the positive class for "
             + ", ".join(r["name"] for r in results if r["metric"] == "f1")
             + " (WRENCH's metrics); ties and rows without votes broken by WRENCH's per-row hash "
             "(`tie_policy=\"hash\"`). Label models with their defaults (class balance estimated); fusions use "
             "triplet; \"no dev\" = fitted without dev labels; auto = `labelfuse.fit_labels` (dev = valid). "
             "Gap = auto (dev) minus the best single method in hindsight.", "",
             "| method | " + " | ".join(r["name"] for r in results) + " |",
             "|---|" + "---:|" * len(results)]
    for m in methods:
        cells = []
        for r in results:
            v = r["rows"].get(m)
            w = r["notes"].get(m, {}).get("warnings", 0)
            cells.append("-" if v is None else f"{v:.1f}" + (f" ({w} w)" if w else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("| best single (hindsight) | " + " | ".join(f"{r['best_single']}" for r in results) + " |")
    lines.append("| **gap auto - best** | " + " | ".join(f"**{r['gap']:+.1f}**" for r in results) + " |")
    lines += ["", "(n w): the number of labelfuse warnings the fit emitted. What auto chose:", ""]
    for r in results:
        for which, c in r["chosen"].items():
            desc = c["label_model"] + f", class balance {c['class_balance']}"
            if c["fusion"] != "none":
                desc = f"{c['fusion']}({desc}, {c.get('thresholds', 'unsupervised')} thresholds {c['offset']:+.2f}" + (
                    f", {c['n_parts']} parts)" if c["fusion"] == "Liger" else ")")
            lines.append(f"- {r['name']}, {which}: {desc}")
    lines += ["", "Goals:", ""]
    for r in results:
        g = goals(r)
        lines.append(f"- {r['name']}: " + "; ".join(f"{k} {'met' if v else '**missed**'}" for k, v in g.items()))
    return "\n".join(lines) + "\n"


def write_readme(table: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text()
    block = (f"{START}\n## Labels a user can trust by default (`bench/trust_table.py`)\n\n{table}{END}")
    if START in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--no-readme", action="store_true")
    args = p.parse_args()
    data = args.data or default_data_folder()
    sets = [s for s in wrench_sets(data) if not args.datasets or s.name in args.datasets]
    results = [evaluate(s) for s in tqdm(sets, desc="data sets")]
    out = HERE / "results" / "trust_table.json"
    out.write_text(json.dumps(results, indent=1, default=float))
    command = "PYTHONPATH=python python bench/trust_table.py" + (
        f" --datasets {' '.join(args.datasets)}" if args.datasets else "")
    table = markdown(results, command)
    print(table)
    if not args.no_readme:
        write_readme(table)


if __name__ == "__main__":
    main()

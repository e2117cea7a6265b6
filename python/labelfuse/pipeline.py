"""The main job: a data set through LF analysis, label models, embedding fusion and an end model, with a report.

Every choice is made on the valid split (method, class balance, fusion thresholds and parts, end-model early
stopping); the test split is only scored. Stages whose optional dependency is missing (faiss for fusion, torch
for the end model) are skipped and say so.

Scoring follows the one contract (:func:`labelfuse.metrics.score`): a label model is scored by its own ``score``
under the run's ``tie_policy``, so ``run`` prints the numbers the API returns; each stage reports the rows it
abstained on. The fits' diagnostics are emitted as labelfuse warnings (never silenced here); a stage below the
majority-class baseline on valid, or with a class balance far from valid's, is flagged in the report and warned.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd

from ._base import DEPRECATED, renamed_argument
from .labeling.analysis import LFAnalysis
from .datasets import Dataset, load_dataset
from .diagnostics import BaselineWarning
from .metrics import break_ties, score
from .models import LabelModel, MajorityVote
from .models.assumptions import COVARIANCE_MAX_CLASSES
from .selection import fit_labels

__all__ = ["RunReport", "run"]

LOW_ACCURACY = 0.6    # an LF whose valid accuracy is below this is flagged
MIN_VALID_VOTES = 5   # ... when it voted at least this often on valid
LOW_COVERAGE = 0.005  # an LF firing on fewer train rows than this is flagged
# A fitted class balance this far (total variation distance) from the valid split's class frequencies is flagged.
FAR_CLASS_BALANCE = 0.15


@dataclass
class RunReport:
    dataset: str
    cardinality: int
    lf_table: pd.DataFrame
    stages: List[Dict[str, Any]] = field(default_factory=list)
    advice: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    tie_policy: str = "abstain"
    flags: List[str] = field(default_factory=list)

    def stage_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.stages).set_index("stage")

    def to_text(self) -> str:
        metric = "F1" if self.cardinality == 2 else "macro-F1"
        t = self.stage_table()
        cols = ["valid acc", f"valid {metric}", "test acc", f"test {metric}", "test abstained",
                "test acc (no LF votes)", "train coverage", "seconds"]
        lines = [
            f"labelfuse run: {self.dataset} ({self.cardinality} classes)",
            "",
            "1. Labeling functions (coverage etc. on train; accuracy on valid gold)",
            self.lf_table.to_string(float_format=lambda x: f"{x:.3f}"),
            "",
            "2-4. Label models, embedding fusion, end model (chosen on valid; test only scored; rows a model "
            f"abstained on: tie_policy={self.tie_policy!r}, "
            + ("counted wrong)" if self.tie_policy == "abstain" else "given a class)"),
            t[[c for c in cols if c in t.columns]].to_string(float_format=lambda x: f"{x:.3f}", na_rep="-"),
        ]
        if self.flags:
            lines += ["", "Flags:"] + [f"  ! {f}" for f in self.flags]
        if self.skipped:
            lines += ["", "Skipped: " + "; ".join(self.skipped)]
        lines += ["", "What to do next:"] + [f"  - {a}" for a in self.advice]
        return "\n".join(lines)

    def to_dict(self) -> Dict[str, Any]:
        return {"dataset": self.dataset, "cardinality": self.cardinality,
                "lfs": json.loads(self.lf_table.to_json(orient="index")), "stages": self.stages,
                "advice": self.advice, "skipped": self.skipped, "tie_policy": self.tie_policy, "flags": self.flags}


def _scores(report, k: int, prefix: str) -> Dict[str, float]:
    name = "F1" if k == 2 else "macro-F1"
    return {f"{prefix} acc": report["accuracy"], f"{prefix} {name}": report["f1"],
            f"{prefix} abstained": report.n_abstained}


def _flag(report: "RunReport", message: str) -> None:
    report.flags.append(message)
    warnings.warn(message, BaselineWarning, stacklevel=3)


def _lf_table(ds: Dataset) -> pd.DataFrame:
    names = ds.lf_names
    train = LFAnalysis(ds.train.L, names, cardinality=ds.cardinality).lf_summary()
    valid = LFAnalysis(ds.valid.L, names, cardinality=ds.cardinality).lf_summary(Y=ds.valid.Y)
    table = train[["Polarity", "Coverage", "Overlaps", "Conflicts"]].copy()
    table["Valid votes"] = valid["Correct"] + valid["Incorrect"]
    table["Valid acc."] = valid["Emp. Acc."]
    return table


MAX_NAMED = 6  # LFs named in one advice line; the rest are counted ("and 12 more")


def _named(names: List[Any], detail: Optional[List[str]] = None) -> str:
    """``'a' (detail), 'b' (detail) and 3 more``: LFs by their names, capped at MAX_NAMED."""
    shown = [f"{n!r}" + (f" ({d})" if detail else "") for n, d in zip(names, detail or [""] * len(names))]
    head = ", ".join(shown[:MAX_NAMED])
    return head + (f" and {len(shown) - MAX_NAMED} more" if len(shown) > MAX_NAMED else "")


def _advice(ds: Dataset, lf_table: pd.DataFrame, stages: List[Dict[str, Any]], coverage: float) -> List[str]:
    """What to do next, one line per kind of finding (LFs named, capped), never one line per LF."""
    out = []
    weak = lf_table[(lf_table["Valid votes"] >= MIN_VALID_VOTES) & (lf_table["Valid acc."] < LOW_ACCURACY)]
    weak = weak.sort_values("Valid acc.", kind="stable")
    if len(weak):
        detail = [f"{r['Valid acc.']:.0%} of {int(r['Valid votes'])}" for _, r in weak.iterrows()]
        out.append(f"{len(weak)} LF{'s are' if len(weak) > 1 else ' is'} right on fewer than {LOW_ACCURACY:.0%} of "
                   f"{'their' if len(weak) > 1 else 'its'} valid votes: {_named(list(weak.index), detail)}: "
                   f"tighten or drop {'them' if len(weak) > 1 else 'it'}.")
    sparse = lf_table[lf_table["Coverage"] < LOW_COVERAGE].sort_values("Coverage", kind="stable")
    if len(sparse):
        detail = [f"{c:.2%}" for c in sparse["Coverage"]]
        out.append(f"{len(sparse)} LF{'s fire' if len(sparse) > 1 else ' fires'} on fewer than {LOW_COVERAGE:.1%} of "
                   f"train rows: {_named(list(sparse.index), detail)}: broaden or merge "
                   f"{'them' if len(sparse) > 1 else 'it'}.")
    if coverage < 0.95:
        out.append(f"{1 - coverage:.0%} of train rows get no vote at all: write LFs for them (look at a sample of "
                   "uncovered rows); embedding fusion and the end model label them meanwhile.")
    classes = set(range(ds.cardinality))
    voted = {c for pol in lf_table["Polarity"] for c in pol}
    missing = [ds.class_names[c] if ds.class_names else str(c) for c in sorted(classes - voted)]
    if missing:
        out.append(f"No LF votes class{'es' if len(missing) > 1 else ''} {_named(missing)}: add "
                   f"{'one for each' if len(missing) > 1 else 'one'}.")
    auto = [s for s in stages if s["stage"].startswith("auto:")]
    if auto:
        # the highest valid score of one split is a noisy pick (it chose Dawid-Skene on trec: 52.8 valid, 37.6
        # test); auto's choice (repeated k-fold, one-standard-error rule) is what the end model trains on
        out.append(f"Train on {auto[0]['stage'][len('auto: '):]} (auto's choice: repeated k-fold on valid, "
                   f"one-standard-error rule; test accuracy {auto[0]['test acc']:.3f}); the end model uses these "
                   "labels.")
    else:
        best = max(stages, key=lambda s: s["valid acc"])
        out.append(f"Best on valid: {best['stage']} (test accuracy {best['test acc']:.3f}); use its labels for "
                   "training.")
    return out


def run(dataset: Union[str, Path, Dataset] = "wrench_youtube", *, fusion: bool = True, end_model: bool = True,
        random_state: int = 0, n_threads: Optional[int] = None, progress: bool = True,
        plots: Union[str, Path, None] = None, tie_policy: str = "abstain", seed: Any = DEPRECATED) -> RunReport:
    """Run the whole pipeline on a WRENCH-format data set (the bundled YouTube spam set by default), or on a
    :class:`Dataset` already built (e.g. a user's table labelled by their LFs: :mod:`labelfuse.user_data`).
    ``random_state`` seeds every model it fits (``seed``: its deprecated former name). ``plots``: a folder to
    save the plots in (:func:`save_plots`; needs matplotlib). ``tie_policy``: how rows a model abstains on are
    scored ("abstain": counted wrong, the estimators' default; "prior", "random", "hash"), as in every ``score``
    method (:func:`labelfuse.metrics.score`).

    Example::

        report = run("wrench_youtube", fusion=False, end_model=False, tie_policy="hash")
        print(report.to_text())
    """
    seed = renamed_argument("run", random_state, seed)
    from .models.base import resolve_tie_policy

    resolve_tie_policy(tie_policy)
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    dataset = ds.name if isinstance(dataset, Dataset) else dataset
    for split in ("train", "valid", "test"):
        if getattr(ds, split) is None:
            raise ValueError(f"dataset: {dataset} has no {split} split; run needs train, valid and test")
    for split in ("valid", "test"):  # models are chosen on valid and scored on test: every row needs its label
        missing = int((getattr(ds, split).Y < 0).sum())
        if missing:
            raise ValueError(f"dataset: {ds.source}/{split}.json: {missing} of {getattr(ds, split).n} examples have "
                             f"no gold label; run chooses models on valid and scores them on test, which need one "
                             "for every example")
    k = ds.cardinality
    tr, va, te = ds.train, ds.valid, ds.test
    lf_table = _lf_table(ds)
    report = RunReport(str(dataset), k, lf_table, tie_policy=tie_policy)
    no_votes = (te.L < 0).all(axis=1)
    coverage = float((tr.L >= 0).any(axis=1).mean())
    valid_freq = np.bincount(va.Y, minlength=k) / va.Y.size
    baseline = float(valid_freq.max())  # accuracy of always predicting valid's most frequent class
    metric_names = ("accuracy", "f1")

    valid_pred: Dict[str, np.ndarray] = {}

    def prior_of(model):
        balance = getattr(model, "class_balance_", None)
        return balance if balance is not None and np.ndim(balance) == 1 else None

    def scored(model, L, X, Y, warn: bool):
        """(score report, predicted labels) by the contract: a label model's own score() and predict(); the
        others' probabilities through metrics.score and break_ties."""
        if X is None:
            return (model.score(L, Y, metric_names, tie_policy=tie_policy, warn=warn),
                    model.predict(L, tie_policy=tie_policy))
        P = model.predict_proba(L, X) if L is not None else model.predict_proba(X)
        return (score(Y, P, metric_names, tie_policy=tie_policy, random_state=seed, cardinality=k,
                      prior=prior_of(model), source=type(model).__name__, warn=warn),
                break_ties(P, tie_policy, prior_of(model), seed))

    def add(stage: str, model, L_of, X_of, seconds: float, train_coverage: float, **extra) -> Dict[str, Any]:
        valid, valid_pred[stage] = scored(model, L_of(va), X_of(va), va.Y, warn=False)
        test, pred_test = scored(model, L_of(te), X_of(te), te.Y, warn=True)
        row = {"stage": stage, **_scores(valid, k, "valid"), **_scores(test, k, "test"),
               "test acc (no LF votes)": float(np.mean(pred_test[no_votes] == te.Y[no_votes]))
               if no_votes.any() else float("nan"),
               "train coverage": train_coverage, "seconds": seconds, **extra}
        report.stages.append(row)
        if row["valid acc"] < baseline:
            _flag(report, f"{stage}: valid accuracy {row['valid acc']:.3f} is below the majority-class baseline "
                          f"{baseline:.3f} (always predicting the most frequent class)")
        balance = getattr(model, "class_balance_", None)
        if balance is not None and np.ndim(balance) == 1 and len(balance) == k:
            far = 0.5 * float(np.abs(np.asarray(balance) - valid_freq).sum())
            if far > FAR_CLASS_BALANCE:
                _flag(report, f"{stage}: class balance {np.round(balance, 3).tolist()} is far from valid's "
                              f"{np.round(valid_freq, 3).tolist()} (total variation {far:.2f}); pass the valid "
                              "labels (Y_dev) or a class_balance")
        return row

    def votes(split):
        return split.L

    def embeddings(split):
        return split.embeddings

    def nothing(split):
        return None

    # 2. label models: every method, with the class balance estimated from L or taken from valid gold
    candidates = {"majority vote": lambda: MajorityVote(cardinality=k, random_state=seed)}
    for method in ("triplet", "covariance", "dawid_skene"):
        if method == "covariance" and k > COVARIANCE_MAX_CLASSES:  # its fit grows as k^3: refused by LabelModel
            report.skipped.append(f"label model covariance ({k} classes, more than {COVARIANCE_MAX_CLASSES}: its "
                                  "fit time grows as k^3)")
            continue
        candidates[method] = lambda method=method: LabelModel(cardinality=k, method=method, n_threads=n_threads,
                                                              random_state=seed)
    soft: Dict[str, np.ndarray] = {}
    for name, make in candidates.items():
        for dev_prior in (False, True):
            if dev_prior and name == "majority vote":
                continue
            t0 = time.perf_counter()
            model = make().fit(tr.L, **({"Y_dev": va.Y} if dev_prior else {}))
            seconds = time.perf_counter() - t0
            stage = f"label model: {name}" + (" + valid prior" if dev_prior else "")
            P_train = model.predict_proba(tr.L)
            add(stage, model, votes, nothing, seconds, coverage, method=name)
            soft[stage] = P_train
    best_lm = max((s for s in report.stages), key=lambda s: s["valid acc"])

    # 3. embedding fusion
    if fusion:
        try:
            from .fusion import Epoxy, Liger
            import faiss  # noqa: F401
        except ImportError as exc:
            report.skipped.append(f"embedding fusion (needs faiss: pip install 'labelfuse[embed]'; {exc})")
        else:
            if tr.embeddings is None:
                report.skipped.append("embedding fusion (the data set has no embeddings; --encode computes them)")
            else:
                method = best_lm["method"] if best_lm["method"] != "majority vote" else "triplet"
                for cls in (Epoxy, Liger):
                    t0 = time.perf_counter()
                    model = cls(label_model=method, random_state=seed, n_threads=n_threads).fit(
                        tr.L, tr.embeddings, va.L, va.embeddings, va.Y)
                    P_train = model.predict_proba(tr.L, tr.embeddings)
                    extended = model.extend(tr.L, tr.embeddings)
                    stage = f"{cls.__name__} ({method})"
                    add(stage, model, votes, embeddings, time.perf_counter() - t0,
                        float((extended >= 0).any(axis=1).mean()), method=method)
                    soft[stage] = P_train

    # 3b. the automatic choice (labelfuse.fit_labels): label model, class balance and fusion chosen jointly on
    # valid by repeated k-fold and the one-standard-error rule; the end model learns from its labels
    auto_stage = None
    fusable = fusion and tr.embeddings is not None and not any("embedding fusion" in s for s in report.skipped)
    t0 = time.perf_counter()
    auto = fit_labels(tr.L, tr.embeddings if fusable else None, va.L, va.Y, va.embeddings if fusable else None,
                      cardinality=k, random_state=seed, n_threads=n_threads, progress=progress)
    fused = auto.chosen_["fusion"] != "none"
    auto_stage = f"auto: {auto.describe()}"
    add(auto_stage, auto.model_, votes, embeddings if fused else nothing, time.perf_counter() - t0,
        float((auto.model_.L_extended_ >= 0).any(axis=1).mean()) if fused else coverage, method="auto")
    soft[auto_stage] = auto.model_.train_proba_ if fused else auto.model_.predict_proba(tr.L)

    # 4. end model on the automatic choice's labels (the fused posteriors when a fusion won on valid)
    if end_model:
        try:
            from .endmodels import Adapter
        except ImportError as exc:
            report.skipped.append(f"end model (needs torch: pip install torch==2.13.0; {exc})")
        else:
            if tr.embeddings is None:
                report.skipped.append("end model (the data set has no embeddings; --encode computes them)")
            else:
                source = next(s for s in report.stages if s["stage"] == auto_stage)
                t0 = time.perf_counter()
                adapter = Adapter(random_state=seed, progress=progress, n_threads=1).fit(
                    tr.embeddings, soft[source["stage"]], X_dev=va.embeddings, Y_dev=va.Y)
                add(f"end model: Adapter on {source['stage']}", adapter, nothing, embeddings,
                    time.perf_counter() - t0, 1.0, method="adapter")
    report.advice = _advice(ds, lf_table, report.stages, coverage)
    if plots is not None:
        save_plots(plots, ds, report, soft, valid_pred)
    return report


def save_plots(folder: Union[str, Path], ds: Dataset, report: RunReport, train_soft: Dict[str, np.ndarray],
               valid_pred: Dict[str, np.ndarray]) -> List[Path]:
    """``lf_bars.png`` (coverage, overlaps, conflicts on train), ``label_histogram.png`` (the train posteriors of
    the best stage on valid that produces train labels) and ``confusion_valid.png`` (the best stage's valid
    predictions against gold) in ``folder``; returns the paths written."""
    from .plotting import figure_bytes, new_figure, plot_confusion_matrix, plot_label_histogram, plot_lf_bars

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    best = max(report.stages, key=lambda s: s["valid acc"])["stage"]
    best_train = max((s for s in report.stages if s["stage"] in train_soft), key=lambda s: s["valid acc"])["stage"]
    names = ds.class_names or None
    m = len(report.lf_table)
    figures = {
        "lf_bars.png": plot_lf_bars(report.lf_table, new_figure((6.0, max(2.0, 0.32 * m + 1.0))),
                                    title=f"{report.dataset}: LFs on train"),
        "label_histogram.png": plot_label_histogram(train_soft[best_train], new_figure((6.0, 3.5)),
                                                    class_names=names, title=f"Train labels: {best_train}"),
        "confusion_valid.png": plot_confusion_matrix(ds.valid.Y, valid_pred[best],
                                                     new_figure((1.0 * ds.cardinality + 2.5,) * 2),
                                                     cardinality=ds.cardinality, class_names=names,
                                                     title=f"Valid: {best}"),
    }
    paths = []
    for name, ax in figures.items():
        (out / name).write_bytes(figure_bytes(ax.figure, "png"))
        paths.append(out / name)
    return paths

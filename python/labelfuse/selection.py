"""Automatic choice of the label model, the class-balance source and the fusion settings, on dev.

With dev labels (L_dev, Y_dev, and X_dev for fusion) every candidate is scored by repeated stratified k-fold over
the dev rows: the candidates' only use of dev labels is the class balance (overall, or per part for Liger), which
is taken from the training folds and scored on the held-out fold; candidates that do not read dev labels are fitted
once and scored on the same folds (paired). The choice follows the one-standard-error rule: among the candidates
whose mean score is within one standard error (of the best candidate's fold scores) of the best, the simplest wins.
Simplicity orders first by fusion (none < Epoxy < Liger, fewer parts first), then by label model (majority vote <
triplet < covariance < Dawid-Skene), then class balance from dev labels before an estimated one, then the smallest
threshold shift. A single dev score would pick by noise: on wrench_trec, Dawid-Skene with a dev class balance was
best on valid (52.8) and worst on test (37.6).

The fusion candidates' thresholds are chosen without labels (:func:`labelfuse.embeddings.agreement_thresholds`)
and shifted by a common offset, so the thresholds themselves never see the dev labels they are scored on.

Without dev labels the choice is fixed (documented, not searched): the triplet label model with an estimated class
balance, and with embeddings Epoxy on it with the unsupervised agreement thresholds (on the WRENCH sets with MiniLM
embeddings this never fell below the label model alone; see bench/README.md).

Example::

    from labelfuse import fit_labels
    fitted = fit_labels(L_train, X_train, L_dev=L_dev, Y_dev=Y_dev, X_dev=X_dev, random_state=0)
    fitted.chosen_                 # e.g. {'fusion': 'Epoxy', 'label_model': 'triplet', 'class_balance': 'dev', ...}
    print(fitted.report())         # every candidate's cross-validated score and why the chosen one won
    P = fitted.predict_proba(L_test, X_test)
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._base import N_THREADS, RANDOM_STATE, BOOLEAN, Estimator, Interval, Options, SequenceOf
from ._validation import (as_label_matrix, as_labels, check_n_threads, check_votes, infer_cardinality,
                          require_rows)
from .metrics import resolve_metric

__all__ = ["AutoLabels", "fit_labels", "select_label_model", "LABEL_MODELS", "FUSIONS"]

LABEL_MODELS = ("majority_vote", "triplet", "covariance", "dawid_skene")
FUSIONS = ("none", "Epoxy", "Liger")
_FUSION_RANK = {"none": 0, "Epoxy": 1, "Liger": 2}
_MODEL_RANK = {name: i for i, name in enumerate(LABEL_MODELS)}
UNSUPERVISED_LABEL_MODEL = "triplet"


@dataclass
class Candidate:
    """One configuration: fusion ("none", "Epoxy", "Liger"), label model, class-balance source ("dev" or
    "estimated"), threshold offset and part count (fusion only)."""

    fusion: str
    label_model: str
    class_balance: str
    offset: float = 0.0
    n_parts: int = 1
    thresholds: str = "unsupervised"  # or "tuned": per LF on the dev rows (of the training folds)

    @property
    def name(self) -> str:
        text = f"{self.label_model}, balance {self.class_balance}"
        if self.fusion != "none":
            parts = f", {self.n_parts} parts" if self.fusion == "Liger" else ""
            text = f"{self.fusion}({text}, {self.thresholds} thresholds {self.offset:+.2f}{parts})"
        return text

    def complexity(self) -> Tuple:
        return (_FUSION_RANK[self.fusion], self.n_parts, _MODEL_RANK[self.label_model],
                self.class_balance != "dev", self.thresholds != "unsupervised", abs(self.offset), self.offset)

    def as_dict(self) -> Dict[str, Any]:
        return {"fusion": self.fusion, "label_model": self.label_model, "class_balance": self.class_balance,
                "offset": self.offset, "n_parts": self.n_parts, "thresholds": self.thresholds}


# -- folds and the one-standard-error rule ----------------------------------------------------------------------------
def repeated_folds(Y: np.ndarray, n_splits: int, n_repeats: int, random_state: Any) -> List[np.ndarray]:
    """Held-out index sets of ``n_repeats`` stratified ``n_splits``-fold splits of the rows of Y (each class dealt
    round-robin over the folds after a seeded shuffle). Fewer folds when Y has fewer rows than ``n_splits``."""
    rng = np.random.default_rng(random_state)
    n = Y.shape[0]
    n_splits = max(2, min(n_splits, n))
    out = []
    for _ in range(n_repeats):
        fold_of = np.empty(n, dtype=np.int64)
        start = int(rng.integers(n_splits))
        for c in np.unique(Y):
            rows = rng.permutation(np.flatnonzero(Y == c))
            fold_of[rows] = (start + np.arange(rows.size)) % n_splits
            start = (start + rows.size) % n_splits
        out += [np.flatnonzero(fold_of == f) for f in range(n_splits)]
    return [f for f in out if f.size]


def one_standard_error(candidates: Sequence[Candidate], fold_scores: np.ndarray, n_splits: int) -> Dict[str, Any]:
    """The index of the simplest candidate whose mean fold score is within one standard error of the best mean.

    ``fold_scores``: (n_candidates, n_folds). The standard error is the best candidate's fold standard deviation
    over sqrt(n_splits) (the folds of one repetition are the independent ones)."""
    # NaN fold scores (a metric undefined on a tiny fold) are left out; a candidate with none left has mean NaN, and
    # when every candidate has none the simplest is chosen (no numpy warnings about empty slices: filterable noise)
    valid = ~np.isnan(fold_scores)
    counts = valid.sum(axis=1)
    mean = np.full(fold_scores.shape[0], np.nan)
    has = counts > 0
    mean[has] = np.where(valid, fold_scores, 0.0)[has].sum(axis=1) / counts[has]
    if not has.any():
        chosen = min(range(len(candidates)), key=lambda i: candidates[i].complexity())
        return {"chosen": chosen, "best": chosen, "standard_error": 0.0, "mean": mean}
    best = int(np.nanargmax(mean))
    best_scores = fold_scores[best][valid[best]]
    se = float(np.std(best_scores, ddof=1) / np.sqrt(n_splits)) if best_scores.size > 1 else 0.0
    eligible = [i for i in range(len(candidates)) if has[i] and mean[i] >= mean[best] - se - 1e-12]
    chosen = min(eligible, key=lambda i: candidates[i].complexity())
    return {"chosen": chosen, "best": best, "standard_error": se, "mean": mean}


# -- scoring the candidates -------------------------------------------------------------------------------------------
def _balance(Y: np.ndarray, k: int) -> np.ndarray:
    return (np.bincount(Y, minlength=k) + 1.0) / (Y.shape[0] + k)


def _labels(P: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """argmax; rows whose top classes tie (e.g. no vote) go to the tied class with the largest prior."""
    from .models.base import break_ties

    return break_ties(P, "prior", prior, None)


def _fold_scores(predict: Callable[[Optional[np.ndarray]], Tuple[np.ndarray, np.ndarray]], uses_dev: bool,
                 Y: np.ndarray, folds: List[np.ndarray], metric, k: int) -> np.ndarray:
    """Scores on the held-out folds. ``predict(train_rows)`` -> (P_dev, prior) with the class balance taken from
    Y[train_rows] (``uses_dev``), or ``predict(None)`` once for a candidate that does not read dev labels."""
    out = np.empty(len(folds))
    fixed = None if uses_dev else predict(None)
    everything = np.arange(Y.shape[0])
    for f, held in enumerate(folds):
        P, prior = fixed if fixed is not None else predict(np.setdiff1d(everything, held, assume_unique=True))
        out[f] = metric.score(Y[held], _labels(P[held], prior), k)
    return out


def _label_model_predictor(method: str, L: np.ndarray, L_dev: np.ndarray, Y_dev: np.ndarray, k: int,
                           n_threads: Optional[int], random_state: Any):
    from .models import LabelModel, MajorityVote

    def predict(train_rows: Optional[np.ndarray]):
        kwargs = {} if train_rows is None else {"class_balance": _balance(Y_dev[train_rows], k)}
        with warnings.catch_warnings():  # the chosen model is refitted (and warns) once the choice is made
            warnings.simplefilter("ignore")
            if method == "majority_vote":
                model = MajorityVote(cardinality=k, class_balance="votes").fit(L, **kwargs)
            else:
                model = LabelModel(cardinality=k, method=method, random_state=random_state,
                                   n_threads=n_threads).fit(L, **kwargs)
        return model.predict_proba(L_dev), model.class_balance_

    return predict


def _candidate_label_models(methods: Sequence[str]) -> List[Candidate]:
    return [Candidate("none", m, b) for m in methods for b in ("dev", "estimated")]


def select_label_model(L: Any, L_dev: Any, Y_dev: Any, *, cardinality: Optional[int] = None,
                       methods: Sequence[str] = ("triplet", "covariance", "dawid_skene"), scoring: str = "accuracy",
                       n_splits: int = 5, n_repeats: int = 2, random_state: Any = 0,
                       n_threads: Optional[int] = None) -> Dict[str, Any]:
    """The label model and class-balance source chosen on dev (the module's rule), with every candidate's
    scores: a dict with ``chosen`` (a :class:`Candidate`), ``candidates`` and ``table`` (one row per candidate:
    mean and standard deviation of its fold scores). ``LabelModel(method="auto")`` calls this.

    Example::

        sel = select_label_model(L, L_dev, Y_dev, cardinality=2)
        sel["chosen"].label_model, sel["chosen"].class_balance
    """
    L = as_label_matrix(L, "L")
    require_rows(L, "L")
    L_dev = as_label_matrix(L_dev, "L_dev")
    if L_dev.shape[1] != L.shape[1]:
        raise ValueError(f"L_dev: expected {L.shape[1]} columns (the LFs of L), got {L_dev.shape[1]}")
    k = infer_cardinality(L, cardinality, Y_dev)
    Y_dev = as_labels(Y_dev, L_dev.shape[0], k, "Y_dev")
    check_votes(L, k, "L")
    check_votes(L_dev, k, "L_dev")
    for m in methods:
        if m not in LABEL_MODELS:
            raise ValueError(f"methods: unknown label model {m!r}; expected some of {LABEL_MODELS}")
    metric = resolve_metric(scoring, "scoring", allowed=("accuracy", "f1", "macro_f1"))
    folds = repeated_folds(Y_dev, n_splits, n_repeats, random_state)
    candidates = _candidate_label_models(methods)
    scores = np.array([
        _fold_scores(_label_model_predictor(c.label_model, L, L_dev, Y_dev, k, n_threads, random_state),
                     c.class_balance == "dev", Y_dev, folds, metric, k) for c in candidates])
    return _summary(candidates, scores, min(n_splits, Y_dev.shape[0]))


def _summary(candidates: List[Candidate], scores: np.ndarray, n_splits: int) -> Dict[str, Any]:
    rule = one_standard_error(candidates, scores, max(2, n_splits))
    table = [{"candidate": c.name, **c.as_dict(), "mean": float(rule["mean"][i]),
              "std": float(np.std(scores[i], ddof=1)) if scores.shape[1] > 1 else 0.0,
              "chosen": i == rule["chosen"], "best": i == rule["best"]} for i, c in enumerate(candidates)]
    return {"chosen": candidates[rule["chosen"]], "best": candidates[rule["best"]],
            "standard_error": rule["standard_error"], "candidates": candidates, "table": table}


# -- fusion candidates ------------------------------------------------------------------------------------------------
class _FusionSpace:
    """What the fusion candidates share: the neighbour graph, the unsupervised per-LF thresholds of each label
    model, the extensions of train and dev per (label model, offset), the partitions per part count."""

    def __init__(self, L, X, L_dev, X_dev, k, n_neighbors, random_state, n_threads):
        from .embeddings import NeighborGraph

        self.L, self.L_dev, self.k, self.n_threads = L, L_dev, k, n_threads
        self.random_state = random_state
        self.graph = NeighborGraph(n_neighbors=n_neighbors, random_state=random_state).fit(X)
        self.dev_neighbors = self.graph._query(X_dev, None, "X_dev")
        if self.dev_neighbors[0].shape[0] != L_dev.shape[0]:
            raise ValueError(f"X_dev: has {self.dev_neighbors[0].shape[0]} rows but L_dev has {L_dev.shape[0]}")
        self._per_lf: Dict[str, np.ndarray] = {}
        self._extended: Dict[Tuple[str, float], Tuple[np.ndarray, np.ndarray]] = {}
        self._parts: Dict[int, Any] = {}

    def per_lf(self, method: str) -> np.ndarray:
        from .embeddings import nearest_neighbor_thresholds
        from .fusion.estimators import unsupervised_thresholds
        from .fusion.partitioned import resolve_fit

        if method not in self._per_lf:
            default = nearest_neighbor_thresholds(self.L, self.graph)
            self._per_lf[method] = unsupervised_thresholds(self.L, self.graph, resolve_fit(method, self.n_threads),
                                                           self.k, default, self.n_threads)
        return self._per_lf[method]

    def extended(self, method: str, offset: float):
        from .embeddings import extend_votes

        key = (method, offset)
        if key not in self._extended:
            thr = self.per_lf(method) + offset
            train = extend_votes(self.L, self.graph, thr, cardinality=self.k, n_threads=self.n_threads)
            dev = extend_votes(self.L, self.graph, thr, L_query=self.L_dev, neighbors=self.dev_neighbors,
                               cardinality=self.k, n_threads=self.n_threads)
            self._extended[key] = (train, dev)
        return self._extended[key]

    def parts(self, n_parts: int):
        from .embeddings import KMeansPartition
        from .stats import GroupIndex

        if n_parts not in self._parts:
            partition = KMeansPartition(n_parts, random_state=self.random_state).fit(self.graph.X_)
            self._parts[n_parts] = (partition, partition.predict(self.dev_neighbors[2]),
                                    GroupIndex.from_groups(partition.labels_, n_groups=partition.n_parts_))
        return self._parts[n_parts]

    def tuned(self, method: str, offset: float, Y_dev: np.ndarray, rows: Optional[np.ndarray]):
        """Thresholds tuned per LF on the dev ``rows`` (all when None), shifted by ``offset``; the extensions of
        train and of every dev row with them (cached per fold)."""
        from .embeddings import extend_votes, nearest_neighbor_thresholds, tune_thresholds

        key = ("tuned", method, offset, None if rows is None else rows.tobytes())
        if key not in self._extended:
            sub = slice(None) if rows is None else rows
            neighbors = tuple(np.ascontiguousarray(a[sub]) for a in self.dev_neighbors)
            default = nearest_neighbor_thresholds(self.L, self.graph)
            thr = tune_thresholds(self.L, self.graph, self.L_dev[sub], Y_dev[sub], dev_neighbors=neighbors,
                                  cardinality=self.k, default=default, n_threads=self.n_threads)["per_lf"] + offset
            train = extend_votes(self.L, self.graph, thr, cardinality=self.k, n_threads=self.n_threads)
            dev = extend_votes(self.L, self.graph, thr, L_query=self.L_dev, neighbors=self.dev_neighbors,
                               cardinality=self.k, n_threads=self.n_threads)
            self._extended[key] = (train, dev, thr)
        return self._extended[key]

    def predictor(self, c: Candidate, Y_dev: np.ndarray, shrinkage: float = 100.0, pseudocount: float = 10.0):
        from .fusion.partitioned import (_part_balance, _posterior, fit_partitioned, needs_overlap,
                                         partitioned_stats, resolve_fit)
        from .models.label_model import DEFAULT_ABSTENTIONS

        k = self.k
        if c.thresholds == "tuned":
            return self._tuned_predictor(c, Y_dev, shrinkage, pseudocount)
        train, dev = self.extended(c.label_model, c.offset)
        if c.n_parts > 1:
            partition, dev_parts, index = self.parts(c.n_parts)
            G = partition.n_parts_
        else:
            partition, dev_parts, index, G = None, None, None, 1
        stats = partitioned_stats(train, k, group_index=index, overlap_matrix=needs_overlap(c.label_model),
                                  n_threads=self.n_threads)
        fit_fn = resolve_fit(c.label_model, self.n_threads)

        def predict(train_rows: Optional[np.ndarray]):
            balance = None
            if train_rows is not None:
                Y = Y_dev[train_rows]
                balance = _balance(Y, k) if G == 1 else _part_balance(Y, dev_parts[train_rows], G, k, pseudocount)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fit_partitioned(stats, fit_fn, class_balance=balance, shrinkage=shrinkage, L=train,
                                      group_index=index)
            cpt = res["cpt"]
            if DEFAULT_ABSTENTIONS.get(c.label_model) == "ignore":  # as the fusion estimators' posterior
                cpt = cpt.copy()
                cpt[..., 0, :] = 1.0
            P = _posterior(dev, cpt, res["class_balance"], k, dev_parts, self.n_threads)
            return P, np.asarray(res["global"].class_balance)

        return predict

    def _tuned_predictor(self, c: Candidate, Y_dev: np.ndarray, shrinkage: float, pseudocount: float):
        """Per fold: thresholds tuned on the training fold's dev rows, class balance from them, scored on the
        held-out fold (the tuning never sees the rows it is scored on)."""
        from .fusion.partitioned import (_part_balance, _posterior, fit_partitioned, needs_overlap,
                                         partitioned_stats, resolve_fit)
        from .models.label_model import DEFAULT_ABSTENTIONS

        k = self.k
        fit_fn = resolve_fit(c.label_model, self.n_threads)
        if c.n_parts > 1:
            partition, dev_parts, index = self.parts(c.n_parts)
            G = partition.n_parts_
        else:
            partition, dev_parts, index, G = None, None, None, 1

        def predict(train_rows: Optional[np.ndarray]):
            train, dev, _ = self.tuned(c.label_model, c.offset, Y_dev, train_rows)
            stats = partitioned_stats(train, k, group_index=index, overlap_matrix=needs_overlap(c.label_model),
                                      n_threads=self.n_threads)
            Y = Y_dev if train_rows is None else Y_dev[train_rows]
            balance = None
            if c.class_balance == "dev":
                balance = _balance(Y, k) if G == 1 else _part_balance(
                    Y, dev_parts if train_rows is None else dev_parts[train_rows], G, k, pseudocount)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = fit_partitioned(stats, fit_fn, class_balance=balance, shrinkage=shrinkage, L=train,
                                      group_index=index)
            cpt = res["cpt"]
            if DEFAULT_ABSTENTIONS.get(c.label_model) == "ignore":
                cpt = cpt.copy()
                cpt[..., 0, :] = 1.0
            P = _posterior(dev, cpt, res["class_balance"], k, dev_parts, self.n_threads)
            return P, np.asarray(res["global"].class_balance)

        return predict


# -- the estimator ----------------------------------------------------------------------------------------------------
class AutoLabels(Estimator):
    """Labels from the label model and fusion settings chosen on dev (see the module docstring for the rule).

    Args:
        label_models: the label models tried ("majority_vote", "triplet", "covariance", "dawid_skene").
        fusions: "none", "Epoxy", "Liger": which fusions are tried when embeddings are given.
        offsets: common shifts of the unsupervised per-LF thresholds tried by the fusions.
        parts_grid: Liger's part counts tried.
        fusion_label_models: the label models the fusions are tried with (each is tried with both class-balance
            sources); None = triplet and the best label model without fusion.
        scoring: "accuracy", "f1" (binary: F1 of class 1) or "macro_f1": the dev score.
        n_splits, n_repeats: the repeated stratified k-fold over the dev rows.
        n_neighbors: neighbours of the fusions' graph.
        progress: a tqdm bar over the candidates.
        random_state, n_threads: the folds' shuffles and k-means seeds; native threads.

    Fitted: ``model_`` (a LabelModel, MajorityVote, Epoxy or Liger), ``chosen_`` (dict), ``selection_`` (list of
    dicts: every candidate's mean and standard deviation of fold scores, which was best and which chosen),
    ``standard_error_``, ``cardinality_``, ``supervised_`` (whether dev labels were used).

    Example::

        auto = AutoLabels(random_state=0).fit(L, X, L_dev=L_dev, Y_dev=Y_dev, X_dev=X_dev)
        auto.predict_proba(L_test, X_test); print(auto.report())
    """

    _parameter_constraints = {
        "label_models": [SequenceOf(Options(*LABEL_MODELS), min_len=1)],
        "fusions": [SequenceOf(Options(*FUSIONS), min_len=1)],
        "offsets": [SequenceOf(Interval(float, -1.0, 1.0), min_len=1)],
        "parts_grid": [SequenceOf(Interval(int, 2, None), min_len=1)],
        "fusion_label_models": [None, SequenceOf(Options(*LABEL_MODELS[1:]), min_len=1)],
        "scoring": [Options("accuracy", "f1", "macro_f1")],
        "n_splits": [Interval(int, 2, None)],
        "n_repeats": [Interval(int, 1, None)],
        "n_neighbors": [Interval(int, 1, None)],
        "progress": [BOOLEAN],
        "random_state": [RANDOM_STATE],
        "n_threads": [N_THREADS],
    }

    def __init__(self, label_models: Sequence[str] = LABEL_MODELS, fusions: Sequence[str] = FUSIONS, *,
                 offsets: Sequence[float] = (-0.1, -0.05, 0.0, 0.05), parts_grid: Sequence[int] = (2, 4, 8),
                 fusion_label_models: Optional[Sequence[str]] = None, scoring: str = "accuracy",
                 n_splits: int = 5, n_repeats: int = 2, n_neighbors: int = 64, progress: bool = False,
                 random_state: Any = 0, n_threads: Optional[int] = None) -> None:
        self.label_models = label_models
        self.fusions = fusions
        self.offsets = offsets
        self.parts_grid = parts_grid
        self.fusion_label_models = fusion_label_models
        self.scoring = scoring
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.n_neighbors = n_neighbors
        self.progress = progress
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, L: Any, X: Any = None, *, L_dev: Any = None, Y_dev: Any = None, X_dev: Any = None,
            cardinality: Optional[int] = None) -> "AutoLabels":
        """Choose and fit. ``X`` (train embeddings) enables the fusions; ``L_dev``, ``Y_dev`` (and ``X_dev`` with
        X) enable the choice on dev. Dev votes without labels are an error (they would be ignored). Returns self."""
        self._validate_params()
        L = as_label_matrix(L, "L")
        require_rows(L, "L")
        if (L_dev is not None or X_dev is not None) and Y_dev is None:
            raise ValueError("Y_dev: L_dev / X_dev were given without Y_dev; the choice on dev needs the labels "
                             "(pass Y_dev, or leave out the dev data for the documented unsupervised choice)")
        if Y_dev is not None and L_dev is None:
            raise ValueError("L_dev: Y_dev was given without L_dev (the dev rows' votes)")
        if X is not None and Y_dev is not None and X_dev is None:
            raise ValueError("X_dev: X was given with dev labels but without X_dev (the dev rows' embeddings)")
        k = infer_cardinality(L, cardinality, Y_dev)
        check_votes(L, k, "L")
        self.cardinality_ = k
        n_threads = check_n_threads(self.n_threads)
        if Y_dev is None:
            self._fit_unsupervised(L, X, k, n_threads)
        else:
            self._fit_supervised(L, X, L_dev, Y_dev, X_dev, k, n_threads)
        return self

    def _fit_unsupervised(self, L, X, k, n_threads) -> None:
        from .models import LabelModel

        use_fusion = X is not None and "Epoxy" in self.fusions
        c = Candidate("Epoxy" if use_fusion else "none", UNSUPERVISED_LABEL_MODEL, "estimated")
        self.supervised_ = False
        self.selection_ = []
        self.standard_error_ = float("nan")
        self.chosen_ = {**c.as_dict(), "why": "no dev labels: the documented unsupervised choice (triplet, "
                        "estimated class balance" + (", Epoxy with agreement thresholds)" if use_fusion else ")")}
        if use_fusion:
            from .fusion import Epoxy

            self.model_ = Epoxy(UNSUPERVISED_LABEL_MODEL, thresholds="unsupervised", n_neighbors=self.n_neighbors,
                                cardinality=k, random_state=self.random_state, n_threads=n_threads).fit(L, X)
        else:
            self.model_ = LabelModel(cardinality=k, method=UNSUPERVISED_LABEL_MODEL, random_state=self.random_state,
                                     n_threads=n_threads).fit(L)

    def _fit_supervised(self, L, X, L_dev, Y_dev, X_dev, k, n_threads) -> None:
        from tqdm.auto import tqdm

        L_dev = as_label_matrix(L_dev, "L_dev")
        if L_dev.shape[1] != L.shape[1]:
            raise ValueError(f"L_dev: expected {L.shape[1]} columns (the LFs of L), got {L_dev.shape[1]}")
        check_votes(L_dev, k, "L_dev")
        Y_dev = as_labels(Y_dev, L_dev.shape[0], k, "Y_dev")
        metric = resolve_metric(self.scoring, "scoring")
        folds = repeated_folds(Y_dev, self.n_splits, self.n_repeats, self.random_state)
        n_splits = min(self.n_splits, Y_dev.shape[0])
        candidates = _candidate_label_models(list(self.label_models))
        bar = tqdm(desc="choosing labels on dev", disable=not self.progress, total=len(candidates))
        rows = []
        for c in candidates:
            rows.append(_fold_scores(_label_model_predictor(c.label_model, L, L_dev, Y_dev, k, n_threads,
                                                            self.random_state),
                                     c.class_balance == "dev", Y_dev, folds, metric, k))
            bar.update()
        fusions = [f for f in self.fusions if f != "none"]
        if X is not None and fusions:
            lm_summary = _summary(candidates, np.array(rows), n_splits)
            fusion_models = self.fusion_label_models
            if fusion_models is None:  # the label model chosen without fusion (by the same rule), and triplet
                chosen_lm = lm_summary["chosen"].label_model
                fusion_models = ["triplet"] + ([chosen_lm] if chosen_lm not in ("triplet", "majority_vote") else [])
            space = _FusionSpace(L, X, L_dev, X_dev, k, self.n_neighbors, self.random_state, n_threads)
            more = [Candidate(f, m, b, float(o), p) for f in fusions for m in fusion_models
                    for b in ("dev", "estimated") for o in self.offsets
                    for p in ((1,) if f == "Epoxy" else tuple(self.parts_grid))]
            # thresholds tuned per LF on dev (inside each fold), with the dev class balance
            more += [Candidate(f, m, "dev", 0.0, p, "tuned") for f in fusions for m in fusion_models
                     for p in ((1,) if f == "Epoxy" else tuple(self.parts_grid))]
            bar.total += len(more)
            for c in more:
                rows.append(_fold_scores(space.predictor(c, Y_dev), c.class_balance == "dev", Y_dev, folds,
                                         metric, k))
                candidates.append(c)
                bar.update()
            self._space = space
        bar.close()
        summary = _summary(candidates, np.array(rows), n_splits)
        chosen: Candidate = summary["chosen"]
        self.supervised_ = True
        self.selection_ = summary["table"]
        self.standard_error_ = summary["standard_error"]
        best = summary["best"]
        self.chosen_ = {**chosen.as_dict(), "why": (
            f"best on dev by {len(folds) // max(1, self.n_repeats)}-fold x {self.n_repeats} cross-validation: "
            f"{best.name}; chosen: the simplest candidate within one standard error "
            f"({self.standard_error_:.4f}) of it")}
        self.model_ = self._final_fit(chosen, L, X, L_dev, Y_dev, X_dev, k, n_threads)
        self.__dict__.pop("_space", None)  # the candidates' extensions: not needed after the choice

    def _final_fit(self, c: Candidate, L, X, L_dev, Y_dev, X_dev, k, n_threads):
        from .models import LabelModel, MajorityVote

        if c.fusion == "none":
            dev = {"Y_dev": Y_dev} if c.class_balance == "dev" else {}
            if c.label_model == "majority_vote":
                return MajorityVote(cardinality=k, class_balance="votes").fit(L, **dev)
            return LabelModel(cardinality=k, method=c.label_model, random_state=self.random_state,
                              n_threads=n_threads).fit(L, **dev)
        from .fusion import Epoxy, Liger

        space = self._space
        if c.thresholds == "tuned":
            thresholds = space.tuned(c.label_model, c.offset, Y_dev, None)[2]
        else:
            thresholds = space.per_lf(c.label_model) + c.offset
        common = dict(thresholds=thresholds, neighbor_graph=space.graph, cardinality=k,
                      random_state=self.random_state, n_threads=n_threads)
        model = (Epoxy(c.label_model, **common) if c.fusion == "Epoxy" else
                 Liger(c.label_model, n_parts=c.n_parts, **common))
        dev = (L_dev, X_dev, Y_dev) if c.class_balance == "dev" else ()
        return model.fit(L, X, *dev)

    # -- use ------------------------------------------------------------------------------------------------------
    def predict_proba(self, L: Any, X: Any = None) -> np.ndarray:
        """p(y | votes) (and embeddings, when a fusion was chosen) for the rows of another split: (n, k)."""
        self._check_fitted()
        if self.chosen_["fusion"] == "none":
            return self.model_.predict_proba(L)
        if X is None:
            raise ValueError(f"X: the chosen labels use {self.chosen_['fusion']} and need the rows' embeddings")
        return self.model_.predict_proba(L, X)

    def predict(self, L: Any, X: Any = None) -> np.ndarray:
        """argmax of :meth:`predict_proba`; ties go to the class with the largest prior."""
        P = self.predict_proba(L, X)
        return _labels(P, np.asarray(self.model_.class_balance_).reshape(-1, self.cardinality_).mean(axis=0))

    @property
    def train_proba_(self) -> np.ndarray:
        """Posteriors of the training rows (a fusion's own, which excludes each row from its neighbours)."""
        self._check_fitted()
        if self.chosen_["fusion"] != "none":
            return self.model_.train_proba_
        raise AttributeError("train_proba_: the chosen label model has no stored training posteriors; call "
                             "predict_proba(L_train)")

    def describe(self) -> str:
        """The chosen configuration in words, e.g. "Liger(triplet, balance dev, tuned thresholds +0.00, 4 parts)"."""
        self._check_fitted()
        return Candidate(**{k: v for k, v in self.chosen_.items() if k != "why"}).name

    def report(self) -> str:
        """What was chosen and why, with every candidate's cross-validated score (best first)."""
        self._check_fitted()
        lines = [f"chosen: {self.describe()}",
                 f"why: {self.chosen_['why']}"]
        for row in sorted(self.selection_, key=lambda r: -r["mean"]):
            mark = " <- chosen" if row["chosen"] else (" <- best" if row["best"] else "")
            lines.append(f"  {row['mean']:.4f} +- {row['std']:.4f}  {row['candidate']}{mark}")
        return "\n".join(lines)

    def _is_fitted(self) -> bool:
        return hasattr(self, "model_")

    def save(self, path: Any) -> Any:
        """Not saved itself: the choice lives in ``model_`` (a LabelModel, MajorityVote, Epoxy or Liger), which is
        saved and read back with ``labelfuse.load``; ``chosen_`` and ``selection_`` are plain JSON-able values."""
        raise NotImplementedError("AutoLabels: save the chosen model instead: auto.model_.save(path), read back "
                                  "with labelfuse.load(path)")


def fit_labels(L: Any, X: Any = None, L_dev: Any = None, Y_dev: Any = None, X_dev: Any = None, *,
               cardinality: Optional[int] = None, **options: Any) -> AutoLabels:
    """Fit :class:`AutoLabels` (``options``: its parameters) and return it: the label model, class-balance source
    and fusion settings chosen jointly on dev by repeated k-fold and the one-standard-error rule, or the documented
    unsupervised choice without dev labels.

    Args:
        L: (n, m) training votes, -1 = abstain.
        X: (n, d) training embeddings, which enable the fusions (None = label models only).
        L_dev: (n_dev, m) dev votes; with ``Y_dev``, the choice is made on dev.
        Y_dev: (n_dev,) dev gold labels.
        X_dev: (n_dev, d) dev embeddings, needed with ``X`` and dev labels.
        cardinality: k (inferred from L and Y_dev when None).
        **options: :class:`AutoLabels` parameters (``label_models``, ``fusions``, ``scoring``, ``random_state``...).

    Returns:
        The fitted :class:`AutoLabels` (``model_``, ``chosen_``, ``selection_``; ``predict_proba``, ``report``).

    Example::

        fitted = fit_labels(L_train, X_train, L_dev, Y_dev, X_dev)
        print(fitted.report())
        P_test = fitted.predict_proba(L_test, X_test)
    """
    return AutoLabels(**options).fit(L, X, L_dev=L_dev, Y_dev=Y_dev, X_dev=X_dev, cardinality=cardinality)

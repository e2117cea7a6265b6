"""LabelModel: one facade over the triplet, covariance and Dawid-Skene recoveries, with fast refits."""
from __future__ import annotations

import collections.abc
import inspect
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from .. import _core
from .._base import FittedArray, FittedInt, InstanceOf, Interval, Options, Predicate
from .._validation import (as_label_matrix, check_cardinality, check_class_balance, check_count, label_dtype,
                           require_rows)
from ..diagnostics import emit
from ..stats import LabelStats, gather_rows, label_stats
from . import assumptions
from .base import BaseLabelModel, NotFittedError, class_balance_from_labels, resolve_cardinality
from .registry import METHODS, FitResult, check_fit_result, get_method

__all__ = ["LabelModel", "METHODS"]

ABSTENTIONS = ("model", "ignore")
# abstentions=None: what each method does by default. The covariance fit's P(abstain | y) is identified only
# through the LFs' co-abstentions, which real LFs (keyword rules that fire together) make far from conditionally
# independent: on wrench_sms one ham rule that fires on 28% of ham and spam alike came out as P(abstain | spam) =
# 1.0 vs 0.4 for ham, which sent every all-abstain row to spam (accuracy 0.36). Its posterior therefore leaves
# abstentions out, as Snorkel's LabelModel.predict_proba does; the votes' class-dependent rates are still used.
# The same holds for the triplet fit's one-sided LFs (binary), whose P(abstain | y) comes from co-abstentions too;
# its other LFs' abstention does not depend on y, so "ignore" changes nothing for them.
DEFAULT_ABSTENTIONS = {"triplet": "ignore", "covariance": "ignore", "dawid_skene": "model"}


def accuracies_from_cpt(cpt: np.ndarray, class_balance: np.ndarray) -> np.ndarray:
    """P(vote correct | the LF votes) per LF: sum_y pi_y P(lambda = y | y) / sum_y pi_y P(votes | y); NaN for an
    LF that never votes under the model."""
    k = cpt.shape[2]
    idx = np.arange(k)
    right = (cpt[:, 1 + idx, idx] * class_balance[None, :]).sum(axis=1)
    votes = ((1.0 - cpt[:, 0, :]) * class_balance[None, :]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(votes > 1e-12, right / np.maximum(votes, 1e-300), np.nan)


# keyword arguments of the fit functions that LabelModel sets itself (hyperparameters, warm start, threads)
_SET_BY_THE_MODEL = {"triplet": (), "covariance": (),
                     "dawid_skene": ("max_iter", "tol", "smoothing", "abstentions", "init", "n_threads")}


# A statistics delta over fewer changed rows than this runs on one thread (a team of threads costs more than it
# saves there, and much more on a loaded machine).
_THREADED_ROWS = 200_000
_COPY_BLOCK = 4096  # rows per block of the row-major -> column-major copy


def _private_copy(L: np.ndarray, k: int, spec: Any) -> np.ndarray:
    """The copy of L that refit edits: column-major for the statistics methods (one LF's column is contiguous, so
    an edited LF costs O(n) bytes to compare and write), row-major for Dawid-Skene (its EM reads rows)."""
    dtype = label_dtype(k)
    if spec.uses_rows or L.flags.f_contiguous:
        return np.array(L, dtype=dtype, order="C" if spec.uses_rows else "F")
    # numpy's own C -> F copy walks one array element by element across the whole matrix (5x slower at 1e6 x 50
    # int8); in blocks of rows both sides stay in cache
    out = np.empty(L.shape, dtype=dtype, order="F")
    for start in range(0, L.shape[0], _COPY_BLOCK):
        out[start:start + _COPY_BLOCK] = L[start:start + _COPY_BLOCK]
    return out


def _finite_non_negative(value: Any) -> bool:
    return bool(np.isfinite(float(value)) and float(value) >= 0)


_FINITE_NON_NEGATIVE = Predicate((int, float, np.integer, np.floating), _finite_non_negative,
                                 "a finite number >= 0")


class LabelModel(BaseLabelModel):
    """Probabilistic labels from a label matrix without ground truth.

    Args:
        cardinality: number of classes k; inferred from L (max label + 1, at least 2) when None.
        method: "triplet" (FlyingSquid-style moments), "covariance" (Snorkel/MeTaL-style matrix completion),
            "dawid_skene" (EM over confusion matrices), or "auto": with ``fit(L, L_dev=..., Y_dev=...)`` the method
            and the class-balance source (estimated or dev labels) are chosen by repeated k-fold over the dev rows
            and the one-standard-error rule (:func:`labelfuse.selection.select_label_model`); without dev labels
            "triplet". The choice is in ``method_`` and ``selection_``.
        class_balance: None = estimated by the method; "uniform"; or k positive probabilities (a class with
            probability 0 could never be predicted: refused). ``fit`` can override it (``class_balance=``) or
            estimate it from dev labels (``Y_dev=``).
        abstentions: whether an LF's abstention is evidence about y. "model": the posterior uses the fitted
            P(abstain | y). "ignore": it does not (every class gets the same abstention factor): Dawid-Skene then
            also drops abstentions from its fit, as crowd-kit does; the covariance fit keeps its P(abstain | y) in
            ``cpt_`` but the posterior leaves it out, as Snorkel's predict_proba does; likewise for the triplet
            model's binary one-sided LFs (its other LFs' abstention does not depend on y). None (default): "ignore"
            for covariance and triplet (P(abstain | y) estimated from co-abstentions is unreliable when LFs abstain
            together, as real keyword LFs do), "model" for Dawid-Skene.
        max_iter, tol, smoothing: Dawid-Skene options (see ``fit_dawid_skene``); EM stops after ``max_iter``
            E-steps or when the mean log-likelihood per row changes by less than ``tol``; ``smoothing`` is a
            pseudo-count on every expected count.
        method_options: extra keyword arguments for the method's fit function (``fit_triplet``,
            ``fit_covariance``, ``fit_dawid_skene``), except those the model passes itself (statistics, class
            balance; for Dawid-Skene also the hyperparameters above and the warm start).
        tie_policy: "abstain" (-1), "random" (seeded by ``random_state``) or "prior", for ``predict``.
        random_state: int or None.
        n_threads: None = all cores, -1 = all, -2 = all but one, ...; results do not depend on it.

    Fitted attributes: ``cpt_`` (m, k+1, k) P(lambda_j = c | y) with vote index 0 = abstain,
    ``class_balance_`` (k,), ``accuracies_`` (m,) P(vote correct | votes), ``coverage_`` (m,) fraction of rows
    each LF votes on, ``n_iter_`` (EM iterations, or the method's count; None when it has none), ``info_``
    (the method's report), ``cardinality_``, ``n_lfs_``, ``classes_``.

    ``fit`` and ``refit`` are all or nothing: a fit that raises (Ctrl-C included) leaves the model unfitted, a
    refit that raises leaves it exactly as it was.

    Example::

        lm = LabelModel(cardinality=2, method="triplet", random_state=0).fit(L)
        P = lm.predict_proba(L)
        lm.refit(L_edited)              # after editing a few LFs: only their statistics are recounted
        lm.save("lm.lf"); LabelModel.load("lm.lf")
    """

    _parameter_constraints = {
        "method": [Options(*METHODS, "auto")],
        "abstentions": [None, Options(*ABSTENTIONS)],
        "max_iter": [Interval(int, 0, None)],
        "tol": [_FINITE_NON_NEGATIVE],
        "smoothing": [_FINITE_NON_NEGATIVE],
        "method_options": [None, InstanceOf(collections.abc.Mapping, description="a dict of keyword arguments")],
    }
    _fitted_arrays = ("cpt_", "class_balance_", "accuracies_", "coverage_")
    _fitted_values = ("cardinality_", "n_lfs_", "n_iter_", "info_", "method_")
    _fitted_checks = {"n_iter_": FittedInt(0, optional=True),
                      "cpt_": FittedArray("f", ("n_lfs_", ("cardinality_", 1), "cardinality_"), low=0, high=1,
                                          sums_to_one=1),
                      "accuracies_": FittedArray("f", ("n_lfs_",), allow_nan=True),
                      "coverage_": FittedArray("f", ("n_lfs_",), allow_nan=True, low=0, high=1)}

    def __init__(
        self,
        cardinality: Optional[int] = None,
        method: str = "triplet",
        class_balance: Union[None, str, np.ndarray] = None,
        *,
        abstentions: Optional[str] = None,
        max_iter: int = 100,
        tol: float = 1e-8,
        smoothing: float = 0.01,
        method_options: Optional[Dict[str, Any]] = None,
        tie_policy: str = "abstain",
        random_state: Optional[int] = None,
        n_threads: Optional[int] = None,
    ) -> None:
        self.cardinality = cardinality
        self.method = method
        self.class_balance = class_balance
        self.abstentions = abstentions
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.method_options = method_options
        self.tie_policy = tie_policy
        self.random_state = random_state
        self.n_threads = n_threads

    # -- fitting ---------------------------------------------------------------------------------------------------
    def fit(self, L: Any, *, Y_dev: Any = None, class_balance: Any = None, L_dev: Any = None) -> "LabelModel":
        """Fit on L (n, m). The class balance is, by precedence: ``class_balance`` given here, the (add-one
        smoothed) label frequencies of ``Y_dev`` (labels of a small dev set), the ``class_balance``
        hyperparameter, or else estimated by the method. ``L_dev``: the dev rows' votes, read only by
        ``method="auto"`` (with ``Y_dev``; then the class balance from ``Y_dev`` is used only if chosen). Returns
        self."""
        L = as_label_matrix(L)
        require_rows(L)
        method, selection = self.method, None
        if L_dev is not None and Y_dev is None:
            raise ValueError("Y_dev: L_dev was given without Y_dev (dev votes are used only with their labels)")
        if method == "auto":
            method, selection, Y_dev = self._choose(L, L_dev, Y_dev, class_balance)
        elif L_dev is not None:
            raise ValueError(f"L_dev: read only by method='auto' (method is {method!r}); pass Y_dev alone for the "
                             "class balance")
        self.method_ = method
        self._abstentions = self._resolve_abstentions(method)
        self._method_options(method)
        # the posterior's tables are the smallest per-class allocation every method makes: (m, k + 1, k) float64
        k = resolve_cardinality(L, self.cardinality, table_bytes=lambda k: 8 * L.shape[1] * (k + 1) * k,
                                tables=f"the conditional tables of {L.shape[1]} LFs")
        if method == "covariance" and k > assumptions.COVARIANCE_MAX_CLASSES:
            raise ValueError(
                f"method: 'covariance' is refused for {k} classes (more than {assumptions.COVARIANCE_MAX_CLASSES}): "
                "its fit grows as k^3 (about 19 s at k = 100 and over 4 minutes at k = 200); use method='triplet' "
                "or 'dawid_skene'")
        if class_balance is not None and Y_dev is not None:
            raise ValueError("class_balance: pass either class_balance or Y_dev to fit, not both")
        if class_balance is not None:
            balance = check_class_balance(class_balance, k, positive=True)
        elif Y_dev is not None:
            balance = class_balance_from_labels(Y_dev, k)
        elif self.class_balance is not None:
            balance = check_class_balance(self.class_balance, k, positive=True)
        else:
            balance = None
        # Dawid-Skene works on the rows (its own pattern compression) and needs no pairwise statistics, which
        # would cost more than its whole fit at m = 50.
        spec = get_method(method)
        stats = None
        if not spec.uses_rows:
            stats = label_stats(L, k, overlap_matrix=spec.needs_overlap, n_threads=self._threads())
        self._fit_balance = balance
        self._method_fitted = method
        self.selection_ = selection
        result = self._run_method(method, L, stats, k, balance, warm=None)
        # What refit needs: the statistics and a compact private copy of L (label_dtype: int8 for k <= 128; n*m bytes).
        return self._install(result, stats, k, L.shape[1], class_balance=balance, L=_private_copy(L, k, spec))

    def _choose(self, L: np.ndarray, L_dev: Any, Y_dev: Any, class_balance: Any):
        """method="auto": (method, the selection table or None, the Y_dev to take the class balance from)."""
        from ..selection import UNSUPERVISED_LABEL_MODEL, select_label_model

        if self.method_options is not None:
            raise ValueError("method_options: not used with method='auto' (the options belong to one method)")
        if L_dev is None:
            return UNSUPERVISED_LABEL_MODEL, None, Y_dev
        sel = select_label_model(L, L_dev, Y_dev, cardinality=self.cardinality, random_state=self.random_state,
                                 n_threads=self.n_threads)
        chosen = sel["chosen"]
        use_dev = chosen.class_balance == "dev" and class_balance is None
        return chosen.label_model, sel["table"], Y_dev if use_dev else None

    def install_fit(self, result: FitResult, stats: Optional[LabelStats], cardinality: int, n_lfs: int, *,
                    class_balance: Optional[np.ndarray] = None, L: Optional[np.ndarray] = None) -> "LabelModel":
        """Make this model the one ``result`` describes (fitted elsewhere, e.g. on a Dask cluster, from the
        summed ``stats``). Without ``L`` the model predicts, scores and saves, but ``refit`` asks for ``fit``.

        Everything is checked: ``result`` holds (n_lfs, k+1, k) finite tables whose columns sum to 1 and a class
        balance of k probabilities; ``stats`` (ungrouped) counts the same LFs and classes; ``L`` has n_lfs columns
        of valid votes, agrees with ``stats`` (the statistics of a moment method are counted from it when not
        given) and is kept as a private copy (refit edits it in place). ``class_balance``: the fixed balance that
        refits keep. Returns self."""
        self._validate_params()
        method = self.method
        if method == "auto":
            raise ValueError("method: install_fit needs the named method the result was fitted with, not 'auto'")
        spec = get_method(method)
        k = check_cardinality(cardinality)
        m = check_count(n_lfs, "n_lfs", 1)
        result = check_fit_result(result, m, k)
        if stats is not None:
            if not isinstance(stats, LabelStats):
                raise TypeError(f"stats: expected LabelStats or None, got {type(stats).__name__}")
            if stats.n_groups != 1 or stats.n_lfs != m or stats.cardinality != k:
                raise ValueError(f"stats: counts {stats.n_groups} group(s) of {stats.n_lfs} LFs over "
                                 f"{stats.cardinality} classes; expected 1 group of {m} LFs over {k} classes")
        if class_balance is not None:
            class_balance = check_class_balance(class_balance, k, positive=True)
        if L is not None:
            L = as_label_matrix(L)
            if L.shape[1] != m:
                raise ValueError(f"L: expected {m} columns (n_lfs), got {L.shape[1]}")
            recount = label_stats(L, k, overlap_matrix=spec.needs_overlap if stats is None else
                                  stats.overlap is not None, n_threads=self._threads())  # (also checks the votes)
            if stats is None and not spec.uses_rows:
                stats = recount
            elif stats is None:  # Dawid-Skene keeps no statistics, but the coverage is known now
                result.info.setdefault("coverage", recount.lf_coverage())
            elif recount != stats:
                raise ValueError("L: its statistics differ from stats (they must describe the same label matrix)")
            L = _private_copy(L, k, spec)
        return self._install(result, stats, k, m, class_balance=class_balance, L=L)

    def _install(self, result: FitResult, stats: Optional[LabelStats], k: int, m: int, *,
                 class_balance: Optional[np.ndarray], L: Optional[np.ndarray]) -> "LabelModel":
        """install_fit without the checks (fit's own, already valid results and private L)."""
        method = self.method if self.method != "auto" else self.method_
        self.method_ = method
        self._abstentions = self._resolve_abstentions(method)
        self._method_fitted = method
        self._fit_balance = class_balance
        self._set_fitted(result, stats, k, m)
        self._stats = stats
        self._last_L = L
        return self

    def _fit_from_stats(self, L: np.ndarray, stats: LabelStats, cardinality: int) -> "LabelModel":
        """A fit of ``self.method`` from statistics of ``L`` kept elsewhere (the workspace updates them per edit):
        the same method runner as :meth:`fit` (one-sided class balance, assumption checks, warnings), so the result
        equals a fresh fit's."""
        self._abstentions = self._resolve_abstentions(self.method)
        result = self._run_method(self.method, L, stats, cardinality, None, warm=None)
        return self.install_fit(result, stats, cardinality, L.shape[1])

    def _run_method(
        self, method: str, L: np.ndarray, stats: LabelStats, k: int, balance: Optional[np.ndarray],
        warm: Optional[FitResult],
    ) -> FitResult:
        options = self._method_options(method)
        spec = get_method(method)
        fit_fn = spec.fit
        notes = []
        if spec.uses_rows:
            result = fit_fn(
                L, k, balance, max_iter=self.max_iter, tol=self.tol, smoothing=self.smoothing,
                abstentions=self._abstentions, init=warm, n_threads=self._threads(), **options,
            )
        else:
            if balance is None and k == 2 and method in ("triplet", "covariance"):
                balance, note = self._one_sided_balance(L, stats)
                notes += [note] if note else []
            result = fit_fn(stats, balance, **options)
        if isinstance(method, str):  # (a user's fit function is taken as it is)
            result.info["warnings"] = (list(result.info.get("warnings", [])) + notes
                                       + self._assumption_warnings(method, L, stats, k, result))
        return result

    def _one_sided_balance(self, L: np.ndarray, stats: LabelStats):
        """(balance, note) for binary LFs that all vote one class each, where the moment fits have nothing to
        estimate the balance from (they fall back to uniform: [0.5, 0.5] on a set with 13% spam). The estimate is
        the median of three that fail differently: the mean vote share over rows with votes, Dawid-Skene's
        (abstentions modelled) and the vote indicators' third moments. (None, None) when some LF is two-sided."""
        counts = stats.class_counts[0]
        voting = counts.sum(axis=1) > 0
        if not voting.any() or ((counts > 0).sum(axis=1)[voting] > 1).any():
            return None, None
        from .dawid_skene import fit_dawid_skene

        covered = counts.sum(axis=0)
        shares = {"vote shares": covered / covered.sum()}
        try:
            shares["Dawid-Skene"] = fit_dawid_skene(assumptions._sample(L, 50_000), 2, None, abstentions="model",
                                                    n_threads=self._threads()).class_balance
        except ValueError:
            pass
        third = assumptions.one_sided_class_balance(L)
        if third is not None:
            shares["indicator third moments"] = third
        minority = float(np.median([b[1] for b in shares.values()]))
        balance = np.clip(np.array([1.0 - minority, minority]), 0.01, 0.99)
        balance /= balance.sum()
        told = ", ".join(f"{name} {np.round(b, 3).tolist()}" for name, b in shares.items())
        return balance, (f"all {int(voting.sum())} voting LFs vote a single class, so the class balance cannot "
                         f"come from the moments; estimated as {np.round(balance, 3).tolist()} (median of {told}); "
                         "pass Y_dev or class_balance for a reliable one")

    def _assumption_warnings(self, method: str, L: np.ndarray, stats: Optional[LabelStats], k: int,
                             result: FitResult) -> list:
        """What :mod:`labelfuse.models.assumptions` finds on this data for this method, as recorded warnings."""
        out = []
        deduped = set()
        if "duplicate_of" in result.info:
            deduped = {int(j) for j in np.flatnonzero(np.asarray(result.info["duplicate_of"]) >= 0)}
        groups = (assumptions.near_identical_from_stats(stats.covote[0], stats.agree[0]) if stats is not None
                  else assumptions.near_identical_lfs(L))
        for group in groups:
            if len([j for j in group if j not in deduped]) > 1:
                out.append(f"LFs {group} give the same answer on at least {assumptions.NEAR_IDENTICAL:.0%} of the "
                           "rows where one votes (near-identical): the model counts them as independent evidence, "
                           "which overstates their accuracy and skews the labels; drop or merge the copies")
        if stats is not None:
            flipped = assumptions.flipped_lfs(stats.covote[0], stats.agree[0], stats.class_counts[0], k)
            if flipped:
                out.append(f"LFs {[j for j, _ in flipped]} disagree with most other LFs beyond chance (mean moment "
                           f"{np.round([v for _, v in flipped], 2).tolist()}): they look worse than random "
                           "(flipped), and the fit, which assumes better than random, reports 1 - their accuracy; "
                           "check or invert them")
            if method == "covariance":
                why = assumptions.sparse_one_sided_multiclass(stats.class_counts[0], int(stats.rows[0]), k)
                if why:
                    out.append(why)
        log_cpt, log_prior = FitResult(result.cpt, result.class_balance).log_tables()
        if (self._abstentions == "ignore"):
            log_cpt[:, 0, :] = 0.0
        # 5,000 evenly spaced rows tell a 95% share apart from majority vote's as well as 20,000 do, at a quarter of
        # the cost (this check runs on every refit, and the workspace refits on every LF edit)
        S = np.ascontiguousarray(assumptions._sample(L, assumptions.COLLAPSE_SAMPLE_ROWS))
        pred = np.argmax(_core.posterior(S, log_cpt, log_prior, k, n_threads=self._threads()), axis=1)
        collapsed = assumptions.collapse(pred, S, k)
        if collapsed:
            c, share, mv = collapsed
            fix = (" (abstentions='ignore' drops what one-sided LFs tell: try abstentions='model')"
                   if method == "dawid_skene" and self._abstentions == "ignore" else "")
            out.append(f"collapsed: predicts class {c} for {share:.0%} of the rows with votes, where majority vote "
                       f"gives it {mv:.0%}; the fit broke down{fix}: compare with majority vote or pass Y_dev")
        return out

    def _method_options(self, method: str) -> Dict[str, Any]:
        """``method_options`` checked against the fit function's keywords (a typo or a keyword the model passes
        itself is a ValueError naming method_options, not a TypeError from deep inside the fit)."""
        options = self.method_options
        if options is None:
            return {}
        fit_fn = get_method(method).fit
        parameters = inspect.signature(fit_fn).parameters.values()
        reserved = _SET_BY_THE_MODEL[method]
        allowed = [p.name for p in parameters if p.kind == p.KEYWORD_ONLY and p.name not in reserved]
        takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters)
        unknown = [key for key in options if key in reserved or not isinstance(key, str)
                   or (key not in allowed and not takes_any)]
        if unknown:
            name = getattr(fit_fn, "__name__", method)
            raise ValueError(f"method_options: {unknown} are not options of {name} that LabelModel passes on "
                             f"(valid: {allowed})")
        return dict(options)

    def _set_fitted(self, result: FitResult, stats: Optional[LabelStats], k: int, m: int) -> None:
        cpt = np.ascontiguousarray(result.cpt, dtype=np.float64)
        balance = np.ascontiguousarray(result.class_balance, dtype=np.float64)
        if cpt.shape != (m, k + 1, k) or balance.shape != (k,):
            raise RuntimeError(
                f"{self.method}: returned cpt {cpt.shape} / class_balance {balance.shape}, "
                f"expected {(m, k + 1, k)} / {(k,)}"
            )
        self.cpt_ = cpt
        self.class_balance_ = balance
        info = dict(result.info)
        coverage = info.pop("coverage", None) if stats is None else stats.lf_coverage()
        # (NaN per LF when nothing tells: a result installed without statistics or rows)
        self.coverage_ = np.full(m, np.nan) if coverage is None else np.asarray(coverage, dtype=np.float64)
        # An LF with no vote in the data has no accuracy to speak of (its table is only the smoothing prior).
        self.accuracies_ = np.where(self.coverage_ == 0, np.nan, accuracies_from_cpt(cpt, balance))
        self.n_iter_ = info.get("n_iter")
        self.info_ = info
        self.cardinality_ = k
        self.n_lfs_ = m
        self._log_tables = self._posterior_tables()
        # every diagnostic the fit recorded reaches the user as a labelfuse warning (filterable by category)
        emit(info.get("warnings", ()), f"LabelModel(method={self._method_fitted!r})", stacklevel=4)

    def _resolve_abstentions(self, method: str) -> str:
        return DEFAULT_ABSTENTIONS[method] if self.abstentions is None else self.abstentions

    def _posterior_tables(self):
        log_cpt, log_prior = FitResult(self.cpt_, self.class_balance_).log_tables()
        if self._abstentions == "ignore":
            log_cpt[:, 0, :] = 0.0  # the same factor for every class: abstaining says nothing about y
        return log_cpt, log_prior

    def _set_state(self, values: Any, arrays: Any) -> None:
        values = dict(values)
        values.setdefault("method_", self.method)  # a file of an earlier format: the method is the parameter
        super()._set_state(values, arrays)

    def _after_load(self) -> None:
        self._validate_params()  # a damaged file's hyperparameters are refused here, naming the parameter
        if getattr(self, "method_", None) is None:  # read by an earlier format's reader
            self.method_ = self.method
        self.selection_ = None  # (the choice's table is not saved; method_ is)
        self._abstentions = self._resolve_abstentions(self.method_)
        self._log_tables = self._posterior_tables()
        self._stats = None
        self._last_L = None

    # -- incremental refit ---------------------------------------------------------------------------------------
    def refit(self, L_new: Any, columns: Optional[Sequence[int]] = None) -> "LabelModel":
        """Refit after some LFs changed: only the changed columns' statistics are recounted
        (``LabelStats.update_column``: O(n) to find the rows whose vote changed, then work on those rows only),
        then the parameters are re-estimated from the statistics. ``columns`` names the changed LFs (skipping
        the O(n*m) comparison with the previous L); by default they are found by comparing.

        Dawid-Skene needs the rows, not statistics: its refit updates the private copy of L column by column and
        reuses the previous parameters as the EM starting point (warm start), but recompresses the vote patterns
        and runs full EM passes, so it costs a good part of a fit. Triplet and covariance refits give exactly a
        fresh fit's result. Returns self.
        """
        self._check_fitted()
        self._validate_params()  # (set_params may have changed them since the fit)
        if getattr(self, "_last_L", None) is None:
            raise NotFittedError("refit: this model holds no data from a fit (e.g. it was loaded); call fit(L)")
        L_new = as_label_matrix(L_new, "L_new")
        old = self._last_L
        if L_new.shape != old.shape:
            raise ValueError(f"L_new: expected shape {old.shape} (as the last fit), got {L_new.shape}")
        k, m = self.cardinality_, old.shape[1]
        if columns is None:
            changed = np.flatnonzero(_core.changed_columns(L_new, old, n_threads=self._threads()))
        else:
            cols = np.asarray(columns)
            if cols.ndim == 1 and cols.size == 0:  # [] is a float64 array to numpy: no column changed
                cols = cols.astype(np.int64)
            if cols.ndim != 1 or cols.dtype.kind not in "iu" or (cols.size and (cols.min() < 0 or cols.max() >= m)):
                raise ValueError(f"columns: expected LF indices in 0..{m - 1}, got {columns!r}")
            changed = np.unique(cols)
        if changed.size == 0:
            return self
        # Only the rows where a changed column differs are read further: the new votes are checked there (elsewhere
        # they equal the fitted, valid ones), and the statistics are updated from those rows alone.
        edits = []
        for j in changed:
            j = int(j)
            column = L_new[:, j]
            before = old[:, j]  # contiguous: the private copy of a statistics method is column-major
            rows = np.flatnonzero(column != before)
            values = column[rows]
            if rows.size and (values.min() < -1 or values.max() >= k):
                bad = int(rows[np.flatnonzero((values < -1) | (values >= k))[0]])
                raise ValueError(
                    f"L_new: entry (row {bad}, column {j}) is {int(column[bad])}; votes must be -1 (abstain) or "
                    f"a class in 0..{k - 1}"
                )
            edits.append((j, rows, values))
        # The private copy of L is edited in place (a copy of it would cost n*m bytes per refit), so the changed
        # entries are kept and put back if anything below fails or is interrupted: a refit that raises leaves the
        # model exactly as it was (the base restores the attributes; this restores the contents of L).
        previous = []
        try:
            stats = self._stats
            threads = self._threads()
            for j, rows, values in edits:
                target = old[:, j]
                previous.append((j, rows, target[rows].copy()))
                target[rows] = values
                if stats is not None and rows.size:
                    stats = stats.update_rows(gather_rows(old, rows), j, previous[-1][2],
                                              n_threads=threads if rows.size >= _THREADED_ROWS else 1)
            uses_rows = get_method(self._method_fitted).uses_rows
            warm = FitResult(self.cpt_, self.class_balance_) if uses_rows else None
            result = self._run_method(self._method_fitted, old, stats, k, self._fit_balance, warm=warm)
            self._set_fitted(result, stats, k, m)  # new objects only: installed last
            self._stats = stats
        except BaseException:
            for j, rows, values in reversed(previous):
                old[:, j][rows] = values
            raise
        return self

    # -- prediction ------------------------------------------------------------------------------------------------
    def _predict_proba(self, L: np.ndarray) -> np.ndarray:
        log_cpt, log_prior = self._log_tables
        return _core.posterior(L, log_cpt, log_prior, self.cardinality_, n_threads=self._threads())

"""Label models on a distributed label matrix: fitted on the driver from reduced statistics (triplet, covariance)
or by a distributed EM (Dawid-Skene, :mod:`.em`); posteriors computed block by block on the workers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._base import N_THREADS, Estimator, InstanceOf, Interval, Options, json_value
from .._validation import check_n_threads
from ..models.registry import METHODS, FitResult, get_method
from ._dask import (SPLIT_EVERY, aligned, as_label_array, block_offsets, da, dask, distributed, in_matrix_rows,
                    row_blocks)
from .em import fit_dawid_skene_dask
from .stats import label_stats

__all__ = ["DaskLabelModel", "predict_proba"]


@dataclass(frozen=True)
class _Tables:
    """Log tables of a fitted model for ``_core.posterior``; G stacked groups (G = 1 when ungrouped)."""

    log_cpt: np.ndarray    # (G, m, k+1, k)
    log_prior: np.ndarray  # (G, k)

    @classmethod
    def from_fits(cls, fits: Sequence[FitResult]) -> "_Tables":
        logs = [f.log_tables() for f in fits]
        return cls(np.ascontiguousarray(np.stack([c for c, _ in logs])),
                   np.ascontiguousarray(np.stack([p for _, p in logs])))


def _posterior_block(L: np.ndarray, tables: _Tables, groups: Optional[np.ndarray],
                     n_threads: Optional[int]) -> np.ndarray:
    G, _, _, k = tables.log_cpt.shape
    if groups is not None:
        groups = np.ascontiguousarray(groups, dtype=np.int64)
    return _core.posterior(L, tables.log_cpt, tables.log_prior, k, n_groups=G, groups=groups, n_threads=n_threads)


def predict_proba(L: Any, fit: Union[FitResult, Sequence[FitResult]], *, groups: Any = None,
                  n_threads: Optional[int] = None) -> "da.Array":
    """Posteriors p(y | votes) of a distributed label matrix, computed block by block on the workers (lazy).

    Args:
        L: (n, m) dask array.
        fit: a :class:`~labelfuse.models.FitResult`, or one per group (then ``groups`` is required).
        groups: per-row group ids (dask or numpy array) selecting each row's tables.
        n_threads: OpenMP threads per task on the worker.

    The fitted tables are one shared node of the graph (sent to each worker once, not with every task).
    Returns an (n, k) float64 dask array chunked like L's rows; rows sum to 1.

    Example::

        from labelfuse.models.triplet import fit_triplet

        fit = fit_triplet(label_stats(L, 2), None)
        P = predict_proba(L, fit).compute()

    Returns:
        A lazy (n, k) float64 dask array, chunked like L's rows.
    """
    L = as_label_array(L)
    fits = [fit] if isinstance(fit, FitResult) else list(fit)
    if not fits or not all(isinstance(f, FitResult) for f in fits):
        raise TypeError("fit: expected a FitResult or a sequence of FitResult (one per group)")
    m = L.shape[1]
    k = fits[0].class_balance.shape[0]
    for f in fits:
        if f.cpt.shape != (m, k + 1, k) or f.class_balance.shape != (k,):
            raise ValueError(f"fit: expected cpt of shape {(m, k + 1, k)} and class_balance ({k},), got "
                             f"{f.cpt.shape} / {f.class_balance.shape}")
    if len(fits) > 1 and groups is None:
        raise ValueError(f"groups: required with {len(fits)} fits (one per group)")
    n_threads = check_n_threads(n_threads)
    tables = dask.delayed(_Tables.from_fits(fits), pure=True)
    gd = aligned(groups, L, "groups")
    blocks = list(L.to_delayed().ravel())
    arrays = [
        da.from_delayed(dask.delayed(in_matrix_rows, pure=True)(at, _posterior_block, b, tables, g, n_threads),
                        shape=(int(n), k), dtype=np.float64)
        for at, b, g, n in zip(block_offsets(L), blocks, row_blocks(gd, len(blocks)), L.chunks[0])
    ]
    return da.concatenate(arrays, axis=0)


# -- label model -------------------------------------------------------------------------------------------------------


class DaskLabelModel(Estimator):
    """A label model fitted from distributed statistics; posteriors computed on the workers.

    Args:
        cardinality: number of classes k (required).
        method: "triplet" or "covariance" (fitted from the reduced statistics alone; the covariance method
            reduces the one-hot overlap matrix, 8 (m k)^2 bytes per group) or "dawid_skene" (distributed EM: each
            iteration sends the current tables to the workers and reduces per-block expected counts).
        class_balance: None (estimated) or k probabilities.
        method_options: keyword arguments for the fit function (``fit_triplet`` / ``fit_covariance``) or, for
            Dawid-Skene, ``max_iter``, ``tol``, ``smoothing``.
        n_threads: OpenMP threads per task on the workers (see :mod:`labelfuse.distributed`).
        split_every: fan-in of the reduction tree.

    ``fit(L, groups=..., n_groups=G)`` fits one model per group (Liger partitions, e.g. from
    :func:`assign_partitions`); ``predict_proba`` then needs the same kind of groups.

    Fitted attributes: ``stats_`` (the reduced LabelStats; None for Dawid-Skene and after ``load``), ``fits_`` (one
    FitResult per group), ``cpt_`` ((m, k+1, k), or (G, m, k+1, k) when grouped), ``class_balance_`` ((k,) or
    (G, k)), ``n_groups_`` (None when ungrouped).

    Example::

        from labelfuse import distributed as lfd

        model = lfd.DaskLabelModel(2, method="triplet").fit(L)   # L: a dask array from lfd.apply_lfs
        P = model.predict_proba(L).compute()                     # (n, 2)
        model.save("model.safetensors")                          # the fitted tables (not the statistics)
    """

    _parameter_constraints = {
        "cardinality": [Interval(int, 2, None)],
        "method": [Options(*METHODS)],
        "class_balance": [None, InstanceOf(list, tuple, np.ndarray, description="a sequence of k probabilities")],
        "method_options": [None, InstanceOf(Mapping, description="a dict of keyword arguments")],
        "n_threads": [N_THREADS],
        "split_every": [Interval(int, 2, None)],
    }

    def __init__(self, cardinality: int, method: str = "triplet", class_balance: Any = None, *,
                 method_options: Optional[Dict[str, Any]] = None, n_threads: Optional[int] = None,
                 split_every: int = SPLIT_EVERY) -> None:
        self.cardinality = cardinality
        self.method = method
        self.class_balance = class_balance
        self.method_options = method_options
        self.n_threads = n_threads
        self.split_every = split_every

    def fit(self, L: Any, *, groups: Any = None, n_groups: Optional[int] = None,
            client: Optional["distributed.Client"] = None) -> "DaskLabelModel":
        """Fit from the statistics of the distributed L (one model per group when ``groups`` is given)."""
        k = int(self.cardinality)
        balance = None if self.class_balance is None else np.asarray(self.class_balance, dtype=np.float64)
        options = dict(self.method_options or {})
        method = get_method(self.method, name="method")
        if method.uses_rows:
            fits, stats = fit_dawid_skene_dask(
                L, k, balance, groups=groups, n_groups=n_groups, n_threads=self.n_threads,
                split_every=self.split_every, client=client, **options)
        else:
            stats = label_stats(L, k, groups=groups, n_groups=n_groups, overlap_matrix=method.needs_overlap,
                                n_threads=self.n_threads, split_every=self.split_every, client=client)
            parts = [stats] if groups is None else [stats.group(g) for g in range(stats.n_groups)]
            fits = [method.fit(s, balance, **options) for s in parts]
        self.stats_ = stats
        self._install(fits, grouped=groups is not None)
        return self

    def _install(self, fits: Sequence[FitResult], grouped: bool) -> None:
        self.fits_ = list(fits)
        self.n_groups_ = len(fits) if grouped else None
        cpts = np.stack([f.cpt for f in fits])
        priors = np.stack([f.class_balance for f in fits])
        self.cpt_ = cpts if grouped else cpts[0]
        self.class_balance_ = priors if grouped else priors[0]

    def predict_proba(self, L: Any, *, groups: Any = None) -> "da.Array":
        """(n, k) posteriors as a lazy dask array computed on the workers."""
        self._check_fitted()
        if (groups is None) != (self.n_groups_ is None):
            raise ValueError("groups: pass groups exactly when the model was fitted with groups")
        return predict_proba(L, self.fits_, groups=groups, n_threads=self.n_threads)

    def to_label_model(self) -> Any:
        """The fitted parameters as a single-machine :class:`labelfuse.LabelModel` (ungrouped models only): for
        ``score`` and in-memory ``predict_proba``. It holds no rows, so its ``refit`` asks for a fresh ``fit``."""
        from ..models import LabelModel

        self._check_fitted()
        if self.n_groups_ is not None:
            raise ValueError("to_label_model: this model has one fit per group; LabelModel holds one")
        options = dict(self.method_options or {})
        em = {key: options.pop(key) for key in ("max_iter", "tol", "smoothing") if key in options}
        model = LabelModel(self.cardinality, method=self.method, class_balance=self.class_balance,
                           method_options=options or None, n_threads=self.n_threads, **em)
        fit = self.fits_[0]
        balance = None if self.class_balance is None else np.asarray(self.class_balance, np.float64)
        return model.install_fit(fit, self.stats_, int(self.cardinality), fit.cpt.shape[0], class_balance=balance)

    def predict(self, L: Any, *, groups: Any = None) -> "da.Array":
        """Most probable class per row (lowest class id on ties), as a lazy int64 dask array."""
        return self.predict_proba(L, groups=groups).argmax(axis=1)

    # -- persistence: the fitted tables and each fit's info; the reduced statistics are not saved ----------------
    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        values = {"n_groups_": self.n_groups_, "info": [json_value(f.info, "info") for f in self.fits_]}
        return values, {"cpt_": np.asarray(self.cpt_), "class_balance_": np.asarray(self.class_balance_)}

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from .._io import FileFormatError

        for name in ("n_groups_", "info"):
            if name not in values:
                raise FileFormatError(f"the saved DaskLabelModel lacks its fitted value {name!r}")
        for name in ("cpt_", "class_balance_"):
            if name not in arrays:
                raise FileFormatError(f"the saved DaskLabelModel lacks its fitted array {name!r}")
        grouped = values["n_groups_"] is not None
        cpts = np.asarray(arrays["cpt_"], dtype=np.float64)
        priors = np.asarray(arrays["class_balance_"], dtype=np.float64)
        if not grouped:
            cpts, priors = cpts[None], priors[None]
        if cpts.ndim != 4 or priors.shape != (cpts.shape[0], cpts.shape[3]) or len(values["info"]) != len(cpts):
            raise FileFormatError("the saved DaskLabelModel's tables do not fit together")
        self.stats_ = None
        self._install([FitResult(cpt=c, class_balance=p, info=dict(i))
                       for c, p, i in zip(cpts, priors, values["info"])], grouped)

"""What every label model shares: scikit-learn parameter handling, tie-aware prediction, scoring, and a
versioned file format that loads without unpickling code.

File format (``format_version`` 1): a zip archive holding ``metadata.json`` (format, format_version, class,
hyperparameters, scalar fitted attributes) and one ``<name>.npy`` per fitted array (read with
``allow_pickle=False``). ``unzip -p model.lfm metadata.json`` shows what is inside.
"""
from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Union

import numpy as np

from .._validation import NotFittedError, as_label_matrix, as_labels, check_cardinality
from ..metrics import METRICS
from .._params import Params
from .._saving import check_format_version, version_stamp

__all__ = ["BaseLabelModel", "NotFittedError", "FORMAT_VERSION", "TIE_POLICIES", "check_random_state", "load",
           "resolve_tie_policy"]

FORMAT_VERSION = 1
_FORMAT_NAME = "labelfuse-model"
TIE_POLICIES = ("abstain", "random", "prior")
# Classes whose probability is within this of a row's maximum are tied (majority-vote shares are exact
# fractions, far further apart than this; posteriors of symmetric models differ only by rounding).
TIE_TOLERANCE = 1e-9

_REGISTRY: Dict[str, type] = {}




def resolve_tie_policy(policy: Any) -> str:
    if policy not in TIE_POLICIES:
        raise ValueError(f"tie_policy: expected one of {TIE_POLICIES}, got {policy!r}")
    return policy


def check_random_state(value: Any, name: str = "random_state") -> Any:
    """None, a non-negative int seed (Python or numpy), or a numpy Generator / SeedSequence / BitGenerator."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected None or a non-negative int seed, got {type(value).__name__} {value!r:.40}")
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative int seed, got {value}")
    return value


def break_ties(P: np.ndarray, policy: str, prior: np.ndarray, random_state: Any) -> np.ndarray:
    """argmax of each row of P; rows whose top classes tie follow ``policy``:

    - ``"abstain"``: -1;
    - ``"random"``: one of the tied classes uniformly at random, from ``np.random.default_rng(random_state)``
      created per call (so the same data and seed give the same labels);
    - ``"prior"``: the tied class with the largest prior (then the smallest index).
    """
    policy = resolve_tie_policy(policy)
    pred = np.argmax(P, axis=1)
    if P.shape[0] == 0:
        return pred.astype(np.int64)
    tied = P >= (P.max(axis=1, keepdims=True) - TIE_TOLERANCE)
    rows = np.flatnonzero(tied.sum(axis=1) > 1)
    if rows.size:
        sub = tied[rows]
        if policy == "abstain":
            pred[rows] = -1
        elif policy == "prior":
            pred[rows] = np.argmax(np.where(sub, np.asarray(prior)[None, :], -np.inf), axis=1)
        else:
            u = np.random.default_rng(random_state).random(sub.shape)
            pred[rows] = np.argmax(np.where(sub, u, -1.0), axis=1)
    return pred.astype(np.int64)


def check_class_balance(value: Any, cardinality: int, name: str = "class_balance", *,
                        positive: bool = False) -> np.ndarray:
    """A (k,) non-negative vector summing to 1 (to within 1e-6, then renormalised), or "uniform".

    ``positive``: every class needs a probability above 0 (label models: a class with prior 0 could never be
    predicted, and the moment fits divide by it)."""
    if isinstance(value, str):
        if value != "uniform":
            raise ValueError(f"{name}: expected None, 'uniform' or {cardinality} probabilities, got {value!r}")
        return np.full(cardinality, 1.0 / cardinality)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):  # strings, None entries, ragged lists
        raise TypeError(f"{name}: expected None, 'uniform' or {cardinality} probabilities, got "
                        f"{type(value).__name__} {value!r:.80}") from None
    if arr.shape != (cardinality,):
        raise ValueError(f"{name}: expected {cardinality} class probabilities, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or abs(arr.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}: expected non-negative probabilities summing to 1, got {arr.tolist()}")
    if positive and np.any(arr == 0):
        raise ValueError(f"{name}: class {int(np.flatnonzero(arr == 0)[0])} has probability 0, so the model could "
                         "never predict it; give every class a positive probability (or leave the class out)")
    return np.ascontiguousarray(arr / arr.sum())


def class_balance_from_labels(Y: Any, cardinality: int, name: str = "Y_dev") -> np.ndarray:
    """Class frequencies of labelled examples with add-one (Laplace) smoothing: (count + 1) / (n + k), so a
    class missing from a small dev set keeps a small probability instead of being ruled out."""
    Y = np.asarray(Y)
    y = as_labels(Y, Y.shape[0] if Y.ndim == 1 else -1, cardinality, name)
    if y.size == 0:
        raise ValueError(f"{name}: is empty")
    counts = np.bincount(y, minlength=cardinality).astype(np.float64)
    return (counts + 1.0) / (counts.sum() + cardinality)


def _to_json(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_json(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v, f"{name}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{name}: a {type(value).__name__} cannot be saved (only numbers, strings, lists, dicts, None)")


class BaseLabelModel(Params):
    """Shared behaviour; subclasses implement ``fit`` and ``_predict_proba`` and list their fitted state in
    ``_fitted_arrays`` (numpy arrays) and ``_fitted_values`` (JSON-able values)."""

    _fitted_arrays: Sequence[str] = ()
    _fitted_values: Sequence[str] = ("cardinality_", "n_lfs_")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # -- parameters (scikit-learn conventions) -----------------------------------------------------------------
    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        shown = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            same = value is default or (
                not isinstance(value, np.ndarray) and not isinstance(default, np.ndarray) and value == default
            )
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- fitted state -------------------------------------------------------------------------------------------
    def _is_fitted(self) -> bool:
        return getattr(self, "cardinality_", None) is not None

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(L) before using this method."
            )

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, 0..k-1."""
        self._check_fitted()
        return np.arange(self.cardinality_)

    def _check_L(self, L: Any) -> np.ndarray:
        L = as_label_matrix(L)
        if L.shape[1] != self.n_lfs_:
            raise ValueError(f"L: expected {self.n_lfs_} columns (LFs) as in fit, got {L.shape[1]}")
        return L

    def _threads(self) -> Optional[int]:
        from .._validation import check_n_threads

        return check_n_threads(getattr(self, "n_threads", None))

    # -- prediction -----------------------------------------------------------------------------------------------
    def predict_proba(self, L: Any) -> np.ndarray:
        """(n, k) class probabilities; every row sums to 1."""
        self._check_fitted()
        return self._predict_proba(self._check_L(L))

    def _predict_proba(self, L: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, L: Any, tie_policy: Optional[str] = None) -> np.ndarray:
        """Most probable class per row; ties follow ``tie_policy`` (default: the estimator's ``tie_policy``):
        "abstain" -> -1, "random" -> a tied class drawn with ``random_state``, "prior" -> the tied class that is
        most probable a priori (``class_balance_``)."""
        self._check_fitted()
        return self._decide(self._decision_proba(self._check_L(L))[1], tie_policy)

    def _decision_proba(self, L: np.ndarray) -> "tuple[np.ndarray, np.ndarray]":
        """(probabilities, the scores ``predict`` decides on); the same array unless a subclass treats some
        rows as ties (majority vote: rows without votes)."""
        P = self._predict_proba(L)
        return P, P

    def _decide(self, P: np.ndarray, tie_policy: Optional[str]) -> np.ndarray:
        policy = resolve_tie_policy(self.tie_policy if tie_policy is None else tie_policy)
        return break_ties(P, policy, self.class_balance_, check_random_state(self.random_state))

    def score(
        self,
        L: Any,
        Y: Any,
        metrics: Union[str, Iterable[str]] = ("accuracy",),
        tie_policy: Optional[str] = None,
    ) -> Dict[str, float]:
        """Metrics against gold labels Y: any of accuracy, f1, precision, recall (binary: class 1 is positive;
        multi-class: macro average), brier, log_loss. Tied rows follow ``tie_policy`` (an abstention counts as
        wrong)."""
        if isinstance(metrics, str):
            names = [metrics]
        else:
            try:
                names = list(metrics)
            except TypeError:
                raise TypeError(f"metrics: expected a metric name or a list of names among {sorted(METRICS)}, got "
                                f"{type(metrics).__name__}") from None
        unknown = [m for m in names if not isinstance(m, str) or m not in METRICS]
        if unknown or not names:
            raise ValueError(f"metrics: expected names among {sorted(METRICS)}, got {names!r}")
        self._check_fitted()
        P, decision = self._decision_proba(self._check_L(L))
        if P.shape[0] == 0:  # every metric is a mean over rows
            raise ValueError("L: has no rows, so there is nothing to score")
        Y = as_labels(Y, P.shape[0], self.cardinality_)
        pred = self._decide(decision, tie_policy)
        out = {}
        for name in names:
            fn, needs_proba = METRICS[name]
            if needs_proba:
                out[name] = fn(Y, P)
            elif name == "accuracy":
                out[name] = fn(Y, pred)
            else:
                out[name] = fn(Y, pred, cardinality=self.cardinality_)
        return out

    # -- persistence ----------------------------------------------------------------------------------------------
    def save(self, path: Union[str, Path]) -> None:
        """Write the fitted model to ``path`` (a zip of metadata.json + .npy arrays; no pickle)."""
        self._check_fitted()
        params = {name: _to_json(value, name) for name, value in self.get_params().items()}
        meta = {
            "format": _FORMAT_NAME,
            **version_stamp(FORMAT_VERSION),
            "class": type(self).__name__,
            "params": params,
            "fitted": {name: _to_json(getattr(self, name), name) for name in self._fitted_values},
        }
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps(meta, indent=2, sort_keys=True))
            for name in self._fitted_arrays:
                arr = np.ascontiguousarray(getattr(self, name))
                with zf.open(f"{name}.npy", "w") as f:
                    np.lib.format.write_array(f, arr, allow_pickle=False)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "BaseLabelModel":
        """Read a model written by :meth:`save` (by any labelfuse that writes a supported format_version)."""
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ValueError(f"path: {path} is not a labelfuse model file (not a zip archive)") from None
        with zf:
            try:
                meta = json.loads(zf.read("metadata.json"))
            except KeyError:
                raise ValueError(f"path: {path} is not a labelfuse model file (no metadata.json)") from None
            if meta.get("format") != _FORMAT_NAME:
                raise ValueError(f"path: {path} is not a labelfuse model file (format {meta.get('format')!r})")
            check_format_version(meta, FORMAT_VERSION, path, "label model")
            target = _REGISTRY.get(meta.get("class"))
            if target is None:
                raise ValueError(f"path: {path} holds an unknown model class {meta.get('class')!r}")
            if not issubclass(target, cls):
                raise TypeError(f"path: {path} holds a {target.__name__}, not a {cls.__name__}")
            model = target(**meta["params"])
            for name, value in meta["fitted"].items():
                setattr(model, name, value)
            for name in target._fitted_arrays:
                with zf.open(f"{name}.npy") as f:
                    setattr(model, name, np.lib.format.read_array(f, allow_pickle=False))
        model._after_load()
        return model

    def _after_load(self) -> None:
        """Rebuild derived caches after :meth:`load`."""


def load(path: Union[str, Path]) -> BaseLabelModel:
    """Load any labelfuse label model saved with ``save``."""
    return BaseLabelModel.load(path)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def resolve_cardinality(L: np.ndarray, cardinality: Any, Y: Any = None, *,
                        table_bytes: Optional[Callable[[int], int]] = None, tables: str = "tables") -> int:
    """The number of classes: ``cardinality`` checked, or inferred from L (and Y). ``table_bytes(k)``: what the
    model allocates for k classes; more than the memory limit is a ValueError naming cardinality."""
    from .._validation import check_model_memory, infer_cardinality

    if cardinality is not None:
        k = check_cardinality(cardinality)
    else:
        k = infer_cardinality(L, None, Y)
    if table_bytes is not None:
        check_model_memory(table_bytes(k), k, inferred=cardinality is None, what=tables)
    return k

"""Ensembles of end models: the mean of their predicted probabilities."""
from __future__ import annotations

import copy
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ._base import MAX_SEED, EndModel
from ._checks import as_labels, n_rows_of
from .metrics import score_predictions
from .._base import DEPRECATED, Estimator, InstanceOf, Interval, Options
from .._io import FileFormatError, nested_state, restore_nested
from .._validation import check_count
from .._io import load as load_model  # any saved estimator, end models and ensembles included

VARY = ("seed", "dev_split")


class Ensemble(Estimator):
    """Trains ``n_members`` copies of ``estimator`` and averages their predict_proba.

    vary="seed": member i uses the seed ``random_state + i`` and the whole dev set.
    vary="dev_split": member i also early-stops on its own random ``dev_fraction`` of the dev set (the members
    disagree on which epoch is best, which decorrelates them more than seeds alone).
    ``Ensemble.from_models(models)`` wraps models that are already trained. ``seed`` is a deprecated alias of
    ``random_state``. ``save(path)`` writes one file holding every member; ``Ensemble.load(path, device=...)`` or
    ``labelfuse._io.load(path)`` reads it back.

    Example::

        ens = Ensemble(Adapter(hidden=(64,)), n_members=5, random_state=0).fit(X, P, X_dev, Y_dev)
        ens.predict_proba(X_test)
        ens.save("ensemble.lf"); Ensemble.load("ensemble.lf", device="cpu")

    Args:
        estimator: the end model to copy (default: an :class:`labelfuse.endmodels.Adapter`).
        n_members: how many copies to train.
        vary: "seed" or "dev_split" (see above).
        dev_fraction: the share of the dev set each member early-stops on with vary="dev_split".
        random_state: the first member's seed.
        seed: deprecated name of ``random_state``.
    """

    _parameter_constraints = {
        "estimator": [InstanceOf(EndModel, description="an end model instance (e.g. Adapter(...))")],
        "n_members": [Interval(int, 1, None)],
        "vary": [Options(*VARY)],
        "dev_fraction": [Interval(float, 0, 1, closed="right")],
        "random_state": [Interval(int, 0, MAX_SEED)],
    }
    _deprecated_aliases = {"seed": "random_state"}

    def __init__(
        self,
        estimator: Optional[EndModel] = None,
        n_members: int = 5,
        vary: str = "seed",
        dev_fraction: float = 0.8,
        random_state: int = 0,
        seed: Any = DEPRECATED,
    ):
        self.estimator = estimator
        self.n_members = n_members
        self.vary = vary
        self.dev_fraction = dev_fraction
        self.random_state = random_state
        self.seed = seed

    @classmethod
    def from_models(cls, models: Sequence[Any]) -> "Ensemble":
        models = list(models)
        if not models:
            raise ValueError("models: expected at least one fitted model")
        for m in models:
            if not hasattr(m, "predict_proba"):
                raise TypeError(f"models: {type(m).__name__} has no predict_proba")
        ens = cls(estimator=None, n_members=len(models))
        ens.members_ = models
        return ens

    def fit(self, X: Any, P: Any, X_dev: Any = None, Y_dev: Any = None, **fit_kwargs: Any) -> "Ensemble":
        """Fit every member on the same data; ``fit_kwargs`` go to each member's fit (e.g. ``S=``, ``S_dev=`` for a
        SliceClassifier, ``mask=``)."""
        if self.vary == "dev_split":  # checked here: the split below indexes X_dev and Y_dev
            if X_dev is None or Y_dev is None:
                raise ValueError("X_dev, Y_dev: vary='dev_split' needs a labeled dev set")
            n_dev = n_rows_of(X_dev, "X_dev")
            if n_dev == 0:
                raise ValueError("X_dev: vary='dev_split' needs dev rows to split")
            if np.ndim(Y_dev) != 1 or len(Y_dev) != n_dev:
                raise ValueError(f"Y_dev: expected {n_dev} labels (one per row of X_dev), got shape "
                                 f"{np.shape(Y_dev)}")
        self.__dict__.pop("members_", None)  # a new fit starts from nothing
        base_seed = int(self._param("random_state"))
        rng = np.random.default_rng(base_seed)
        members = []
        for i in range(int(self.n_members)):
            params = self.estimator.get_params()
            params["random_state"] = base_seed + i
            for alias in getattr(self.estimator, "_deprecated_aliases", {}):
                params[alias] = DEPRECATED
            member = type(self.estimator)(**params)
            dev_x, dev_y = X_dev, Y_dev
            extra = dict(fit_kwargs)
            if self.vary == "dev_split":
                keep = np.sort(rng.choice(n_dev, max(1, int(round(self.dev_fraction * n_dev))), replace=False))
                dev_x = _take(X_dev, keep)
                dev_y = np.asarray(Y_dev)[keep]
                if extra.get("S_dev") is not None:
                    extra["S_dev"] = _take(extra["S_dev"], keep)
            members.append(member.fit(X, P, X_dev=dev_x, Y_dev=dev_y, **extra))
            if i == 0 and self.vary == "dev_split" and hasattr(member, "n_classes_"):
                # each member sees a sample of the dev rows: a bad label outside every sample would go unnoticed
                as_labels(Y_dev, n_dev, member.n_classes_, name="Y_dev")
        self.members_ = members
        return self

    def predict_proba(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        """The mean of the members' predict_proba (extra arguments, e.g. a SliceClassifier's S, go to each)."""
        self._check_fitted()
        probs = [m.predict_proba(X, *args, **kwargs) for m in self.members_]
        shapes = {p.shape for p in probs}
        if len(shapes) != 1:
            raise ValueError(f"members disagree on the output shape: {sorted(shapes)}")
        return np.mean(probs, axis=0)

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.predict_proba(X, *args, **kwargs).argmax(axis=1)

    def score(self, X: Any, Y: Any, *args: Any, metric: str = "accuracy", **kwargs: Any) -> float:
        return score_predictions(self.predict_proba(X, *args, **kwargs), Y, metric)

    # ---- persistence ---------------------------------------------------------------------------------------
    def _state_params(self) -> dict[str, Any]:
        """The estimator to refit from as its class and parameters (None for an ensemble of given models)."""
        est = self.estimator
        described = None
        if isinstance(est, EndModel):
            described = {"class": type(est).__name__, "params": est._state_params()}
        return {"estimator": described, "n_members": int(self.n_members), "vary": self.vary,
                "dev_fraction": float(self.dev_fraction), "random_state": int(self._param("random_state"))}

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        for i, m in enumerate(self.members_):
            if not isinstance(m, EndModel):
                raise TypeError(f"members: only labelfuse end models can be saved, member {i} is {type(m).__name__}")
        values = {"n_members_": len(self.members_)}
        return nested_state(values, **{f"member_{i}": m for i, m in enumerate(self.members_)}), {}

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        options = self.__dict__.pop("_load_options", {})
        try:
            n = check_count(values.get("n_members_"), "n_members_", 1)
        except (TypeError, ValueError) as exc:
            raise FileFormatError(f"path: the saved Ensemble is damaged ({exc})") from None
        members = []
        for i in range(n):
            # each member gets its own copy of a given input module: they hold different weights
            opts = {**options, "input_module": copy.deepcopy(options.get("input_module"))}
            member = restore_nested(values, f"member_{i}", **opts)
            if member is None:
                raise FileFormatError(f"path: the saved Ensemble lacks member_{i}")
            members.append(member)
        self.members_ = members

    @classmethod
    def _from_params(cls, params: dict[str, Any], device: Any = "auto", input_module: Any = None) -> "Ensemble":
        params = dict(params)
        described = params.get("estimator")
        if described is not None:
            if not isinstance(described, Mapping) or not isinstance(described.get("params"), Mapping):
                raise ValueError(f"estimator: not a saved end-model description: {described!r:.80}")
            klass = _end_model_class(described.get("class"))
            params["estimator"] = klass._from_params(dict(described["params"]), device=device,
                                                     input_module=input_module)
        ens = super()._from_params(params)
        ens._load_options = {"device": device, "input_module": input_module}
        return ens

    @classmethod
    def load(cls, path: Any, device: Any = "auto", input_module: Any = None) -> "Ensemble":
        """Read an ensemble written by :meth:`save` (or a folder written by an earlier release), every member on
        ``device``; ``input_module``: as for :meth:`EndModel.load <labelfuse.endmodels.Adapter.load>`."""
        return super().load(path, device=device, input_module=input_module)


def _end_model_class(name: Any) -> type:
    """The end-model class called ``name`` (EndModel and its subclasses only: a file names, never imports)."""
    from . import adapter, multitask, slices  # noqa: F401  (defining them makes them subclasses of EndModel)

    stack = [EndModel]
    while stack:
        klass = stack.pop()
        if klass.__name__ == name and not name.startswith("_"):
            return klass
        stack.extend(klass.__subclasses__())
    raise ValueError(f"estimator: unknown end-model class {name!r}")


def _take(A: Any, idx: np.ndarray) -> Any:
    if hasattr(A, "iloc"):
        return A.iloc[idx].reset_index(drop=True)
    if isinstance(A, np.ndarray):
        return A[idx]
    return [A[i] for i in idx]

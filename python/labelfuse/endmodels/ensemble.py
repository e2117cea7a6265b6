"""Ensembles of end models: the mean of their predicted probabilities."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ._base import _REGISTRY, CONFIG_FILE, FORMAT_NAME, FORMAT_VERSION, EndModel, read_config
from ._checks import as_labels, n_rows_of
from .metrics import score_predictions
from .._saving import version_stamp
from .._validation import NotFittedError, check_number

VARY = ("seed", "dev_split")


class Ensemble:
    """Trains ``n_members`` copies of ``estimator`` and averages their predict_proba.

    vary="seed": member i uses seed ``seed + i`` and the whole dev set.
    vary="dev_split": member i also early-stops on its own random ``dev_fraction`` of the dev set (the members
    disagree on which epoch is best, which decorrelates them more than seeds alone).
    ``Ensemble.from_models(models)`` wraps models that are already trained.
    """

    def __init__(
        self,
        estimator: Optional[EndModel] = None,
        n_members: int = 5,
        vary: str = "seed",
        dev_fraction: float = 0.8,
        seed: int = 0,
    ):
        self.estimator = estimator
        self.n_members = n_members
        self.vary = vary
        self.dev_fraction = dev_fraction
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("estimator", "n_members", "vary", "dev_fraction", "seed")}

    def set_params(self, **params: Any) -> "Ensemble":
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"{k}: not a parameter of Ensemble")
            setattr(self, k, v)
        return self

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
        if self.estimator is None or isinstance(self.estimator, type) or not hasattr(self.estimator, "get_params"):
            raise TypeError(f"estimator: expected an end model instance (e.g. Adapter(...)), got {self.estimator!r}")
        if isinstance(self.n_members, bool) or not isinstance(self.n_members, (int, np.integer)) or self.n_members < 1:
            raise ValueError(f"n_members: expected a positive int, got {self.n_members!r}")
        if self.vary not in VARY:
            raise ValueError(f"vary: expected one of {VARY}, got {self.vary!r}")
        if self.vary == "dev_split":  # checked here: the split below indexes X_dev and Y_dev
            if X_dev is None or Y_dev is None:
                raise ValueError("X_dev, Y_dev: vary='dev_split' needs a labeled dev set")
            if not 0 < check_number(self.dev_fraction, "dev_fraction") <= 1:
                raise ValueError(f"dev_fraction: expected a fraction in (0, 1], got {self.dev_fraction!r}")
            n_dev = n_rows_of(X_dev, "X_dev")
            if n_dev == 0:
                raise ValueError("X_dev: vary='dev_split' needs dev rows to split")
            if np.ndim(Y_dev) != 1 or len(Y_dev) != n_dev:
                raise ValueError(f"Y_dev: expected {n_dev} labels (one per row of X_dev), got shape "
                                 f"{np.shape(Y_dev)}")
        self.__dict__.pop("members_", None)  # a failed fit leaves no (partly) fitted ensemble
        rng = np.random.default_rng(self.seed)
        members = []
        for i in range(int(self.n_members)):
            params = self.estimator.get_params()
            params["seed"] = int(self.seed) + i
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
        if not hasattr(self, "members_"):
            raise NotFittedError("Ensemble is not fitted yet: call fit or use Ensemble.from_models")
        probs = [m.predict_proba(X, *args, **kwargs) for m in self.members_]
        shapes = {p.shape for p in probs}
        if len(shapes) != 1:
            raise ValueError(f"members disagree on the output shape: {sorted(shapes)}")
        return np.mean(probs, axis=0)

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.predict_proba(X, *args, **kwargs).argmax(axis=1)

    def score(self, X: Any, Y: Any, *args: Any, metric: str = "accuracy", **kwargs: Any) -> float:
        return score_predictions(self.predict_proba(X, *args, **kwargs), Y, metric)

    def save(self, path: "str | os.PathLike") -> Path:
        """``path/config.json`` listing the members, each saved in ``path/member_<i>/``."""
        if not hasattr(self, "members_"):
            raise NotFittedError("Ensemble is not fitted yet: call fit or use Ensemble.from_models")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        names = []
        for i, m in enumerate(self.members_):
            if not isinstance(m, EndModel):
                raise TypeError(f"members: only labelfuse end models can be saved, member {i} is {type(m).__name__}")
            m.save(path / f"member_{i}")
            names.append(f"member_{i}")
        config = {"format": FORMAT_NAME, **version_stamp(FORMAT_VERSION), "class": "Ensemble", "members": names}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: "str | os.PathLike", device: Any = "auto", input_module: Any = None) -> "Ensemble":
        path = Path(path)
        config = read_config(path)
        if config["class"] != "Ensemble":
            raise ValueError(f"path: {path} holds a {config['class']!r}, not an Ensemble")
        members = [load_model(path / name, device=device, input_module=input_module) for name in config["members"]]
        return cls.from_models(members)


def load_model(path: "str | os.PathLike", device: Any = "auto", input_module: Any = None) -> Any:
    """Load any saved end model or ensemble; the class comes from the file's config (from a fixed registry)."""
    from . import adapter, multitask, slices  # noqa: F401  (importing them registers their classes)

    config = read_config(Path(path))
    if config["class"] == "Ensemble":
        return Ensemble.load(path, device=device, input_module=input_module)
    klass = _REGISTRY.get(config["class"])
    if klass is None:
        raise ValueError(f"path: unknown end-model class {config['class']!r} in {path}")
    return klass.load(path, device=device, input_module=input_module)


def _take(A: Any, idx: np.ndarray) -> Any:
    if hasattr(A, "iloc"):
        return A.iloc[idx].reset_index(drop=True)
    if isinstance(A, np.ndarray):
        return A[idx]
    return [A[i] for i in idx]

"""Adapter: an MLP on fixed embeddings trained on probabilistic labels (the Liger paper's WS-Adapter baseline)."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ._base import EndModel
from .._base import DEPRECATED
from ._checks import as_soft_labels, n_rows_of
from ._networks import HeadSpec

HEAD = "y"


class Adapter(EndModel):
    """MLP on fixed features (e.g. sentence embeddings) trained with soft-label cross-entropy.

    Parameters
    ----------
    hidden: widths of the hidden ReLU layers; () is a linear (softmax-regression) model. The default (256,)
        beat a linear head by 1-3 points on every WRENCH set of bench/compare_endmodel_vs_labels.py.
    dropout: dropout after each hidden layer.
    lr, weight_decay: Adam settings.
    batch_size, max_epochs: the schedule; every labeled row is seen once per epoch. 256 rows with lr 2e-3 match
        the accuracy of 64 rows with lr 1e-3 at a quarter of the optimiser steps.
    patience: with a dev set, stop after this many epochs without a better dev metric (None: run all epochs);
        the weights of the best dev epoch are kept either way.
    dev_metric: "accuracy", "f1" (binary, class 1 positive) or "macro_f1".
    confidence_weighted: weight each row by 1 - normalised entropy of its label (uniform rows weigh 0).
    exclude_uniform: leave rows whose label is exactly uniform (no LF signal) out of the loss.
    device: "auto" (CUDA when present), "cpu", "cuda", "cuda:N".
    mixed_precision: "auto"/True: float16 autocast + GradScaler on CUDA; CPU always trains in float32.
    random_state: seeds weight init, dropout and shuffling (an int >= 0, or None for a fresh seed, kept in
        ``seed_``); the same seed gives identical weights on CPU.
    n_threads: torch threads for fit/predict, restored afterwards: "auto" (one thread on the CPU for a network
        too small to gain from more, torch's setting otherwise), None (torch's current setting), -1 (all cores).
    progress: show a tqdm bar with the running loss and dev metric.
    seed: deprecated alias of ``random_state``.

    Example::

        clf = Adapter(hidden=(64,), random_state=0).fit(X, P, X_dev, Y_dev)
        clf.predict_proba(X_test)
        clf.save("adapter.lf"); Adapter.load("adapter.lf", device="cpu")
    """

    def __init__(
        self,
        hidden: Sequence[int] = (256,),
        dropout: float = 0.1,
        lr: float = 2e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        max_epochs: int = 100,
        patience: Optional[int] = 10,
        dev_metric: str = "accuracy",
        confidence_weighted: bool = False,
        exclude_uniform: bool = True,
        device: Any = "auto",
        mixed_precision: Any = "auto",
        random_state: Optional[int] = None,
        n_threads: Any = "auto",
        progress: bool = True,
        seed: Any = DEPRECATED,
    ):
        self._store_params(locals())

    def fit(
        self,
        X: Any,
        P: Any,
        X_dev: Any = None,
        Y_dev: Any = None,
        mask: Any = None,
        sample_weight: Any = None,
    ) -> "Adapter":
        """Train on features X (n, d) and probabilistic labels P (n, k) (or hard labels, -1 = none).

        mask: optional bool (n,), False = leave the row out (e.g. rows where every LF abstained).
        sample_weight: optional non-negative (n,) weights, multiplied into the loss.
        """
        self._drop_fitted()
        n = n_rows_of(X)
        P, has_label = as_soft_labels(P, n, name="P")
        self.n_classes_ = P.shape[1]
        seen: dict = {}
        weight = self._row_weights(P, has_label, n, mask, sample_weight, seen)
        return self._fit_targets(X, {HEAD: (P, weight)}, X_dev, Y_dev, seen=seen)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) class probabilities; rows sum to 1."""
        return self._head_probs(X)[HEAD]

    def _head_specs(self, n_layers: int) -> list[HeadSpec]:
        return [HeadSpec(HEAD, self.n_classes_, n_layers)]

    def _end_probs(self, head_probs: dict[str, np.ndarray], context: Any) -> np.ndarray:
        return head_probs[HEAD]

    def _fitted_config(self) -> dict[str, Any]:
        return {"n_classes_": self.n_classes_, "n_features_in_": self.n_features_in_}

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        self.n_classes_ = int(fitted["n_classes_"])
        self.n_features_in_ = int(fitted["n_features_in_"])

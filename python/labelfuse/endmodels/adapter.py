"""Adapter: an MLP on fixed embeddings trained on probabilistic labels (the Liger paper's WS-Adapter baseline)."""
from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import head_selection
from ._base import EndModel
from ._checks import as_labels, as_soft_labels, n_rows_of
from ._networks import HeadSpec
from ._training import predict_head_probs
from .metrics import metric_function
from .._base import DEPRECATED, Interval, Options, SequenceOf
from ..diagnostics import MethodWarning

HEAD = "y"


class Adapter(EndModel):
    """MLP on fixed features (e.g. sentence embeddings) trained with soft-label cross-entropy.

    Parameters
    ----------
    hidden: widths of the hidden ReLU layers; () is a linear (softmax-regression) model. The default (256,) beat a
        linear head by 1-3 points on every WRENCH set of bench/compare_endmodel_vs_labels.py. "auto": with a dev
        set, choose among a linear head (at 5 x ``lr``) and one hidden layer of 256, each with weight decay 1e-3 or
        ``weight_decay``, by repeated 5-fold cross-validation of early stopping over the dev rows and the
        one-standard-error rule toward the simpler head (labelfuse.endmodels.head_selection; the scores are in
        ``selection_``); without one, (256,). Not the default: on the WRENCH sets it scored 0.4-1.9 points below
        the fixed (256,) on test (the dev rows rarely separate the heads, and the rule then picks the linear one).
        The head used is in ``hidden_``, its weight decay in ``weight_decay_``.
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

    With a dev set, ``dev_score_`` is the cross-validated dev score of the fitted head (early stopping picked on
    the other dev rows); given the training labels' posteriors on the dev rows (``P_dev``), a fit whose end model
    does not beat those labels on dev emits a MethodWarning naming both scores.

    Example::

        clf = Adapter(hidden="auto", random_state=0).fit(X, P, X_dev, Y_dev, P_dev=P_dev)  # head chosen on dev
        clf.hidden_, clf.dev_score_
        clf.predict_proba(X_test)
        clf.save("adapter.lf"); Adapter.load("adapter.lf", device="cpu")
    """

    _parameter_constraints = {
        **EndModel._parameter_constraints,
        "hidden": [Options("auto"), SequenceOf(Interval(int, 1, None), min_len=0)],
    }

    def __init__(
        self,
        hidden: Union[str, Sequence[int]] = (256,),
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
        P_dev: Any = None,
    ) -> "Adapter":
        """Train on features X (n, d) and probabilistic labels P (n, k) (or hard labels, -1 = none).

        mask: optional bool (n,), False = leave the row out (e.g. rows where every LF abstained).
        sample_weight: optional non-negative (n,) weights, multiplied into the loss.
        P_dev: optional (n_dev, k) posteriors of the same label source on the dev rows: the fit warns when the end
            model does not beat their argmax on dev.
        """
        self._drop_fitted()
        n = n_rows_of(X)
        P, has_label = as_soft_labels(P, n, name="P")
        self.n_classes_ = P.shape[1]
        seen: dict = {}
        weight = self._row_weights(P, has_label, n, mask, sample_weight, seen)
        labels_dev = self._labels_dev_score(P_dev, X_dev, Y_dev)
        if X_dev is None or Y_dev is None:  # no dev set (_fit_targets refuses half of one)
            self.hidden_ = head_selection.DEFAULT_HIDDEN if self.hidden == "auto" else tuple(self.hidden)
            self.weight_decay_ = float(self.weight_decay)
            return self._fit_targets(X, {HEAD: (P, weight)}, X_dev, Y_dev, seen=seen)
        if self.hidden == "auto":
            grid = head_selection.candidate_grid()
            grid = [head_selection.HeadCandidate(c.hidden, c.weight_decay if c.weight_decay else
                                                 float(self.weight_decay)) for c in grid]
            grid = list(dict.fromkeys(grid))  # weight_decay=1e-3 given: two candidates, not four
        else:
            grid = [head_selection.HeadCandidate(tuple(self.hidden), float(self.weight_decay))]
        y_dev = as_labels(Y_dev, n_rows_of(X_dev, "X_dev"), self.n_classes_, name="Y_dev")
        folds = head_selection.dev_folds(y_dev, self._param("random_state"))
        fits, scores = [], []
        for c in grid:
            self.hidden_, self.weight_decay_ = c.hidden, c.weight_decay
            self.lr_ = c.lr(float(self.lr)) if self.hidden == "auto" else float(self.lr)
            self._epoch_predictions = []
            try:
                self._fit_targets(X, {HEAD: (P, weight)}, X_dev, Y_dev, seen=seen)
                metric = metric_function(self.dev_metric, self.n_classes_)
                scores.append(head_selection.cross_validated_scores(self._epoch_predictions, y_dev, metric, folds))
            finally:
                del self._epoch_predictions
            fits.append({k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")})
        rule = head_selection.choose(grid, np.stack(scores), y_dev.shape[0])
        vars(self).update(fits[rule["chosen"]])
        self.dev_score_ = float(rule["mean"][rule["chosen"]])
        self.selection_ = {"chosen": grid[rule["chosen"]].name, "best": grid[rule["best"]].name,
                           "standard_error": rule["standard_error"], "table": rule["table"]}
        if labels_dev is not None and not self.dev_score_ > labels_dev:
            warnings.warn(
                f"Adapter: on the dev rows the end model ({grid[rule['chosen']].name}) scores {self.dev_score_:.3f} "
                f"{self.dev_metric} (cross-validated early stopping), not above its training labels' "
                f"{labels_dev:.3f}; the label model's own predictions may serve better", MethodWarning, stacklevel=2)
        return self

    def _labels_dev_score(self, P_dev: Any, X_dev: Any, Y_dev: Any) -> Optional[float]:
        """The dev metric of the training labels' argmax on the dev rows, or None without P_dev."""
        if P_dev is None:
            return None
        if X_dev is None or Y_dev is None:
            raise ValueError("P_dev: needs the labeled dev set it describes (X_dev and Y_dev)")
        n_dev = n_rows_of(X_dev, "X_dev")
        P_dev, _ = as_soft_labels(P_dev, n_dev, name="P_dev")
        if P_dev.shape[1] != self.n_classes_:
            raise ValueError(f"P_dev: has {P_dev.shape[1]} classes, P has {self.n_classes_}")
        y_dev = as_labels(Y_dev, n_dev, self.n_classes_, name="Y_dev")
        return float(metric_function(self.dev_metric, self.n_classes_)(y_dev, P_dev.argmax(axis=1)))

    def _dev_scorer(self, net, dev, dev_context, amp):
        """The dev metric after each epoch; during a fit on dev, the epoch's dev predictions are also recorded
        (head_selection cross-validates early stopping over them)."""
        dev_inputs, y_dev, metric = dev
        record = getattr(self, "_epoch_predictions", None)

        def dev_score() -> float:
            pred = self._end_probs(predict_head_probs(net, dev_inputs, None, self.device_, amp), dev_context)
            pred = pred.argmax(axis=1)
            if record is not None:
                record.append(pred)
            return metric(y_dev, pred)

        return dev_score

    def _network_hidden(self) -> tuple:
        return tuple(self.hidden_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) class probabilities; rows sum to 1."""
        return self._head_probs(X)[HEAD]

    def _head_specs(self, n_layers: int) -> list[HeadSpec]:
        return [HeadSpec(HEAD, self.n_classes_, n_layers)]

    def _end_probs(self, head_probs: dict[str, np.ndarray], context: Any) -> np.ndarray:
        return head_probs[HEAD]

    def _fitted_config(self) -> dict[str, Any]:
        return {"n_classes_": self.n_classes_, "n_features_in_": self.n_features_in_,
                "hidden_": list(self.hidden_), "weight_decay_": self.weight_decay_}

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        self.n_classes_ = int(fitted["n_classes_"])
        self.n_features_in_ = int(fitted["n_features_in_"])
        # files written before the head was chosen at fit hold only the hidden parameter
        self.hidden_ = tuple(int(h) for h in fitted.get("hidden_", self.hidden))
        self.weight_decay_ = float(fitted.get("weight_decay_", self.weight_decay))

"""Choosing the Adapter's head and weight decay on a small labeled dev set without overfitting it.

Each candidate is trained once on the weak labels of the training rows (the dev rows are not training data; they only
pick the epoch). Its argmax predictions on the dev rows are recorded after every epoch, so a repeated stratified
k-fold over the dev rows costs no retraining: on each fold the epoch is picked on the other dev rows and scored on the
held-out ones. That score estimates "this head + early stopping on dev" honestly, and the choice follows the same
one-standard-error rule as label-model selection (labelfuse.selection): the simplest candidate within one standard
error of the best wins (a linear head before an MLP, more weight decay before less)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..selection import one_standard_error, repeated_folds

#: The grid of ``Adapter(hidden="auto")``: kept small so the selection costs four training runs.
HIDDEN_GRID = ((), (256,))
WEIGHT_DECAY_GRID = (1e-3, 0.0)
#: The head used when there is no dev set to choose with (an MLP was 1-3 points better on every WRENCH set).
DEFAULT_HIDDEN = (256,)
N_SPLITS, N_REPEATS = 5, 5
#: A linear head trains with this multiple of the Adapter's lr: a convex model tolerates the larger step, and at the
#: MLP's step it is still far from converged when the epoch budget or early stopping ends it.
LINEAR_LR_SCALE = 5.0


@dataclass(frozen=True)
class HeadCandidate:
    hidden: tuple
    weight_decay: float

    @property
    def name(self) -> str:
        head = "linear" if not self.hidden else f"MLP{list(self.hidden)}"
        return f"{head}, weight decay {self.weight_decay:g}"

    def lr(self, base: float) -> float:
        return base * (LINEAR_LR_SCALE if not self.hidden else 1.0)

    def complexity(self) -> tuple:
        return (len(self.hidden), sum(self.hidden), -self.weight_decay)


def candidate_grid() -> list[HeadCandidate]:
    return [HeadCandidate(h, wd) for h in HIDDEN_GRID for wd in WEIGHT_DECAY_GRID]


def cross_validated_scores(epoch_predictions: Sequence[np.ndarray], y_dev: np.ndarray,
                           metric: Callable[[np.ndarray, np.ndarray], float], folds: Sequence[np.ndarray]
                           ) -> np.ndarray:
    """Score per held-out fold of early stopping on the other dev rows: ``epoch_predictions`` holds the (n_dev,)
    argmax predictions after each epoch; on each fold the first epoch with the best score on the other rows is
    taken and scored on the held-out rows."""
    preds = np.stack([np.asarray(p) for p in epoch_predictions])
    everything = np.arange(y_dev.shape[0])
    out = np.empty(len(folds))
    for f, held in enumerate(folds):
        rest = np.setdiff1d(everything, held, assume_unique=True)
        on_rest = [metric(y_dev[rest], p[rest]) for p in preds]
        epoch = int(np.nanargmax(on_rest)) if not np.all(np.isnan(on_rest)) else len(preds) - 1
        out[f] = metric(y_dev[held], preds[epoch, held])
    return out


def dev_folds(y_dev: np.ndarray, random_state: Any) -> list[np.ndarray]:
    return repeated_folds(y_dev, N_SPLITS, N_REPEATS, random_state)


def choose(candidates: Sequence[HeadCandidate], fold_scores: np.ndarray, n_dev: int) -> dict[str, Any]:
    """The one-standard-error choice (labelfuse.selection.one_standard_error) plus a printable table."""
    rule = one_standard_error(candidates, fold_scores, max(2, min(N_SPLITS, n_dev)))
    table = {c.name: float(m) for c, m in zip(candidates, rule["mean"])}
    return {**rule, "table": table}

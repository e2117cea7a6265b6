"""Slice-aware end model: a base head for every row plus one head per slice, trained only on the slice's members,
all reading the shared representation. Per-slice metrics come out as a pandas DataFrame."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from ._base import EndModel
from .._base import DEPRECATED
from ._checks import as_labels, as_membership, as_soft_labels, n_rows_of
from ._networks import HeadSpec
from .metrics import accuracy, macro_f1

BASE = "base"
PREFIX = "slice:"


class SliceClassifier(EndModel):
    """Multi-class classifier with slice heads.

    Training: the base head learns from every labeled row; the head of slice j only from rows in slice j (its loss
    weight is 0 elsewhere, so non-members give it no gradient); all heads share the trunk, so the slices also shape
    the shared representation. Prediction: a row's probabilities are the mean of the base head's and the heads of
    the slices it belongs to (membership is computed on new data with the same slicing functions).

    Parameters as for Adapter, with ``hidden`` the shared trunk and ``schedule``/``finetune_epochs`` as for the
    multi-task models.

    Args:
        hidden, dropout, lr, weight_decay, batch_size, max_epochs, patience, dev_metric, confidence_weighted,
            exclude_uniform, device, mixed_precision, random_state, n_threads, progress: as for
            :class:`labelfuse.endmodels.Adapter` (``hidden`` is the shared trunk).
        schedule, finetune_epochs: as for the multi-task models.
        seed: deprecated name of ``random_state``.

    Example::

        from labelfuse.labeling import apply_slicing_functions, slicing_function

        @slicing_function()
        def short(x):
            return len(x.text) < 40

        clf = SliceClassifier(random_state=0).fit(X, P, apply_slicing_functions([short], df_train))
        clf.predict_proba(X_test, apply_slicing_functions([short], df_test))
        clf.slice_report(X_test, Y_test, apply_slicing_functions([short], df_test))   # overall + per slice
    """

    def __init__(
        self,
        hidden: Sequence[int] = (256,),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: Optional[int] = 10,
        schedule: str = "mmtl",
        finetune_epochs: int = 0,
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
        S: Any,
        X_dev: Any = None,
        Y_dev: Any = None,
        S_dev: Any = None,
        mask: Any = None,
        sample_weight: Any = None,
    ) -> "SliceClassifier":
        """X (n, d) features, P (n, k) soft labels, S (n, n_slices) bool membership (a DataFrame from
        apply_slicing_functions names the slices). With a dev set, S_dev gives the dev rows' membership."""
        self._drop_fitted()
        n = n_rows_of(X)
        P, has_label = as_soft_labels(P, n, name="P")
        member, names = as_membership(S, n, name="S")
        names = names or [f"slice{j}" for j in range(member.shape[1])]
        bad = [s for s in names if not s or "." in s]
        if bad or len(set(names)) != len(names):
            raise ValueError(f"S: slice names must be unique, non-empty and without '.', got {names}")
        self.n_classes_ = P.shape[1]
        self.slice_names_ = names
        seen: dict = {}
        weight = self._row_weights(P, has_label, n, mask, sample_weight, seen)
        targets = {BASE: (P, weight)}
        for j, name in enumerate(names):
            targets[PREFIX + name] = (P, weight * member[:, j])
        self.slice_sizes_ = {name: int((targets[PREFIX + name][1] > 0).sum()) for name in names}
        dev_member = None
        if S_dev is not None and X_dev is None:
            raise ValueError("S_dev: given without X_dev (the dev rows it describes)")
        if X_dev is not None:
            if S_dev is None and names:
                raise ValueError("S_dev: give the dev rows' slice membership along with X_dev")
            n_dev = n_rows_of(X_dev, "X_dev")
            dev_member = np.zeros((n_dev, 0), bool) if S_dev is None else self._membership(S_dev, n_dev, "S_dev")
        return self._fit_targets(X, targets, X_dev, Y_dev, dev_context=dev_member, seen=seen)

    def _membership(self, S: Any, n: int, name: str = "S") -> np.ndarray:
        """Membership of new rows in the fitted slices. Columns are matched by position; a DataFrame's column names
        must then be the fitted slice names in the fitted order (a reordered frame would feed each row to the wrong
        slice heads without any error)."""
        if S is None:
            if self.slice_names_:
                raise ValueError(f"{name}: slice membership of these rows is needed (the model has slice heads)")
            return np.zeros((n, 0), bool)
        member, names = as_membership(S, n, name=name)
        if member.shape[1] != len(self.slice_names_):
            raise ValueError(
                f"{name}: expected {len(self.slice_names_)} slice columns (as in fit), got {member.shape[1]}"
            )
        if names is not None and names != list(self.slice_names_):
            raise ValueError(f"{name}: columns {names} are not the fitted slices {list(self.slice_names_)} "
                             "(in that order)")
        return member

    def predict_proba(self, X: Any, S: Any = None) -> np.ndarray:
        """(n, k) probabilities: mean of the base head and the heads of the slices each row belongs to."""
        heads = self._head_probs(X)
        return self._end_probs(heads, self._membership(S, heads[BASE].shape[0]))

    def predict_head_proba(self, X: Any) -> dict[str, np.ndarray]:
        """Every head's probabilities on every row: {"base": ..., "slice:<name>": ...}."""
        return self._head_probs(X)

    def _end_probs(self, head_probs: dict[str, np.ndarray], member: Any) -> np.ndarray:
        total = head_probs[BASE].copy()
        count = np.ones(total.shape[0])
        for j, name in enumerate(self.slice_names_):
            if self.slice_sizes_.get(name, 0) == 0:  # an untrained head says nothing
                continue
            in_slice = member[:, j]
            total[in_slice] += head_probs[PREFIX + name][in_slice]
            count += in_slice
        return total / count[:, None]

    def slice_report(self, X: Any, Y: Any, S: Any) -> pd.DataFrame:
        """Per-slice metrics next to the overall ones: one row for "overall" and one per slice, with the number of
        rows, accuracy and macro-F1 of the model, and of the base head alone (what the slice heads add)."""
        heads = self._head_probs(X)
        n = heads[BASE].shape[0]
        member = self._membership(S, n)
        y = as_labels(Y, n, self.n_classes_, name="Y")
        full = self._end_probs(heads, member).argmax(axis=1)
        base = heads[BASE].argmax(axis=1)
        rows = []
        for name, rows_in in [("overall", np.ones(n, bool))] + [
            (s, member[:, j]) for j, s in enumerate(self.slice_names_)
        ]:
            yt = y[rows_in]
            empty = not rows_in.any()  # a slice nobody falls in has no score (NaN), not an error
            rows.append(
                {
                    "slice": name,
                    "n": int(rows_in.sum()),
                    "accuracy": np.nan if empty else accuracy(yt, full[rows_in]),
                    "macro_f1": np.nan if empty else macro_f1(yt, full[rows_in], self.n_classes_),
                    "base_accuracy": np.nan if empty else accuracy(yt, base[rows_in]),
                    "base_macro_f1": np.nan if empty else macro_f1(yt, base[rows_in], self.n_classes_),
                }
            )
        return pd.DataFrame(rows).set_index("slice")

    def _head_specs(self, n_layers: int) -> list[HeadSpec]:
        return [HeadSpec(BASE, self.n_classes_, n_layers)] + [
            HeadSpec(PREFIX + s, self.n_classes_, n_layers) for s in self.slice_names_
        ]

    def _fitted_config(self) -> dict[str, Any]:
        return {
            "n_classes_": self.n_classes_,
            "n_features_in_": self.n_features_in_,
            "slice_names_": self.slice_names_,
            "slice_sizes_": self.slice_sizes_,
        }

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        self.n_classes_ = int(fitted["n_classes_"])
        self.n_features_in_ = int(fitted["n_features_in_"])
        self.slice_names_ = list(fitted["slice_names_"])
        self.slice_sizes_ = {k: int(v) for k, v in fitted["slice_sizes_"].items()}

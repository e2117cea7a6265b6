"""Multi-task end models after Snorkel MeTaL: SingleTask, FlatMTL and HierMTL, built from a task tree."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ._base import EndModel
from .._base import DEPRECATED
from ._checks import as_soft_labels, n_rows_of
from ._networks import HeadSpec, heads_for
from .tasks import as_task_tree, end_labels_from_tasks, restore_task_graph

_DOC_EXAMPLE = """
    Example::

        tasks = {"coarse": {"cardinality": 2, "parent": None},
                 "fine": {"cardinality": 2, "parent": ("coarse", 1)}}
        net = HierMTL(tasks, max_epochs=5, random_state=0).fit(X, P_end)   # or SingleTask / FlatMTL
        net.predict_proba(X)         # (n, 3) over the end labels
        net.predict_task_proba(X)    # {"coarse": (n, 2), "fine": (n, 2)}
        net.save("mtl.lf")
"""

_DOC_PARAMS = """
    Parameters
    ----------
    tasks: a labelfuse.hierarchy.TaskGraph or its description {task: {"cardinality": k, "parent": (parent_task,
        parent_label) or None}} (see labelfuse.endmodels.tasks). A single task is fine.
    input_module: any torch.nn.Module mapping a batch of inputs to features (None: identity on precomputed
        features). Its weights train with the rest; set ``accepts_raw_inputs = True`` on it to receive raw batches
        (e.g. lists of texts) instead of float tensors.
    hidden: widths of the intermediate ReLU layers (MeTaL's 250, 50 by default).
    schedule: "mmtl" (each task's rows in its own batches, all tasks' batches shuffled together, so each
        (row, task) pair is seen once per epoch) or "joint" (every task's loss on each batch of rows).
    finetune_epochs: after the joint stage, fine-tune each task head alone (rest frozen) for this many epochs.
    Other parameters as for Adapter (dropout, lr, weight_decay, batch_size, max_epochs, patience, dev_metric,
    confidence_weighted, exclude_uniform, device, mixed_precision, random_state, n_threads, progress; seed is a
    deprecated alias of random_state).
"""


class _MultiTask(EndModel):
    architecture = "flat"

    def __init__(
        self,
        tasks: Any,
        input_module: Any = None,
        hidden: Sequence[int] = (250, 50),
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 50,
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

    # ---- fitting -------------------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        P: Any,
        X_dev: Any = None,
        Y_dev: Any = None,
        mask: Any = None,
        sample_weight: Any = None,
    ):
        """Train on inputs X and labels P.

        P: end-label soft labels (n, n_end_labels) — per-task targets are derived from them, each task's loss
        weighted by the probability that the task applies — or a dict {task: (n, k_task) soft labels or hard
        labels}, where an all-NaN row (or -1) marks "not applicable / no label" for that task.
        Y_dev: end labels (0..n_end_labels-1) of the dev rows, for early stopping and model selection.
        mask, sample_weight: as for Adapter, applied to every task.
        """
        self._drop_fitted()
        self.tree_ = as_task_tree(self.tasks)
        self.n_classes_ = self.tree_.n_end_labels
        n = n_rows_of(X)
        seen: dict = {}
        targets = self._targets(P, n, mask, sample_weight, seen)
        return self._fit_targets(X, targets, X_dev, Y_dev, seen=seen)

    def _targets(
        self, P: Any, n: int, mask: Any, sample_weight: Any, seen: Optional[dict] = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        tree = self.tree_
        if isinstance(P, Mapping):
            if self.architecture == "single":
                P_end, has, informative = end_labels_from_tasks(tree, P, n, with_informative=True)
                if self.exclude_uniform or self.confidence_weighted:
                    # uniform task labels make a non-uniform end-label row: still no signal (and no confidence)
                    has = has & informative
                return {tree.root: (P_end, self._row_weights(P_end, has, n, mask, sample_weight, seen))}
            unknown = set(P) - set(tree.tasks)
            if unknown:
                raise ValueError(f"P: tasks {sorted(unknown)} are not in the task tree ({sorted(tree.tasks)})")
            out = {}
            for task in tree.tasks:
                k = tree.cardinality(task)
                if task in P:
                    probs, has = as_soft_labels(P[task], n, k, name=f"P[{task!r}]")
                    out[task] = (probs, self._row_weights(probs, has, n, mask, sample_weight, seen))
                else:
                    out[task] = (np.full((n, k), 1.0 / k), np.zeros(n))
            return out
        P_end, has = as_soft_labels(P, n, tree.n_end_labels, name="P")
        base = self._row_weights(P_end, has, n, mask, sample_weight, seen)
        if self.architecture == "single":
            return {tree.root: (P_end, base)}
        return {task: (cond, base * applies) for task, (cond, applies) in tree.task_conditionals(P_end).items()}

    # ---- prediction ----------------------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, n_end_labels) end-label probabilities (product of task conditionals along each path)."""
        return self._end_probs(self._head_probs(X), None)

    def predict_task_proba(self, X: Any) -> dict[str, np.ndarray]:
        """{task: (n, k_task)} probabilities of each task's labels given that the task applies."""
        self._check_fitted()  # before tree_ is read
        if self.architecture == "single":
            return {t: c for t, (c, _) in self.tree_.task_conditionals(self.predict_proba(X)).items()}
        return self._head_probs(X)

    def _end_probs(self, head_probs: dict[str, np.ndarray], context: Any) -> np.ndarray:
        if self.architecture == "single":
            return head_probs[self.tree_.root]
        return self.tree_.end_label_probs(head_probs)

    def _head_specs(self, n_layers: int) -> list[HeadSpec]:
        return heads_for(self.tree_, self.architecture, n_layers, getattr(self, "feed", "children"))

    # ---- persistence ---------------------------------------------------------------------------------------
    def _fitted_config(self) -> dict[str, Any]:
        return {
            "tasks": self.tree_.to_dict(),
            "end_label_paths": [[list(step) for step in path] for path in self.tree_.end_label_paths()],
            "n_features_in_": getattr(self, "n_features_in_", None),
        }

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        self.tree_ = restore_task_graph(fitted["tasks"], fitted["end_label_paths"])
        self.n_classes_ = self.tree_.n_end_labels
        if fitted.get("n_features_in_") is not None:
            self.n_features_in_ = int(fitted["n_features_in_"])


class SingleTask(_MultiTask):
    __doc__ = ("One head on the top layer predicting the end label (the tree's leaves) directly.\n" + _DOC_PARAMS
               + _DOC_EXAMPLE)
    architecture = "single"


class FlatMTL(_MultiTask):
    __doc__ = "One head per task, all on the top intermediate layer.\n" + _DOC_PARAMS + _DOC_EXAMPLE
    architecture = "flat"


class HierMTL(_MultiTask):
    __doc__ = (
        "One head per task at the depth of its task (root on the first intermediate layer, deeper tasks higher);\n"
        "each head also reads the softmax outputs of its child tasks' heads (feed='children'), or, as in the\n"
        "MeTaL reference code, of its parent's head (feed='parent').\n" + _DOC_PARAMS + _DOC_EXAMPLE
    )
    architecture = "hier"

    def __init__(
        self,
        tasks: Any,
        input_module: Any = None,
        hidden: Sequence[int] = (250, 50),
        feed: str = "children",
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 50,
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

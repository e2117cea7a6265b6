"""Every data generator: label matrices drawn from the conditionally independent generative model (and its exact
posterior), and votes of LFs written at any level of a task graph (the hierarchical generative model).

Used by the tests (recovery of known parameters) and the benchmarks (scaling curves). The model: y ~ Cat(prior);
LF j votes with probability ``coverage[j]`` independently of y, and when it votes it is right with probability
``accuracy[j]``, otherwise it picks one of the other k-1 classes uniformly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ._validation import check_cardinality, check_count

if TYPE_CHECKING:
    from .hierarchy.graph import TaskGraph

__all__ = ["SyntheticLabels", "make_label_matrix", "conditional_table", "bayes_posterior", "HierarchicalVotes",
           "make_hierarchical_votes"]


@dataclass
class SyntheticLabels:
    L: np.ndarray            # (n, m) int8, -1 = abstain
    Y: np.ndarray            # (n,) int64 true classes
    accuracy: np.ndarray     # (m,) P(vote = y | votes)
    coverage: np.ndarray     # (m,) P(votes)
    class_balance: np.ndarray  # (k,)
    cpt: np.ndarray          # (m, k+1, k): P(lambda_j = c | y), vote axis 0 = abstain

    @property
    def cardinality(self) -> int:
        return int(self.class_balance.shape[0])


MAX_CARDINALITY = 2**15


def _probabilities(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected numbers in [0, 1], got {values!r}") from None
    if not np.all((arr >= 0) & (arr <= 1)):  # also false for NaN
        raise ValueError(f"{name}: expected numbers in [0, 1], got {arr}")
    return arr


def conditional_table(accuracy: np.ndarray, coverage: np.ndarray, cardinality: int) -> np.ndarray:
    """P(lambda_j = c | y) as an (m, k+1, k) array; index 0 of the vote axis is the abstention."""
    acc = np.asarray(accuracy, dtype=np.float64)
    cov = np.asarray(coverage, dtype=np.float64)
    m, k = acc.shape[0], cardinality
    cpt = np.empty((m, k + 1, k))
    cpt[:, 0, :] = (1.0 - cov)[:, None]
    wrong = cov * (1.0 - acc) / (k - 1)
    cpt[:, 1:, :] = wrong[:, None, None]
    idx = np.arange(k)
    cpt[:, 1 + idx, idx] = (cov * acc)[:, None]
    return cpt


def make_label_matrix(
    n: int,
    m: int = 10,
    cardinality: int = 2,
    *,
    accuracy: Union[Sequence[float], tuple] = (0.55, 0.95),
    coverage: Union[Sequence[float], tuple] = (0.05, 0.6),
    class_balance: Optional[Sequence[float]] = None,
    random_state: Any = 0,
) -> SyntheticLabels:
    """Draw (L, Y) from the generative model.

    ``accuracy`` and ``coverage`` are either m values or a (low, high) range sampled uniformly per LF.
    """
    n, m = check_count(n, "n", 0), check_count(m, "m", 1)
    k = check_cardinality(cardinality)
    if k > MAX_CARDINALITY:  # the votes are int32, and the tables (m, k+1, k) would not fit anyway
        raise ValueError(f"cardinality: at most {MAX_CARDINALITY} classes, got {k}")
    rng = np.random.default_rng(random_state)

    def per_lf(spec, name):
        spec = _probabilities(spec, name)
        if spec.shape == (m,):
            return spec
        if spec.shape == (2,):
            if spec[0] > spec[1]:
                raise ValueError(f"{name}: a (low, high) range needs low <= high, got {tuple(spec)}")
            return rng.uniform(spec[0], spec[1], size=m)
        raise ValueError(f"{name}: expected {m} values or a (low, high) pair, got shape {spec.shape}")

    acc, cov = per_lf(accuracy, "accuracy"), per_lf(coverage, "coverage")
    prior = np.full(k, 1.0 / k) if class_balance is None else _probabilities(class_balance, "class_balance")
    if prior.shape != (k,) or not np.isclose(prior.sum(), 1.0):
        raise ValueError(f"class_balance: expected {k} non-negative values summing to 1")
    Y = rng.choice(k, size=n, p=prior).astype(np.int64)
    votes = rng.random((n, m)) < cov
    right = rng.random((n, m)) < acc
    # a wrong vote is y + s (mod k) for a uniform shift s in 1..k-1
    shift = rng.integers(1, k, size=(n, m))
    lab = np.where(right, Y[:, None], (Y[:, None] + shift) % k)
    L = np.where(votes, lab, -1).astype(np.int8 if k <= 127 else np.int32)
    return SyntheticLabels(L, Y, acc, cov, prior, conditional_table(acc, cov, k))


def bayes_posterior(L: np.ndarray, cpt: np.ndarray, class_balance: np.ndarray) -> np.ndarray:
    """Exact p(y | votes) under conditional independence, in plain numpy (the slow reference)."""
    L = np.asarray(L)
    cpt = np.asarray(cpt, dtype=np.float64)
    logp = np.log(np.asarray(class_balance, dtype=np.float64))[None, :].repeat(L.shape[0], axis=0)
    for j in range(L.shape[1]):
        logp = logp + np.log(cpt[j, L[:, j] + 1, :])
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


class HierarchicalVotes:
    """Votes drawn from the hierarchical generative model, with the truth that produced them."""

    def __init__(self, L: Dict[str, np.ndarray], Y: np.ndarray, tables: List[np.ndarray], lf_tasks: List[str],
                 accuracy: np.ndarray, class_balance: np.ndarray):
        self.L, self.Y, self.tables, self.lf_tasks = L, Y, tables, lf_tasks
        self.accuracy, self.class_balance = accuracy, class_balance


def make_hierarchical_votes(graph: "TaskGraph", n: int, lfs_per_task: int = 4, accuracy=(0.65, 0.9),
                            coverage=(0.3, 0.7), off_path_rate: float = 0.1, class_balance: Optional[np.ndarray] = None,
                            random_state: Any = None) -> HierarchicalVotes:
    """Draw n rows: y from ``class_balance`` (Dirichlet(5) when None), then each LF's vote from its table's column
    for its task's state. An LF votes with its coverage on rows its task applies to, right with its accuracy
    (wrong votes uniform over the other labels), and with ``off_path_rate`` x coverage (uniform labels) on rows it
    does not apply to. accuracy/coverage: (low, high) ranges drawn uniformly per LF.

    Example::

        g = TaskGraph({"coarse": {"cardinality": 2, "parent": None},
                       "fine": {"cardinality": 2, "parent": ("coarse", 1)}})
        votes = make_hierarchical_votes(g, 1000, random_state=0)   # votes.L: {task: (1000, 4) votes}
    """
    from .hierarchy.graph import NOT_APPLICABLE

    g = graph.validate()
    rng = np.random.default_rng(random_state)
    E = g.n_end_labels
    balance = rng.dirichlet(np.full(E, 5.0)) if class_balance is None else np.asarray(class_balance, float)
    Y = rng.choice(E, size=n, p=balance)
    lab = g.end_task_labels  # each task's state on each end label's path: its label, or k_t (not applicable)
    states = {t: np.where(lab[:, i] == NOT_APPLICABLE, g.cardinality(t), lab[:, i]) for i, t in enumerate(g.tasks)}
    L, tables, lf_tasks, accs = {}, [], [], []
    for t in g.tasks:
        k = g.cardinality(t)
        s = states[t][Y]
        cols = []
        for _ in range(lfs_per_task):
            a, c = rng.uniform(*accuracy), rng.uniform(*coverage)
            T = np.zeros((k + 1, k + 1))
            T[0, :k] = 1.0 - c
            T[1:, :k] = c * (1.0 - a) / (k - 1)
            T[1 + np.arange(k), np.arange(k)] = c * a
            T[0, k] = 1.0 - off_path_rate * c
            T[1:, k] = off_path_rate * c / k
            cum = np.cumsum(T, axis=0)[:, s]  # (k + 1, n)
            vote_index = (rng.random(n)[None, :] > cum).sum(axis=0)
            cols.append(np.minimum(vote_index, k) - 1)
            tables.append(T)
            lf_tasks.append(t)
            accs.append(a)
        L[t] = np.stack(cols, axis=1).astype(np.int64)
    return HierarchicalVotes(L, Y, tables, lf_tasks, np.array(accs), balance)

"""Label models over the end labels of a task graph, for LFs written at any level of the tree (Snorkel MeTaL).

Generative model: y ~ class_balance over end labels; LF j belongs to task t_j and, given y, votes from the
column ``tables[j][:, s]`` of its own (k_t + 1) x (k_t + 1) table, where s = t_j's label on y's path or the
"not applicable" state k_t when y's path does not pass through t_j. Table rows: 0 = abstain, v + 1 = vote for task
label v. So an LF's accuracy is conditioned on its task's label only (the table is tied across all end labels
that give its task the same label), which is what makes a vote for a coarse label consistent with every end
label below it.

Estimation (``HierarchicalLabelModel``): EM over end labels with the tied tables, initialised from Soft MV's
posterior. Why EM and not per-task moment fits: the per-task matrix-completion/triplet fits need conditionally
independent LF triples *within each task's active rows*, which a child task with few LFs or low coverage lacks,
and they have no natural place for the "not applicable" state; tied EM uses every LF's votes on every row, gives
the not-applicable behaviour (e.g. a fine-level LF firing on rows of another coarse class) its own column, and its
sufficient statistics are one sparse one-hot product per iteration. Posteriors come from the native kernel
``_core.posterior`` with the tables expanded to end labels.
"""
from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .. import _core
from .graph import NOT_APPLICABLE, TaskGraph, TaskVotes, as_task_votes
from .._params import Params
from .._saving import check_format_version, version_stamp
from .._validation import check_n_threads, check_number
from ..models.base import NotFittedError, check_random_state

__all__ = ["HardMV", "HierarchicalLabelModel", "HierarchicalVotes", "SoftMV", "make_hierarchical_votes",
           "exact_end_posterior"]

_FLOOR = 1e-12
HIERARCHY_FORMAT_VERSION = 1


def _json_scalar(value: Any) -> Any:
    """numpy scalars in fitted values (n_iter_, converged_) as plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


# ---- shared parts ------------------------------------------------------------------------------------------------
class _HierBase(Params):
    """Parameter handling and the per-task views every hierarchical label model shares."""

    def __init__(self, graph: TaskGraph):
        self.graph = graph

    # ---- save / load: a zip of metadata.json + .npy arrays, versioned, no pickle ----------------------------------
    _ARRAYS = ("class_balance_", "accuracy_", "precision_")
    _VALUES = ("lf_tasks_", "n_iter_", "converged_")

    def save(self, path: Union[str, Path]) -> None:
        """Write the model (task graph, hyperparameters, fitted tables) to ``path``."""
        params = {k: v for k, v in self.get_params().items() if k != "graph"}
        meta = {**version_stamp(HIERARCHY_FORMAT_VERSION), "class": type(self).__name__,
                "graph": self._check_graph().to_dict(), "params": params,
                "fitted": {k: getattr(self, k) for k in self._VALUES if hasattr(self, k)},
                "n_tables": len(getattr(self, "tables_", []))}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps(meta, indent=1, default=_json_scalar))
            arrays = {k: getattr(self, k) for k in self._ARRAYS if hasattr(self, k)}
            arrays.update({f"table_{j}": T for j, T in enumerate(getattr(self, "tables_", []))})
            for name, arr in arrays.items():
                with zf.open(f"{name}.npy", "w") as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "_HierBase":
        """Read a model written by :meth:`save` (``HierarchicalLabelModel.load`` reads any of the three)."""
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"path: {path} is not a saved hierarchical model ({exc})") from None
        with zf:
            meta = json.loads(zf.read("metadata.json"))
            check_format_version(meta, HIERARCHY_FORMAT_VERSION, path, "hierarchical model")
            target = {c.__name__: c for c in (HierarchicalLabelModel, SoftMV, HardMV)}.get(meta.get("class"))
            if target is None:
                raise ValueError(f"path: {path} holds an unknown model class {meta.get('class')!r}")
            model = target(TaskGraph(meta["graph"]), **meta["params"])
            for k, v in meta["fitted"].items():
                setattr(model, k, v)
            names = set(zf.namelist())
            for k in cls._ARRAYS:
                if f"{k}.npy" in names:
                    with zf.open(f"{k}.npy") as f:
                        setattr(model, k, np.lib.format.read_array(f, allow_pickle=False))
            if meta.get("n_tables"):
                tables = []
                for j in range(meta["n_tables"]):
                    with zf.open(f"table_{j}.npy") as f:
                        tables.append(np.lib.format.read_array(f, allow_pickle=False))
                model.tables_ = tables
        return model

    def _check_graph(self) -> TaskGraph:
        if not isinstance(self.graph, TaskGraph):
            raise TypeError(f"graph: expected a TaskGraph, got {type(self.graph).__name__}")
        return self.graph.validate()

    def _dev_balance(self, Y_dev: Any, n_end: int) -> Optional[np.ndarray]:
        if Y_dev is None:
            return None
        Y = np.asarray(Y_dev)
        if Y.ndim != 1 or Y.size == 0 or Y.dtype.kind not in "iu" or Y.min() < 0 or Y.max() >= n_end:
            raise ValueError(f"Y_dev: expected a non-empty 1-D array of end labels in 0..{n_end - 1}")
        counts = np.bincount(Y, minlength=n_end).astype(np.float64) + 1.0  # add-one: no end label gets 0
        return counts / counts.sum()

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        """(n, n_end_labels) posterior over end labels; rows sum to 1."""
        raise NotImplementedError

    def predict(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        """End label per row (argmax of the posterior; exact ties go to the smaller end label)."""
        return np.argmax(self.predict_proba(L, lf_tasks), axis=1)

    def predict_task_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """{task: (n, k_t + 1)} marginals: column v = p(task = v), last column = p(not applicable)."""
        return self.graph.task_marginals(self.predict_proba(L, lf_tasks))

    def predict_tasks(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """{task: (n,) label or NOT_APPLICABLE (-1)} read off the predicted end label (consistent with the tree)."""
        table = self.graph.end_task_labels[self.predict(L, lf_tasks)]
        return {t: table[:, i].copy() for i, t in enumerate(self.graph.tasks)}


def _expanded_log_cpt(votes: TaskVotes, tables: List[np.ndarray]) -> np.ndarray:
    """(m, E + 1, E) log P(vote | end label) for ``_core.posterior`` (cardinality E; a task's votes 0..k_t - 1
    sit at rows 1..k_t, k_t <= E always, the unused rows are never read)."""
    g = votes.graph
    E = g.n_end_labels
    cpt = np.full((votes.m, E + 1, E), _FLOOR)
    states = _state_of_end_labels(g)
    for j, (t, T) in enumerate(zip(votes.lf_tasks, tables)):
        k = g.cardinality(t)
        cpt[j, :k + 1, :] = T[:, states[t]]
    return np.ascontiguousarray(np.log(np.clip(cpt, _FLOOR, 1.0)))


def _state_of_end_labels(g: TaskGraph) -> Dict[str, np.ndarray]:
    """{task: (E,) state index}: the task's label on each end label's path, or k_t (not applicable)."""
    lab = g.end_task_labels
    return {t: np.where(lab[:, i] == NOT_APPLICABLE, g.cardinality(t), lab[:, i]) for i, t in enumerate(g.tasks)}


def _posterior(votes: TaskVotes, tables: List[np.ndarray], balance: np.ndarray, n_threads: Any = None) -> np.ndarray:
    log_prior = np.ascontiguousarray(np.log(np.clip(balance, _FLOOR, 1.0)))
    return _core.posterior(votes.L, _expanded_log_cpt(votes, tables), log_prior, votes.graph.n_end_labels,
                           n_threads=n_threads)


def fixed_tables(votes: TaskVotes, accuracy: float) -> List[np.ndarray]:
    """Soft MV's tables: every LF right with probability ``accuracy`` when it votes on rows its task applies to,
    uniform over its labels on rows it does not apply to, and abstaining at one rate everywhere (so abstentions
    carry no evidence)."""
    out = []
    for t in votes.lf_tasks:
        k = votes.graph.cardinality(t)
        T = np.empty((k + 1, k + 1))
        T[0, :] = 0.5
        T[1:, :k] = 0.5 * (1.0 - accuracy) / (k - 1)
        T[1 + np.arange(k), np.arange(k)] = 0.5 * accuracy
        T[1:, k] = 0.5 / k
        out.append(T)
    return out


def _precisions(votes: TaskVotes, tables: List[np.ndarray], balance: np.ndarray) -> np.ndarray:
    """Per LF: P(vote right | the LF votes, its task applies) under the fitted model (for one-sided LFs this is the
    meaningful number; the class-averaged accuracy counts the labels they never vote as wrong)."""
    g = votes.graph
    out = np.empty(votes.m)
    for j, (t, T) in enumerate(zip(votes.lf_tasks, tables)):
        k = g.cardinality(t)
        w = _label_weights(balance @ g.routing_matrix(t)[:, :k])
        out[j] = float(np.diag(T[1:, :k]) @ w / max((1.0 - T[0, :k]) @ w, _FLOOR))
    return out


def _vote_counts(cols: np.ndarray, Q: np.ndarray, width: int, chunk: int = 16384) -> np.ndarray:
    """sum over rows of onehot(cols[i]) outer Q[i]: expected (LF, vote) x end-label counts. Dense one-hot blocks of
    ``chunk`` rows keep memory bounded and let BLAS do the products (scipy is not a dependency)."""
    out = np.zeros((width, Q.shape[1]))
    for start in range(0, cols.shape[0], chunk):
        c = cols[start:start + chunk]
        onehot = np.zeros((c.shape[0], width))
        np.put_along_axis(onehot, c, 1.0, axis=1)
        out += onehot.T @ Q[start:start + chunk]
    return out


def _prior_tables(votes: TaskVotes, accuracy: float) -> List[np.ndarray]:
    """The MAP prior's tables: fixed_tables' votes with each LF's own overall abstain rate."""
    out = []
    for j, T in enumerate(fixed_tables(votes, accuracy)):
        abstain = float((votes.L[:, j] == -1).mean())
        P = T * (2.0 * (1.0 - abstain))  # fixed_tables votes with total mass 0.5 per column
        P[0, :] = abstain
        out.append(P)
    return out


def _normalised_columns(C: np.ndarray) -> np.ndarray:
    """Expected counts -> a table whose columns sum to 1. A state that holds no mass (with smoothing = 0 and no
    prior: the root's not-applicable state, or labels no row is given) has nothing to estimate it from: its column
    is uniform instead of 0/0."""
    mass = C.sum(axis=0, keepdims=True)
    return np.where(mass > 0, C / np.where(mass > 0, mass, 1.0), 1.0 / C.shape[0])


def _label_weights(w: np.ndarray) -> np.ndarray:
    """A task's labels weighted by the class balance below each; uniform when the fitted balance puts no mass on
    the task at all (then no weighting is better than another, and 0/0 would be NaN)."""
    total = w.sum()
    return w / total if total > 0 else np.full(w.shape, 1.0 / w.size)


def _accuracies(votes: TaskVotes, tables: List[np.ndarray], balance: np.ndarray) -> np.ndarray:
    """Per LF: P(vote = task label | the task applies, the LF votes), averaged over the task's labels with the
    class balance of the end labels below each."""
    g = votes.graph
    acc = np.empty(votes.m)
    for j, (t, T) in enumerate(zip(votes.lf_tasks, tables)):
        k = g.cardinality(t)
        w = balance @ g.routing_matrix(t)[:, :k]
        per_label = np.diag(T[1:, :k]) / np.maximum(1.0 - T[0, :k], _FLOOR)
        acc[j] = float(per_label @ _label_weights(w))
    return acc


def _check_votes_if_given(g: TaskGraph, L: Any, lf_tasks: Any) -> None:
    """fit(L) of a model that learns nothing from L still refuses votes it could not predict on."""
    if L is not None:
        as_task_votes(g, L, lf_tasks)
    elif lf_tasks is not None:
        raise ValueError("lf_tasks: given without L")


# ---- the trained model -------------------------------------------------------------------------------------------
class HierarchicalLabelModel(_HierBase):
    """Label model over the end labels of ``graph`` with per-LF tables conditioned on the LF's task label.

    Parameters
    ----------
    graph: the task schema.
    max_iter, tol: EM stops when no table entry moves by more than ``tol``.
    smoothing: pseudo-count added to every table cell (keeps rare states away from 0/1). With 0 (and no prior), a
        state no row occupies, e.g. the root's not-applicable state, gets a uniform table column.
    init_accuracy: Soft MV accuracy used for the initial posterior and as the prior's accuracy.
    prior_strength: MAP estimation: every table column gets this many pseudo-votes drawn from a prior table (the
        LF's overall abstain rate, ``init_accuracy`` on the votes, uniform votes when not applicable). 0 = plain
        maximum likelihood. Needed with one-sided LFs (each votes one label only): without it EM can move whole
        classes into a rarely voted state.
    n_threads: for the native posterior (None = all cores).

    Fitted attributes: ``tables_`` (list of (k_t + 1, k_t + 1) per LF: rows abstain/labels, columns task labels
    then not applicable), ``class_balance_`` (end labels), ``accuracy_`` (per LF, averaged over its task's labels),
    ``precision_`` (per LF, P(right | votes, task applies)), ``lf_tasks_``, ``n_iter_``, ``converged_``.
    """

    def __init__(self, graph: TaskGraph, max_iter: int = 200, tol: float = 1e-5, smoothing: float = 0.01,
                 init_accuracy: float = 0.7, prior_strength: float = 0.0, n_threads: Optional[int] = None):
        super().__init__(graph)
        self.max_iter = max_iter
        self.prior_strength = prior_strength
        self.tol = tol
        self.smoothing = smoothing
        self.init_accuracy = init_accuracy
        self.n_threads = n_threads

    def fit(self, L: Any, lf_tasks: Optional[Sequence[str]] = None, Y_dev: Any = None) -> "HierarchicalLabelModel":
        """Fit on votes ``L`` ({task: L_t} or one matrix with ``lf_tasks``); ``Y_dev`` (end labels of a few
        labelled rows) fixes the class balance instead of learning it."""
        g = self._check_graph()
        if isinstance(self.max_iter, (bool, np.bool_)) or not isinstance(self.max_iter, (int, np.integer)):
            raise TypeError(f"max_iter: expected an int >= 1, got {type(self.max_iter).__name__}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter: expected an int >= 1, got {self.max_iter!r}")
        tol = check_number(self.tol, "tol", low=0.0)
        smoothing = check_number(self.smoothing, "smoothing", low=0.0, high_open=True)
        init_accuracy = check_number(self.init_accuracy, "init_accuracy", low=0.0, high=1.0, low_open=True,
                                     high_open=True)
        prior_strength = check_number(self.prior_strength, "prior_strength", low=0.0, high_open=True)
        n_threads = check_n_threads(self.n_threads)
        votes = as_task_votes(g, L, lf_tasks)
        if votes.n == 0:
            raise ValueError("L: has no rows")
        E = g.n_end_labels
        fixed_balance = self._dev_balance(Y_dev, E)
        balance = fixed_balance if fixed_balance is not None else np.full(E, 1.0 / E)
        Q = _posterior(votes, fixed_tables(votes, init_accuracy), balance, n_threads)

        # one-hot of every (LF, vote) pair: the M-step's counts are onehot.T @ Q (see _vote_counts)
        sizes = np.array([g.cardinality(t) + 1 for t in votes.lf_tasks])
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        cols = votes.L + 1 + offsets[:-1][None, :]
        states = _state_of_end_labels(g)
        tied = {}  # task -> (E, k_t + 1) end label -> state indicator
        for t in set(votes.lf_tasks):
            S = np.zeros((E, g.cardinality(t) + 1))
            S[np.arange(E), states[t]] = 1.0
            tied[t] = S

        pseudo = [prior_strength * T for T in _prior_tables(votes, init_accuracy)]
        tables: List[np.ndarray] = []
        n_iter, converged = 0, False
        for n_iter in range(1, int(self.max_iter) + 1):
            counts = _vote_counts(cols, Q, int(offsets[-1]))  # (sum(k_t + 1), E)
            new_tables = []
            for j, t in enumerate(votes.lf_tasks):
                C = counts[offsets[j]:offsets[j + 1]] @ tied[t] + smoothing + pseudo[j]
                new_tables.append(_normalised_columns(C))
            if fixed_balance is None:
                balance = (Q.sum(axis=0) + smoothing) / (votes.n + E * smoothing)
            delta = max((np.abs(a - b).max() for a, b in zip(new_tables, tables)), default=np.inf)
            tables = new_tables
            Q = _posterior(votes, tables, balance, n_threads)
            if delta < tol:
                converged = True
                break
        self.tables_ = tables
        self.class_balance_ = balance
        self.lf_tasks_ = list(votes.lf_tasks)
        self.accuracy_ = _accuracies(votes, tables, balance)
        self.precision_ = _precisions(votes, tables, balance)
        self.n_iter_ = n_iter
        self.converged_ = converged
        return self

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        if not hasattr(self, "tables_"):
            raise NotFittedError("This HierarchicalLabelModel is not fitted yet: call fit(L) before using this method.")
        votes = as_task_votes(self.graph, L, lf_tasks)
        if votes.lf_tasks != self.lf_tasks_:
            raise ValueError(f"L: the LFs' tasks {votes.lf_tasks} differ from those seen in fit {self.lf_tasks_}")
        return _posterior(votes, self.tables_, self.class_balance_, self.n_threads)


class SoftMV(_HierBase):
    """The hierarchical label model with untrained, fixed accuracies (every LF right with probability
    ``accuracy`` on rows its task applies to); class balance uniform over end labels, or from ``Y_dev``."""

    def __init__(self, graph: TaskGraph, accuracy: float = 0.7, n_threads: Optional[int] = None):
        super().__init__(graph)
        self.accuracy = accuracy
        self.n_threads = n_threads

    def fit(self, L: Any = None, lf_tasks: Optional[Sequence[str]] = None, Y_dev: Any = None) -> "SoftMV":
        """Soft MV learns nothing from votes: ``L`` (with ``lf_tasks``), when given, is only checked; ``Y_dev`` (end
        labels) sets the class balance (add-one smoothed), else it is uniform."""
        g = self._check_graph()
        check_number(self.accuracy, "accuracy", low=0.0, high=1.0, low_open=True, high_open=True)
        check_n_threads(self.n_threads)
        _check_votes_if_given(g, L, lf_tasks)
        E = g.n_end_labels
        balance = self._dev_balance(Y_dev, E)
        self.class_balance_ = balance if balance is not None else np.full(E, 1.0 / E)
        return self

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        if not hasattr(self, "class_balance_"):
            self.fit()
        votes = as_task_votes(self._check_graph(), L, lf_tasks)
        return _posterior(votes, fixed_tables(votes, float(self.accuracy)), self.class_balance_, self.n_threads)


class HardMV(_HierBase):
    """Majority vote at the root (its LFs only), then among the LFs of the child task the winner activates, and so
    on down the tree. Ties, and tasks whose LFs all abstain, are broken uniformly at random from
    ``np.random.default_rng(seed)`` (the same data and seed give the same labels). predict_proba is one-hot."""

    def __init__(self, graph: TaskGraph, seed: Optional[int] = 0):
        super().__init__(graph)
        self.seed = seed

    def fit(self, L: Any = None, lf_tasks: Optional[Sequence[str]] = None, Y_dev: Any = None) -> "HardMV":
        """Nothing to learn: checks the arguments (``L`` with ``lf_tasks`` when given; ``Y_dev`` is accepted for
        symmetry with the other models and checked, but Hard MV has no prior to set)."""
        g = self._check_graph()
        check_random_state(self.seed, "seed")
        _check_votes_if_given(g, L, lf_tasks)
        self._dev_balance(Y_dev, g.n_end_labels)
        return self

    def predict(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        g = self._check_graph()
        check_random_state(self.seed, "seed")
        votes = as_task_votes(g, L, lf_tasks)
        rng = np.random.default_rng(self.seed)
        n = votes.n
        lf_tasks_arr = np.array(votes.lf_tasks)
        chosen = {}
        for t in g.tasks:
            k = g.cardinality(t)
            cols = votes.L[:, lf_tasks_arr == t]
            counts = np.stack([(cols == v).sum(axis=1) for v in range(k)], axis=1).astype(np.float64)
            # integer counts + noise in [0, 0.5): keeps every strict winner, breaks exact ties uniformly
            label = np.argmax(counts + 0.5 * rng.random((n, k)), axis=1)
            parent = g.parent(t)
            active = np.ones(n, dtype=bool) if parent is None else chosen[parent[0]] == parent[1]
            chosen[t] = np.where(active, label, NOT_APPLICABLE)
        table = g.end_task_labels
        codes = np.stack([chosen[t] for t in g.tasks], axis=1)
        out = np.empty(n, dtype=np.int64)
        for e in range(table.shape[0]):
            out[(codes == table[e]).all(axis=1)] = e
        return out

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        pred = self.predict(L, lf_tasks)
        P = np.zeros((pred.size, self.graph.n_end_labels))
        P[np.arange(pred.size), pred] = 1.0
        return P


# ---- the generative model: sampler and exact reference ------------------------------------------------------------
class HierarchicalVotes:
    """Votes drawn from the hierarchical generative model, with the truth that produced them."""

    def __init__(self, L: Dict[str, np.ndarray], Y: np.ndarray, tables: List[np.ndarray], lf_tasks: List[str],
                 accuracy: np.ndarray, class_balance: np.ndarray):
        self.L, self.Y, self.tables, self.lf_tasks = L, Y, tables, lf_tasks
        self.accuracy, self.class_balance = accuracy, class_balance


def make_hierarchical_votes(graph: TaskGraph, n: int, lfs_per_task: int = 4, accuracy=(0.65, 0.9),
                            coverage=(0.3, 0.7), off_path_rate: float = 0.1, class_balance: Optional[np.ndarray] = None,
                            seed: Optional[int] = None) -> HierarchicalVotes:
    """Draw n rows: y from ``class_balance`` (Dirichlet(5) when None), then each LF's vote from its table's column
    for its task's state. An LF votes with its coverage on rows its task applies to, right with its accuracy
    (wrong votes uniform over the other labels), and with ``off_path_rate`` x coverage (uniform labels) on rows it
    does not apply to. accuracy/coverage: (low, high) ranges drawn uniformly per LF."""
    g = graph.validate()
    rng = np.random.default_rng(seed)
    E = g.n_end_labels
    balance = rng.dirichlet(np.full(E, 5.0)) if class_balance is None else np.asarray(class_balance, float)
    Y = rng.choice(E, size=n, p=balance)
    states = _state_of_end_labels(g)
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


def exact_end_posterior(graph: TaskGraph, L: Any, lf_tasks: Optional[Sequence[str]], tables: List[np.ndarray],
                        class_balance: np.ndarray) -> np.ndarray:
    """Slow, obviously-correct reference: enumerate end labels, multiply each LF's table entry for its task's
    state on that end label, normalise. Pure numpy, a Python loop over rows and end labels."""
    votes = as_task_votes(graph, L, lf_tasks)
    lab = graph.end_task_labels
    index = {t: i for i, t in enumerate(graph.tasks)}
    out = np.zeros((votes.n, graph.n_end_labels))
    for i in range(votes.n):
        for e in range(graph.n_end_labels):
            p = class_balance[e]
            for j, t in enumerate(votes.lf_tasks):
                state = lab[e, index[t]]
                state = graph.cardinality(t) if state == NOT_APPLICABLE else state
                p *= tables[j][votes.L[i, j] + 1, state]
            out[i, e] = p
        out[i] /= out[i].sum()
    return out

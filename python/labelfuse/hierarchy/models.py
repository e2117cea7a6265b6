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

import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from .._base import DEPRECATED, N_THREADS, RANDOM_STATE, Estimator, Interval, json_value
from .._io import FileFormatError
from .._validation import check_n_threads
from .graph import NOT_APPLICABLE, TASK_GRAPH, TaskGraph, as_task_graph
from .votes import TaskVotes, as_task_votes

__all__ = ["HardMV", "HierarchicalLabelModel", "SoftMV"]

_FLOOR = 1e-12
# the trained model falls back to Soft MV when its labels agree with this much less of the LF votes than Soft MV's
COLLAPSE_TOLERANCE = 0.02
_ACCURACY = [Interval(float, 0.0, 1.0, closed="neither")]


# ---- shared parts ------------------------------------------------------------------------------------------------
class _HierBase(Estimator):
    """Parameter handling, saving and the per-task views every hierarchical label model shares. ``graph`` is a
    TaskGraph or its plain description; it is saved as its description (:meth:`TaskGraph.to_dict`)."""

    _parameter_constraints = {"graph": [TASK_GRAPH]}

    def __init__(self, graph: Any):
        self.graph = graph

    def _graph(self) -> TaskGraph:
        return as_task_graph(self.graph)

    def _state_params(self) -> Dict[str, Any]:
        """The hyperparameters as JSON, the graph as its plain description (``TaskGraph(description)`` rebuilds
        it with the same end-label numbering)."""
        params = {name: json_value(value, name) for name, value in self.get_params().items() if name != "graph"}
        return {"graph": self._graph().to_dict(), **params}

    @classmethod
    def _from_params(cls, params: Dict[str, Any], **options: Any) -> "_HierBase":
        params = dict(params)
        if "graph" not in params:
            raise FileFormatError(f"the saved {cls.__name__} lacks its task graph")
        params["graph"] = TaskGraph(params["graph"]).validate()
        return super()._from_params(params, **options)

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
        return self._graph().task_marginals(self.predict_proba(L, lf_tasks))

    def predict_tasks(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """{task: (n,) label or NOT_APPLICABLE (-1)} read off the predicted end label (consistent with the tree)."""
        g = self._graph()
        table = g.end_task_labels[self.predict(L, lf_tasks)]
        return {t: table[:, i].copy() for i, t in enumerate(g.tasks)}


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


def vote_consistency(votes: TaskVotes, end_labels: np.ndarray) -> float:
    """The share of all LF votes that agree with the task labels on the path of each row's end label (a vote on a
    row whose label path does not pass through the LF's task disagrees). A label model whose labels explain the
    votes worse than treating every LF alike (Soft MV) has collapsed: on votes drawn from the model itself the
    trained model's share was never below Soft MV's (tests/test_hierarchy_models.py)."""
    g = votes.graph
    path = g.end_task_labels[end_labels]
    agree = total = 0
    for j, t in enumerate(votes.lf_tasks):
        column = votes.L[:, j]
        voted = column >= 0
        total += int(voted.sum())
        agree += int((path[voted, g.tasks.index(t)] == column[voted]).sum())
    return agree / total if total else 1.0


def _one_sided_lfs(votes: TaskVotes) -> Dict[int, int]:
    """{LF: the one label it votes} for the LFs whose votes are all one label. Such an LF tells its label from the
    rest, nothing more: fitting a separate P(vote | state) for every other state lets EM explain its silence by
    moving whole classes (the flat triplet model gives one-sided LFs the same two-state treatment)."""
    out = {}
    for j in range(votes.m):
        voted = np.unique(votes.L[:, j][votes.L[:, j] >= 0])
        if voted.size == 1:
            out[j] = int(voted[0])
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
    graph: the task schema (a TaskGraph, or its plain description).
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
    ``precision_`` (per LF, P(right | votes, task applies)), ``lf_tasks_``, ``n_iter_``, ``converged_``,
    ``fallback_`` (True when the trained tables were replaced by Soft MV's, with a MethodWarning).

    Collapse guards: a one-sided LF (all its votes one label) gets one shared table column for every state but its
    label (it tells its label from the rest, nothing more); and when the trained model's labels agree with fewer
    of the LF votes than Soft MV's (by more than ``COLLAPSE_TOLERANCE``, see :func:`vote_consistency`) the fit
    falls back to Soft MV's tables and warns.

    Example::

        g = TaskGraph({"coarse": {"cardinality": 2}, "fine": {"cardinality": 2, "parent": ("coarse", 1)}})
        model = HierarchicalLabelModel(g).fit({"coarse": L_coarse, "fine": L_fine})
        model.predict_proba({"coarse": L_coarse, "fine": L_fine})   # (n, 3) over the end labels
        model.save("hier.lf"); labelfuse.load("hier.lf")
    """

    _parameter_constraints = {
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0.0, None)],
        "smoothing": [Interval(float, 0.0, np.inf, closed="left")],
        "init_accuracy": _ACCURACY,
        "prior_strength": [Interval(float, 0.0, np.inf, closed="left")],
        "n_threads": [N_THREADS],
    }
    _fitted_values = ("lf_tasks_", "n_iter_", "converged_", "fallback_")
    _fitted_arrays = ("class_balance_", "accuracy_", "precision_")

    def __init__(self, graph: Any, max_iter: int = 200, tol: float = 1e-5, smoothing: float = 0.01,
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
        g = self._graph()
        tol, smoothing = float(self.tol), float(self.smoothing)
        init_accuracy, prior_strength = float(self.init_accuracy), float(self.prior_strength)
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
        one_sided = _one_sided_lfs(votes)
        tables: List[np.ndarray] = []
        n_iter, converged = 0, False
        for n_iter in range(1, int(self.max_iter) + 1):
            counts = _vote_counts(cols, Q, int(offsets[-1]))  # (sum(k_t + 1), E)
            new_tables = []
            for j, t in enumerate(votes.lf_tasks):
                C = counts[offsets[j]:offsets[j + 1]] @ tied[t] + smoothing + pseudo[j]
                if j in one_sided:  # c vs the rest: every other state shares one column
                    others = np.arange(C.shape[1]) != one_sided[j]
                    C[:, others] = C[:, others].sum(axis=1, keepdims=True)
                new_tables.append(_normalised_columns(C))
            if fixed_balance is None:
                balance = (Q.sum(axis=0) + smoothing) / (votes.n + E * smoothing)
            delta = max((np.abs(a - b).max() for a, b in zip(new_tables, tables)), default=np.inf)
            tables = new_tables
            Q = _posterior(votes, tables, balance, n_threads)
            if delta < tol:
                converged = True
                break
        soft_tables = fixed_tables(votes, init_accuracy)
        soft_balance = fixed_balance if fixed_balance is not None else np.full(E, 1.0 / E)
        trained = vote_consistency(votes, _posterior(votes, tables, balance, n_threads).argmax(axis=1))
        soft = vote_consistency(votes, _posterior(votes, soft_tables, soft_balance, n_threads).argmax(axis=1))
        self.fallback_ = bool(trained < soft - COLLAPSE_TOLERANCE)
        if self.fallback_:
            from ..diagnostics import MethodWarning

            warnings.warn(
                f"HierarchicalLabelModel: the trained model's labels agree with {trained:.1%} of the LF votes, Soft "
                f"MV's with {soft:.1%}: EM moved classes the votes do not support (typical of one-sided, dependent "
                "LFs); falling back to Soft MV's tables (fallback_ = True). Dev labels (Y_dev) fix the class "
                "balance; prior_strength > 0 keeps the tables near the prior.", MethodWarning, stacklevel=2)
            tables, balance = soft_tables, soft_balance
        self.tables_ = tables
        self.class_balance_ = balance
        self.lf_tasks_ = list(votes.lf_tasks)
        self.accuracy_ = _accuracies(votes, tables, balance)
        self.precision_ = _precisions(votes, tables, balance)
        self.n_iter_ = n_iter
        self.converged_ = converged
        if not converged and not self.fallback_ and int(self.max_iter) > 0:  # (fallen back: EM is moot)
            from ..diagnostics import ConvergenceWarning

            warnings.warn(f"{type(self).__name__}: EM did not converge within max_iter={self.max_iter} "
                          f"(tol={tol:g}): raise max_iter or tol", ConvergenceWarning, stacklevel=3)
        return self

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        self._check_fitted()
        votes = as_task_votes(self._graph(), L, lf_tasks)
        if votes.lf_tasks != list(self.lf_tasks_):
            raise ValueError(f"L: the LFs' tasks {votes.lf_tasks} differ from those seen in fit {self.lf_tasks_}")
        return _posterior(votes, self.tables_, self.class_balance_, check_n_threads(self.n_threads))

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        values, arrays = super()._get_state()
        arrays.update({f"table_{j}": np.asarray(T) for j, T in enumerate(self.tables_)})  # one table per LF
        return values, arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        values = dict(values)
        values.setdefault("fallback_", False)  # a file of an earlier format
        super()._set_state(values, arrays)
        if not isinstance(self.lf_tasks_, list):
            raise FileFormatError(f"the saved HierarchicalLabelModel has lf_tasks_ {self.lf_tasks_!r}, not a list")
        missing = [j for j in range(len(self.lf_tasks_)) if f"table_{j}" not in arrays]
        if missing:
            raise FileFormatError(f"the saved HierarchicalLabelModel lacks the tables of LFs {missing}")
        self.tables_ = [np.asarray(arrays[f"table_{j}"], dtype=np.float64) for j in range(len(self.lf_tasks_))]


class SoftMV(_HierBase):
    """The hierarchical label model with untrained, fixed accuracies (every LF right with probability
    ``accuracy`` on rows its task applies to); class balance uniform over end labels, or from ``Y_dev``.

    Soft MV needs no fit: an unfitted model fits itself (uniform class balance) on first use, and can be saved.

    Example::

        SoftMV(g, accuracy=0.8).predict_proba({"coarse": L_coarse, "fine": L_fine})
    """

    _parameter_constraints = {"accuracy": _ACCURACY, "n_threads": [N_THREADS]}

    def __init__(self, graph: Any, accuracy: float = 0.7, n_threads: Optional[int] = None):
        super().__init__(graph)
        self.accuracy = accuracy
        self.n_threads = n_threads

    def fit(self, L: Any = None, lf_tasks: Optional[Sequence[str]] = None, Y_dev: Any = None) -> "SoftMV":
        """Soft MV learns nothing from votes: ``L`` (with ``lf_tasks``), when given, is only checked; ``Y_dev`` (end
        labels) sets the class balance (add-one smoothed), else it is uniform."""
        g = self._graph()
        _check_votes_if_given(g, L, lf_tasks)
        E = g.n_end_labels
        balance = self._dev_balance(Y_dev, E)
        self.class_balance_ = balance if balance is not None else np.full(E, 1.0 / E)
        return self

    def predict_proba(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        if not hasattr(self, "class_balance_"):
            self.fit()
        else:
            self._validate_params()  # (changed by set_params since the fit)
        votes = as_task_votes(self._graph(), L, lf_tasks)
        return _posterior(votes, fixed_tables(votes, float(self.accuracy)), self.class_balance_,
                          check_n_threads(self.n_threads))

    def _is_fitted(self) -> bool:
        return True  # usable (and saveable) without a fit

    def _get_state(self) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        arrays = {"class_balance_": np.asarray(self.class_balance_)} if hasattr(self, "class_balance_") else {}
        return {}, arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        if "class_balance_" in arrays:
            self.class_balance_ = np.asarray(arrays["class_balance_"], dtype=np.float64)


class HardMV(_HierBase):
    """Majority vote at the root (its LFs only), then among the LFs of the child task the winner activates, and so
    on down the tree. Ties, and tasks whose LFs all abstain, are broken uniformly at random from
    ``np.random.default_rng(random_state)`` (the same data and seed give the same labels). predict_proba is one-hot.

    Hard MV needs no fit (and can be saved unfitted). ``seed``: deprecated name of ``random_state``.

    Example::

        HardMV(g, random_state=0).predict({"coarse": L_coarse, "fine": L_fine})   # end labels
    """

    _parameter_constraints = {"random_state": [RANDOM_STATE]}
    _deprecated_aliases = {"seed": "random_state"}

    def __init__(self, graph: Any, random_state: Any = 0, seed: Any = DEPRECATED):
        super().__init__(graph)
        self.random_state = random_state
        self.seed = seed

    def fit(self, L: Any = None, lf_tasks: Optional[Sequence[str]] = None, Y_dev: Any = None) -> "HardMV":
        """Nothing to learn: checks the arguments (``L`` with ``lf_tasks`` when given; ``Y_dev`` is accepted for
        symmetry with the other models and checked, but Hard MV has no prior to set)."""
        g = self._graph()
        _check_votes_if_given(g, L, lf_tasks)
        self._dev_balance(Y_dev, g.n_end_labels)
        return self

    def predict(self, L: Any, lf_tasks: Optional[Sequence[str]] = None) -> np.ndarray:
        self._validate_params()  # (predict needs no fit, so it checks the parameters itself)
        g = self._graph()
        votes = as_task_votes(g, L, lf_tasks)
        rng = np.random.default_rng(self._param("random_state"))
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
        P = np.zeros((pred.size, self._graph().n_end_labels))
        P[np.arange(pred.size), pred] = 1.0
        return P

    def _is_fitted(self) -> bool:
        return True  # nothing to learn: usable (and saveable) without a fit


# ---- the generative model: sampler and exact reference ------------------------------------------------------------

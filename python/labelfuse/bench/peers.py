"""Peer label models (Snorkel, FlyingSquid, crowd-kit) behind one interface, for the benchmarks only.

Every peer is wrapped as ``fit(L_train, k, Y_dev=None) -> predict_proba(L) function`` on our label-matrix
convention (-1 abstain, classes 0..k-1). The patches some peers need on current numpy are listed in
:data:`PATCHES` (the suite prints them) and applied only while a peer runs, by :func:`peer_patches`: every wrapper
(and every predict function it returns) enters it around the peer's own code, and leaving it restores numpy as it
was, so running a peer never changes the caller's numpy. Peers that are not importable are simply absent from
:func:`available_peers`.
"""
from __future__ import annotations

import contextlib
import importlib.util
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np

__all__ = ["PATCHES", "PEER_COUNTERPART", "available_peers", "peer_patches", "peer_versions", "warm_up"]

Predict = Callable[[np.ndarray], np.ndarray]
PeerFit = Callable[[np.ndarray, int, Optional[np.ndarray]], Predict]

PATCHES = [
    "FlyingSquid: np.product = np.prod while it runs (np.product was removed in numpy 2); votes mapped to "
    "{-1, 0 = abstain, +1}",
    "Snorkel LabelModel: fit(..., seed=123, progress_bar=False, n_epochs=500) (its default seed is drawn at import)",
    "crowd-kit DawidSkene: fitted on a long (task, worker, label) table; predict_proba on other rows applies its "
    "fitted confusion matrices and priors with the Dawid-Skene posterior (crowd-kit itself is transductive)",
]

# the labelfuse method whose fit / predict times each peer's are divided by (same model family)
PEER_COUNTERPART = {
    "Snorkel MajorityLabelVoter": "majority vote",
    "Snorkel LabelModel": "covariance",
    "FlyingSquid": "triplet",
    "crowd-kit DawidSkene": "Dawid-Skene",
}


_NUMPY_ALIASES = {"product": "prod"}  # names removed in numpy 2 that peers still call -> their replacement


@contextlib.contextmanager
def peer_patches() -> Iterator[None]:
    """Apply the numpy patches of :data:`PATCHES` for the duration of a ``with`` block, then undo them.

    Only names numpy lacks are added (``np.product`` on numpy 2), and exactly those are removed on exit, so nested
    blocks and a numpy that still has the name are left as they were. Example::

        with peer_patches():
            model.fit(votes)          # FlyingSquid calls np.product inside
        hasattr(np, "product")        # as before the block
    """
    added = []
    for name, target in _NUMPY_ALIASES.items():
        if not hasattr(np, name):
            setattr(np, name, getattr(np, target))
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            np.__dict__.pop(name, None)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _dev_balance(Y_dev: Optional[np.ndarray], k: int) -> Optional[np.ndarray]:
    if Y_dev is None:
        return None
    counts = np.bincount(Y_dev, minlength=k).astype(np.float64) + 1.0  # add-one, like ours
    return counts / counts.sum()


def snorkel_majority(L: np.ndarray, k: int, Y_dev: Optional[np.ndarray] = None) -> Predict:
    from snorkel.labeling.model import MajorityLabelVoter

    mlv = MajorityLabelVoter(cardinality=k)
    return lambda L_eval: mlv.predict_proba(L_eval)


def snorkel_label_model(L: np.ndarray, k: int, Y_dev: Optional[np.ndarray] = None,
                        n_epochs: int = 500) -> Predict:
    from snorkel.labeling.model import LabelModel

    model = LabelModel(cardinality=k, verbose=False)
    model.fit(L, class_balance=_dev_balance(Y_dev, k), seed=123, progress_bar=False, n_epochs=n_epochs)
    return model.predict_proba


def flyingsquid(L: np.ndarray, k: int, Y_dev: Optional[np.ndarray] = None) -> Predict:
    if k != 2:
        raise ValueError("FlyingSquid is binary only")
    def pm(a: np.ndarray) -> np.ndarray:
        return np.select([a == -1, a == 0, a == 1], [0, -1, 1])

    with peer_patches():  # FlyingSquid calls np.product (removed in numpy 2), at import, fit and predict time
        from flyingsquid.label_model import LabelModel

        model = LabelModel(L.shape[1])
        model.fit(pm(L))  # its class-balance argument is not used here: Y_dev is ignored for FlyingSquid

    def predict(L_eval: np.ndarray) -> np.ndarray:
        with peer_patches():
            p1 = np.asarray(model.predict_proba_marginalized(pm(L_eval)), dtype=np.float64)
        return np.stack([1 - p1, p1], axis=1)

    return predict


def crowdkit_dawid_skene(L: np.ndarray, k: int, Y_dev: Optional[np.ndarray] = None,
                         n_iter: int = 100) -> Predict:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    rows, cols = np.nonzero(L >= 0)
    ds = DawidSkene(n_iter=n_iter).fit(pd.DataFrame({"task": rows, "worker": cols, "label": L[rows, cols]}))
    errors = ds.errors_
    priors = ds.priors_.reindex(range(k)).fillna(1e-12).to_numpy()
    fitted_workers = set(errors.index.get_level_values(0))
    tables = {j: errors.loc[j].reindex(index=range(k), columns=range(k)).fillna(1e-12).to_numpy()  # [label, true]
              for j in range(L.shape[1]) if j in fitted_workers}

    def predict(L_eval: np.ndarray) -> np.ndarray:
        logp = np.tile(np.log(priors), (L_eval.shape[0], 1))
        for j, cm in tables.items():
            v = L_eval[:, j]
            hit = v >= 0
            logp[hit] += np.log(np.clip(cm[v[hit]], 1e-12, None))
        P = np.exp(logp - logp.max(axis=1, keepdims=True))
        return P / P.sum(axis=1, keepdims=True)

    return predict


def warm_up(fit: PeerFit, k: int) -> None:
    """One fit and predict on a tiny matrix, so that imports and first-call initialisation (torch inside Snorkel)
    are not counted in the timed fit."""
    from ..synthetic import make_label_matrix

    L = make_label_matrix(200, 5, k, random_state=1).L
    fit(L, k, None)(L)


def available_peers(k: int) -> Dict[str, PeerFit]:
    """name -> fit function for the peers importable here (FlyingSquid only when k == 2)."""
    peers: Dict[str, PeerFit] = {}
    if _has("snorkel"):
        peers["Snorkel MajorityLabelVoter"] = snorkel_majority
        peers["Snorkel LabelModel"] = snorkel_label_model
    if k == 2 and _has("flyingsquid"):
        peers["FlyingSquid"] = flyingsquid
    if _has("crowdkit"):
        peers["crowd-kit DawidSkene"] = crowdkit_dawid_skene
    return peers


def peer_versions() -> Dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("snorkel", "flyingsquid", "crowd-kit"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def peer_names() -> List[str]:
    return list(PEER_COUNTERPART)

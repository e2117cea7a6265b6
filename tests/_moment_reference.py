"""Slow, plain numpy references of the triplet and covariance fits, computed from L itself (not from the stats).

They follow the documented estimators step by step with explicit loops, so that the native code can be checked
against something obviously correct on small inputs.
"""
from __future__ import annotations

import itertools

import numpy as np


def pair_moments(L, k, min_overlap=10):
    """M_ij = (k P(agree | both vote) - 1) / (k - 1), its variance, the co-vote counts, and which pairs are usable."""
    n, m = L.shape
    M = np.zeros((m, m))
    var = np.zeros((m, m))
    both = np.zeros((m, m), dtype=np.int64)
    ok = np.zeros((m, m), dtype=bool)
    for i in range(m):
        for j in range(m):
            mask = (L[:, i] >= 0) & (L[:, j] >= 0)
            both[i, j] = mask.sum()
            if i == j or both[i, j] < max(min_overlap, 1):
                continue
            agree = (L[mask, i] == L[mask, j]).sum()
            p = agree / both[i, j]
            ps = (agree + 0.5) / (both[i, j] + 1.0)
            M[i, j] = (k * p - 1) / (k - 1)
            var[i, j] = (k / (k - 1)) ** 2 * ps * (1 - ps) / both[i, j]
            ok[i, j] = True
    return M, var, both, ok


def duplicates(L):
    """duplicate_of[j] = the first earlier identical column that is not itself a copy, or -1."""
    m = L.shape[1]
    dup = np.full(m, -1)
    for i in range(m):
        if not np.any(L[:, i] >= 0):
            continue
        for j in range(i):
            if dup[j] < 0 and np.array_equal(L[:, i], L[:, j]):
                dup[i] = j
                break
    return dup


def triplet_reference(L, k, class_balance=None, min_overlap=10, z=3.0, fallback=0.7, max_acc=0.999):
    n, m = L.shape
    cover = (L >= 0).sum(axis=0)
    dup = duplicates(L)
    active = (cover > 0) & (dup < 0)
    M, var, both, ok = pair_moments(np.where(active[None, :], L, -1), k, min_overlap)
    source = np.where(cover == 0, "never_votes", np.where(dup >= 0, "duplicate", "fallback")).astype(object)

    def estimates(i):
        for j, l in itertools.combinations(range(m), 2):
            if i in (j, l) or not (ok[i, j] and ok[i, l] and ok[j, l]):
                continue
            if abs(M[j, l]) <= 1e-12 or abs(M[j, l]) < z * np.sqrt(var[j, l]):
                continue
            yield j, l, abs(M[i, j] * M[i, l] / M[j, l])

    a1 = np.zeros(m)
    for i in np.flatnonzero(active):
        e = [t[2] for t in estimates(i)]
        if e:
            a1[i] = np.sqrt(min(np.median(e), 1.0))
            source[i] = "triplets"

    def model_var(i, j):
        p = np.clip(((k - 1) * a1[i] * a1[j] + 1) / k, 0.5 / k, 1 - 1e-3)
        return (k / (k - 1)) ** 2 * p * (1 - p) / both[i, j]

    a = np.zeros(m)
    for i in np.flatnonzero(active):
        e, w = [], []
        for j, l, val in estimates(i):
            rel = sum(
                model_var(p, q) / max((a1[p] * a1[q]) ** 2, 1e-6) for p, q in ((i, j), (i, l), (j, l))
            )
            e.append(val)
            w.append(1 / rel)
        if e:
            a[i] = np.sqrt(min(np.dot(w, e) / np.sum(w), 1.0))
    for i in np.flatnonzero(active & (source == "fallback")):
        partners = [j for j in range(m) if source[j] == "triplets" and ok[i, j] and a[j] > 0.05]
        if partners:
            w = np.array([both[i, j] * a[j] ** 2 for j in partners])
            e = np.array([abs(M[i, j]) / a[j] for j in partners])
            a[i] = min(np.dot(w, e) / w.sum(), 1.0)
            source[i] = "pairs"
    a_fb = np.clip((k * fallback - 1) / (k - 1), 0, 1)
    a_max = np.clip((k * max_acc - 1) / (k - 1), 0, 1)
    a[source == "fallback"] = a_fb
    a = np.minimum(a, a_max)
    acc = np.where(active, 1 / k + a * (k - 1) / k, np.nan)
    acc[dup >= 0] = acc[dup[dup >= 0]]

    if class_balance is not None:
        prior = np.asarray(class_balance, dtype=float)
    else:
        # one-sided LFs (votes for a single class) say nothing about the balance under this model
        two_sided = np.array([(np.bincount(L[L[:, i] >= 0, i], minlength=k) > 0).sum() >= 2 for i in range(m)])
        used = active & two_sided & np.isin(source, ["triplets", "pairs"]) & (a > 0)
        if used.any():
            f = np.array([np.bincount(L[L[:, i] >= 0, i], minlength=k) / cover[i] for i in range(m) if used[i]])
            est = (f - ((1 - acc[used]) / (k - 1))[:, None]) / a[used][:, None]
            prior = (cover[used] * a[used] ** 2) @ est
        else:
            prior = np.ones(k) + sum(np.bincount(L[L[:, i] >= 0, i], minlength=k)
                                     for i in range(m) if active[i] and two_sided[i])
        prior = np.maximum(prior, 0)
        prior = np.maximum(prior / prior.sum(), 1e-4)
        prior = prior / prior.sum()

    cpt = np.zeros((m, k + 1, k))
    for i in range(m):
        cov = cover[i] / n
        if source[i] == "never_votes":
            cpt[i, 0] = 1
        elif source[i] == "duplicate":
            cpt[i, 0] = 1 - cov
            cpt[i, 1:] = (np.bincount(L[L[:, i] >= 0, i], minlength=k) / n)[:, None]
        else:
            cpt[i, 0] = 1 - cov
            cpt[i, 1:] = cov * (1 - acc[i]) / (k - 1)
            cpt[i, 1 + np.arange(k), np.arange(k)] = cov * acc[i]
    return dict(accuracy=acc, class_balance=prior, cpt=cpt, source=list(source), duplicate_of=dup)


def one_hot_overlap(L, k):
    """O[(i,a),(j,b)] / n from the one-hot votes (abstain = zeros), and the first moments o = E[psi]."""
    n, m = L.shape
    psi = np.zeros((n, m * k))
    for i in range(m):
        votes = L[:, i] >= 0
        psi[np.flatnonzero(votes), i * k + L[votes, i]] = 1
    return psi.T @ psi / n, psi.mean(axis=0)


def covariance_objective(mu, prior, O, o, active, w=1.0):
    """sum_{i != j} ||O_ij - mu_i P mu_j^T||^2 + w^2 sum_i ||mu_i pi - o_i||^2 over the active LFs."""
    m, k = mu.shape[0], mu.shape[1]
    A = mu.reshape(m * k, k) @ np.diag(prior) @ mu.reshape(m * k, k).T
    R = (O - A).reshape(m, k, m, k)
    f = 0.0
    for i in range(m):
        for j in range(m):
            if i != j and active[i] and active[j]:
                f += (R[i, :, j, :] ** 2).sum()
        if active[i]:
            f += w**2 * ((mu[i] @ prior - o[i * k:(i + 1) * k]) ** 2).sum()
    return f


def covariance_reference(L, k, class_balance=None, max_sweeps=30, max_outer=6, tol=1e-4, ridge=1e-2, w=1.0,
                         clamp=True):
    n, m = L.shape
    warm = triplet_reference(L, k, class_balance)
    active = np.array([s not in ("never_votes", "duplicate") for s in warm["source"]])
    O, o = one_hot_overlap(L, k)
    O4 = O.reshape(m, k, m, k).copy()
    for i in range(m):
        for j in range(m):
            if i == j or not (active[i] and active[j]):
                O4[i, :, j, :] = 0
    mu0 = np.where(active[:, None, None], warm["cpt"][:, 1:, :], 0.0)
    # warm start: each vote row rescaled to reproduce the LF's vote frequencies, then P(vote | y) <= 1
    predicted = mu0 @ warm["class_balance"]                      # (m, k)
    observed = o.reshape(m, k)
    scale = np.where(predicted > 0, observed / np.where(predicted > 0, predicted, 1), 0.0)
    mu0 = mu0 * scale[:, :, None]
    mu0 = mu0 / np.maximum(mu0.sum(axis=1, keepdims=True), 1.0)
    mu, pi = mu0.copy(), warm["class_balance"].copy()
    G0 = sum(mu0[i].T @ mu0[i] for i in range(m))
    lam = ridge * max(np.sum(pi**2 * np.diag(G0)) / k, 1e-12)
    sweeps = 0
    rounds = 1 if class_balance is not None else max_outer
    for _ in range(rounds):
        inner = False
        for _ in range(max_sweeps):
            change = 0.0
            for i in np.flatnonzero(active):
                others = [j for j in np.flatnonzero(active) if j != i]
                G = sum((mu[j].T @ mu[j] for j in others), np.zeros((k, k)))
                T = sum((O4[i, :, j, :] @ mu[j] for j in others), np.zeros((k, k)))
                P = np.diag(pi)
                H = 2 * P @ G @ P + w**2 * np.outer(pi, pi) + lam * np.eye(k)
                R = 2 * T @ P + w**2 * np.outer(o[i * k:(i + 1) * k], pi) + lam * mu0[i]
                new = np.linalg.solve(H, R.T).T
                change = max(change, np.abs(new - mu[i]).max())
                mu[i] = new
            sweeps += 1
            if change < tol:
                inner = True
                break
        if class_balance is not None:
            break
        A = sum(mu[i].T @ mu[i] for i in np.flatnonzero(active))
        s = sum(mu[i].T @ o[i * k:(i + 1) * k] for i in np.flatnonzero(active))
        s = np.linalg.solve(A + 1e-9 * np.trace(A) / k * np.eye(k), s)
        nxt = np.maximum(s, 0) ** 2 / pi
        nxt = np.maximum(nxt / nxt.sum(), 1e-4)
        nxt /= nxt.sum()
        mu = mu * np.sqrt(pi / nxt)[None, None, :]
        moved = np.abs(nxt - pi).max()
        pi = nxt
        if inner and moved < tol:
            break
    # better-than-random relabelling (greedy on the summed table)
    S = mu[active].sum(axis=0)
    perm = np.full(k, -1)
    S = S.copy()
    for _ in range(k):
        c, y = np.unravel_index(np.argmax(S), S.shape)
        perm[y] = c
        S[c, :] = -np.inf
        S[:, y] = -np.inf
    mu2, pi2 = np.empty_like(mu), np.empty_like(pi)
    mu2[:, :, perm] = mu
    pi2[perm] = pi
    mu, pi = mu2, pi2
    cpt = np.zeros((m, k + 1, k))
    acc = np.full(m, np.nan)
    for i in range(m):
        if not active[i]:
            cpt[i] = warm["cpt"][i]
            continue
        t = np.maximum(mu[i], 0)
        t = t / np.maximum(t.sum(axis=0, keepdims=True), 1.0)
        if clamp:
            for c in range(k):
                t[c] = np.minimum(t[c], t[c, c])
        mu[i] = t
        cpt[i, 1:] = t
        cpt[i, 0] = np.maximum(1 - t.sum(axis=0), 0)
        acc[i] = np.dot(pi, np.diag(t)) / np.dot(pi, t.sum(axis=0))
    dup = warm["duplicate_of"]
    acc[dup >= 0] = acc[dup[dup >= 0]]
    return dict(mu=mu, class_balance=pi, cpt=cpt, accuracy=acc, sweeps=sweeps, O=O, o=o, active=active)

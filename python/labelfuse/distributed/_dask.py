"""The Dask side shared by every distributed step: the import guard (dask is an optional extra), the client and
compute helpers, and the per-block plumbing (checking a distributed label matrix, aligning per-row vectors to its
row blocks, block offsets, naming a failing row by its position in the whole matrix)."""
from __future__ import annotations

import re
from typing import Any, List, Optional

import numpy as np

try:
    import dask
    import dask.array as da
    import distributed
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "labelfuse.distributed needs dask and distributed: pip install 'labelfuse[dask]'"
    ) from exc

from .._validation import check_count

__all__ = ["SPLIT_EVERY", "aligned", "as_label_array", "block_offsets", "check_groups_args", "compute", "da", "dask",
           "distributed", "get_client", "in_matrix_rows", "row_blocks"]

SPLIT_EVERY = 8  # fan-in of the reduction tree: log_8(partitions) levels, each node adds 8 small objects


def get_client(client: Optional["distributed.Client"]) -> "distributed.Client":
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client: expected a dask.distributed.Client, got {type(client).__name__}")
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "client: no dask.distributed Client is running; start one, e.g. "
            "Client(labelfuse.distributed.local_cluster()), or pass client="
        ) from None


def compute(obj: Any, client: Optional["distributed.Client"]) -> Any:
    """Compute one lazy object on the given client, the default client, or dask's default scheduler."""
    if client is not None:
        return get_client(client).compute(obj).result()
    return dask.compute(obj)[0]


def as_label_array(L: Any) -> "da.Array":
    if not isinstance(L, da.Array):
        raise TypeError(f"L: expected a dask array (from labelfuse.distributed.apply_lfs), got {type(L).__name__}")
    if L.ndim != 2:
        raise ValueError(f"L: expected a 2-D label matrix, got {L.ndim}-D")
    if any(np.isnan(c) for c in L.chunks[0]):
        raise ValueError("L: has unknown chunk sizes; call L.compute_chunk_sizes() first")
    if L.dtype.kind != "i":
        raise TypeError(f"L: expected a signed integer dtype (-1 = abstain), got {L.dtype}")
    return L.rechunk({1: -1}) if len(L.chunks[1]) > 1 else L


def aligned(x: Any, L: "da.Array", name: str) -> Optional["da.Array"]:
    """A per-row vector chunked like L's rows (numpy input is wrapped, dask input rechunked)."""
    if x is None:
        return None
    if not isinstance(x, da.Array):
        x = np.asarray(x)
        if x.ndim != 1 or x.shape[0] != L.shape[0]:
            raise ValueError(f"{name}: expected a 1-D array of length {L.shape[0]}, got shape {x.shape}")
        return da.from_array(x, chunks=(L.chunks[0],))
    if x.ndim != 1 or x.shape[0] != L.shape[0]:
        raise ValueError(f"{name}: expected a 1-D dask array of length {L.shape[0]}, got shape {x.shape}")
    return x if x.chunks[0] == L.chunks[0] else x.rechunk((L.chunks[0],))


# "L: entry (row 12, column 3) ...", "groups: entry 12 is ...": the row a block-local check names
_LOCAL_ROW = re.compile(r"^(L: entry \(row |(?:Y|groups): entry )(\d+)")


def in_matrix_rows(offset: int, task: Any, *args: Any) -> Any:
    """Runs a per-block task; an error about one row names it by its row in the whole matrix, not in the block."""
    try:
        return task(*args)
    except ValueError as exc:
        match = _LOCAL_ROW.match(str(exc))
        if match is None or offset == 0:
            raise
        raise ValueError(f"{match[1]}{int(match[2]) + offset}{str(exc)[match.end():]}") from None


def block_offsets(L: "da.Array") -> List[int]:
    return [0] + np.cumsum(L.chunks[0][:-1], dtype=np.int64).tolist()


def row_blocks(x: Optional["da.Array"], count: int) -> List[Any]:
    return [None] * count if x is None else list(x.to_delayed().ravel())


def check_groups_args(groups: Any, n_groups: Optional[int]) -> Optional[int]:
    if groups is None:
        if n_groups is not None:
            raise ValueError("n_groups: given without groups")
        return None
    if n_groups is None:
        raise ValueError("n_groups: required with groups (every block must count the same groups)")
    return check_count(n_groups, "n_groups", 1)



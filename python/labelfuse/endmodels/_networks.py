"""Networks: a shared trunk (input module + intermediate layers) with task heads attached at chosen layers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import nn

from ..hierarchy.graph import TaskGraph

ARCHITECTURES = ("single", "flat", "hier")
FEEDS = ("children", "parent")


@dataclass(frozen=True)
class HeadSpec:
    """One head: its task, output size, the trunk layer it reads (0 = input features, i = after layer i) and the
    heads whose softmax outputs it reads as extra inputs."""

    name: str
    cardinality: int
    layer: int
    feeders: tuple[str, ...] = field(default=())


def heads_for(tree: TaskGraph, architecture: str, n_layers: int, feed: str = "children") -> list[HeadSpec]:
    """Head wiring for the three MeTaL architectures.

    single: one head on the top layer predicting the end label (named after the root task).
    flat:   one head per task, all on the top layer.
    hier:   a task of depth d reads layer min(d + 1, n_layers) (coarse tasks low, fine tasks high) and, with
            feed="children" (this project's definition), also reads its child tasks' outputs; feed="parent" is
            the direction of the MeTaL reference code (a child reads its parent's output).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture: expected one of {ARCHITECTURES}, got {architecture!r}")
    if feed not in FEEDS:
        raise ValueError(f"feed: expected one of {FEEDS}, got {feed!r}")
    if architecture == "single":
        return [HeadSpec(tree.root, tree.n_end_labels, n_layers)]
    if architecture == "flat":
        return [HeadSpec(t, tree.cardinality(t), n_layers) for t in tree.tasks]
    specs = []
    for t in tree.tasks:
        if feed == "children":
            feeders = tuple(tree.task_children(t))
        else:
            parent = tree.parent(t)
            feeders = (parent[0],) if parent else ()
        specs.append(HeadSpec(t, tree.cardinality(t), min(tree.depth(t) + 1, n_layers), feeders))
    return specs


def _compute_order(heads: Sequence[HeadSpec]) -> list[str]:
    """Heads ordered so every head comes after the heads it reads."""
    by_name = {h.name: h for h in heads}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ValueError(f"heads: feeding cycle through {name!r}")
        state[name] = 1
        for f in by_name[name].feeders:
            if f not in by_name:
                raise ValueError(f"heads: {name!r} reads unknown head {f!r}")
            visit(f)
        state[name] = 2
        order.append(name)

    for h in heads:
        visit(h.name)
    return order


class MultiTaskNet(nn.Module):
    """input_module -> [Linear -> ReLU -> Dropout] * len(hidden), heads reading any depth of that trunk.

    forward(x, heads=None) returns {head: logits}; asking for some heads computes only those and the heads they read.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int],
        heads: Sequence[HeadSpec],
        input_module: Optional[nn.Module] = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.input_module = input_module if input_module is not None else nn.Identity()
        widths = [int(input_dim)] + [int(h) for h in hidden]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(widths[i], widths[i + 1]), nn.ReLU(), nn.Dropout(dropout))
            for i in range(len(hidden))
        )
        self.head_specs = {h.name: h for h in heads}
        for h in heads:
            if not 0 <= h.layer <= len(hidden):
                raise ValueError(f"heads: {h.name!r} reads layer {h.layer}, the trunk has 0..{len(hidden)}")
        self.order = _compute_order(heads)
        fed = {h.name: sum(self.head_specs[f].cardinality for f in h.feeders) for h in heads}
        self.heads = nn.ModuleDict({h.name: nn.Linear(widths[h.layer] + fed[h.name], h.cardinality) for h in heads})

    def needed(self, heads: Optional[Sequence[str]]) -> list[str]:
        if heads is None:
            return list(self.order)
        need, stack = set(), list(heads)
        while stack:
            h = stack.pop()
            if h not in self.head_specs:
                raise KeyError(f"no head named {h!r}; heads are {sorted(self.head_specs)}")
            if h not in need:
                need.add(h)
                stack.extend(self.head_specs[h].feeders)
        return [h for h in self.order if h in need]

    def representations(self, x, up_to: Optional[int] = None) -> list[torch.Tensor]:
        reps = [self.input_module(x)]
        top = len(self.layers) if up_to is None else up_to
        for layer in self.layers[:top]:
            reps.append(layer(reps[-1]))
        return reps

    def forward(self, x, heads: Optional[Sequence[str]] = None) -> dict[str, torch.Tensor]:
        order = self.needed(heads)
        reps = self.representations(x, max(self.head_specs[h].layer for h in order))
        out: dict[str, torch.Tensor] = {}
        for name in order:
            spec = self.head_specs[name]
            inp = reps[spec.layer]
            if spec.feeders:
                inp = torch.cat([inp] + [torch.softmax(out[f], dim=1).to(inp.dtype) for f in spec.feeders], dim=1)
            out[name] = self.heads[name](inp)
        return out if heads is None else {h: out[h] for h in heads}

"""The training loop every end model shares: soft-label cross-entropy, MMTL batch schedule, early stopping on a dev
metric, optional head-only fine-tuning, mixed precision on CUDA, a progress bar."""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import check_n_threads
from ._networks import MultiTaskNet

SCHEDULES = ("mmtl", "joint")


def resolve_device(device: Any) -> torch.device:
    """"auto" -> CUDA when available, else CPU; anything torch.device accepts otherwise."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for, but torch sees no CUDA device (use device='auto' or 'cpu')")
    return dev


#: Below this many multiply-adds per training batch (parameters x batch rows) a CPU fit runs on one thread.
SMALL_BATCH_WORK = 1 << 25


def threads_for(n_threads: Any, net: Optional[torch.nn.Module], batch_size: int, device: torch.device
                ) -> Optional[int]:
    """Resolve ``n_threads="auto"``: one thread for a small network on the CPU, torch's setting otherwise.

    A linear or one-hidden-layer head on 384-d embeddings does a few million multiply-adds per batch, far below
    what pays for waking a second thread: each tiny op then waits for every pool thread to be scheduled, which on
    a busy machine made a fit 8x slower in wall time than on one thread (bench/compare_adapter_speed.py)."""
    if not (isinstance(n_threads, str) and n_threads == "auto"):
        return n_threads
    if device.type != "cpu" or net is None:
        return None
    work = sum(p.numel() for p in net.parameters()) * max(int(batch_size), 1)
    return 1 if work < SMALL_BATCH_WORK else None


@contextlib.contextmanager
def torch_threads(n_threads: Optional[int]):
    """Set torch's intra-op thread count for the duration of a call and restore it after (None: leave it).

    torch's setting is process-wide, so it is never changed behind the caller's back: only when asked (or for
    "auto", see threads_for), and only for the call; the caller's count is put back in ``finally``."""
    n = check_n_threads(n_threads)
    if n is None:
        yield
        return
    total = os.cpu_count() or 1
    n = n if n > 0 else max(1, total + 1 + n)
    before = torch.get_num_threads()
    if n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def uses_amp(mixed_precision: Any, device: torch.device) -> bool:
    """Mixed precision (float16 autocast + GradScaler) runs on CUDA only; on CPU training stays float32."""
    if mixed_precision not in ("auto", True, False):
        raise ValueError(f"mixed_precision: expected 'auto', True or False, got {mixed_precision!r}")
    return device.type == "cuda" and mixed_precision in ("auto", True)


class Inputs:
    """Rows of the input: a float32 tensor (kept on CPU, moved per batch) or a list of raw inputs (e.g. texts) for
    an input module that takes them."""

    def __init__(self, X: Any):
        self.is_tensor = isinstance(X, np.ndarray)
        self.data = torch.from_numpy(X) if self.is_tensor else list(X)

    def __len__(self) -> int:
        return len(self.data)

    #: Feature matrices up to this size move to the GPU once instead of batch by batch.
    DEVICE_RESIDENT_BYTES = 1 << 30

    def to_device(self, device: torch.device) -> "Inputs":
        if self.is_tensor and device.type != "cpu" and self.data.nbytes <= self.DEVICE_RESIDENT_BYTES:
            self.data = self.data.to(device)
        return self

    def take(self, idx: torch.Tensor, device: torch.device):
        if self.is_tensor:
            batch = self.data.index_select(0, idx.to(self.data.device))
            return batch if batch.device == device else batch.to(device, non_blocking=True)
        return [self.data[i] for i in idx.tolist()]


@dataclass
class HeadTarget:
    """Soft labels of one head and the per-row loss weight; weight 0 = the row is not in this head's loss."""

    probs: torch.Tensor  # (n, k) float32
    weight: torch.Tensor  # (n,) float32

    @property
    def rows(self) -> torch.Tensor:
        return torch.nonzero(self.weight > 0).flatten()

    @classmethod
    def from_numpy(cls, probs: np.ndarray, weight: np.ndarray) -> "HeadTarget":
        return cls(torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(weight, dtype=torch.float32))


@dataclass
class TrainSettings:
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: Optional[int]
    schedule: str = "mmtl"
    finetune_epochs: int = 0
    progress: bool = True
    description: str = "training"


def soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum_i w_i * H(p_i, softmax(z_i)) / sum_i w_i, in float32 whatever the autocast dtype.

    Rows with w_i = 0 add exactly zero to the loss and its gradient (the product is masked, not just scaled, so a
    non-finite logit of an excluded row cannot leak in as 0 * inf)."""
    logp = torch.log_softmax(logits.float(), dim=1)
    per_row = -(probs * logp).sum(dim=1)
    per_row = torch.where(weight > 0, per_row * weight, torch.zeros_like(per_row))
    return per_row.sum() / weight.sum().clamp_min(1e-12)


def _batches(rows: torch.Tensor, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = rows[torch.randperm(len(rows), generator=gen)]
    return list(torch.split(perm, batch_size))


def epoch_batches(
    targets: dict[str, HeadTarget], schedule: str, batch_size: int, gen: torch.Generator
) -> list[tuple[Optional[str], torch.Tensor]]:
    """One epoch's batches. mmtl: each head's rows in its own batches, all heads' batches shuffled together (each
    (row, head) pair once per epoch). joint: batches of the union of rows, every head's loss on each batch."""
    if schedule == "mmtl":
        batches = [(name, b) for name, t in targets.items() for b in _batches(t.rows, batch_size, gen)]
        order = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[i] for i in order]
    if schedule == "joint":
        union = torch.zeros(len(next(iter(targets.values())).weight), dtype=torch.bool)
        for t in targets.values():
            union |= t.weight > 0
        return [(None, b) for b in _batches(torch.nonzero(union).flatten(), batch_size, gen)]
    raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")


def _snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class _Trainer:
    def __init__(self, net, inputs, targets, settings, device, amp, gen, dev_score):
        self.net, self.inputs, self.targets, self.s = net, inputs, targets, settings
        self.device, self.amp, self.gen, self.dev_score = device, amp, gen, dev_score
        self.scaler = torch.amp.GradScaler("cuda") if amp else None
        # targets live on the training device once; batch indices stay on the CPU (shuffles use a CPU generator)
        self.on_device = {name: (t.probs.to(device), t.weight.to(device)) for name, t in targets.items()}
        self.best_score, self.best_state, self.best_epoch = -np.inf, None, -1
        self.history: list[dict] = []

    def _autocast(self):
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _step(
        self, opt, head: Optional[str], idx: torch.Tensor, only: Optional[Sequence[str]] = None
    ) -> Optional[torch.Tensor]:
        """One optimiser step on one batch; returns the detached loss (kept on the device: no sync per step)."""
        names = [head] if head is not None else list(only or self.targets)
        x = self.inputs.take(idx, self.device)
        with self._autocast():
            out = self.net(x, heads=names)
        loss = None
        idx_dev = idx.to(self.device)
        for name in names:
            if float(self.targets[name].weight[idx].sum()) <= 0:  # CPU copy: no device sync
                continue
            probs, weight = self.on_device[name]
            term = soft_cross_entropy(out[name], probs[idx_dev], weight[idx_dev])
            loss = term if loss is None else loss + term
        if loss is None:
            return None
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()
        return loss.detach()

    def _evaluate(self, stage: str, epoch: int, loss: float, seconds: float) -> Optional[float]:
        score = None
        if self.dev_score is not None:
            self.net.eval()
            with torch.no_grad():
                score = float(self.dev_score())
            self.net.train()
            if score > self.best_score + 1e-12:
                self.best_score, self.best_state, self.best_epoch = score, _snapshot(self.net), len(self.history)
        self.history.append({"stage": stage, "epoch": epoch, "loss": loss, "dev": score, "seconds": seconds})
        return score

    def _run_epochs(self, stage, n_epochs, params, targets, bar, patience=None) -> None:
        opt = torch.optim.Adam(params, lr=self.s.lr, weight_decay=self.s.weight_decay)
        wait = 0
        for epoch in range(n_epochs):
            start = time.perf_counter()
            losses = []
            for head, idx in epoch_batches(targets, self.s.schedule, self.s.batch_size, self.gen):
                loss = self._step(opt, head, idx, only=list(targets))
                if loss is not None:
                    losses.append(loss)
            mean_loss = float(torch.stack(losses).float().mean()) if losses else float("nan")  # one sync per epoch
            before = self.best_score
            score = self._evaluate(stage, epoch, mean_loss, time.perf_counter() - start)
            bar.set_postfix(loss=f"{mean_loss:.4f}", dev="-" if score is None else f"{score:.4f}", refresh=False)
            bar.update(1)
            bar.refresh()  # once per epoch: cheap, and the postfix shows even when epochs are faster than mininterval
            if patience is not None and score is not None:
                wait = 0 if self.best_score > before else wait + 1
                if wait >= patience:
                    break

    def run(self) -> list[dict]:
        self.net.train()
        s = self.s
        n_heads = len(self.targets)
        total = s.max_epochs + (s.finetune_epochs * n_heads if s.finetune_epochs else 0)
        with tqdm(total=total, desc=s.description, disable=not s.progress, leave=False) as bar:
            self._run_epochs("train", s.max_epochs, self.net.parameters(), self.targets, bar, s.patience)
            if s.finetune_epochs:
                self._finetune_heads(bar)
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()
        return self.history

    def _finetune_heads(self, bar) -> None:
        """MMTL's second stage: each head alone, the rest of the network frozen."""
        if self.best_state is not None:  # start from the selected model, not the last epoch
            self.net.load_state_dict(self.best_state)
        flags = {name: p.requires_grad for name, p in self.net.named_parameters()}
        try:
            for head in self.targets:
                for p in self.net.parameters():
                    p.requires_grad_(False)
                params = list(self.net.heads[head].parameters())
                for p in params:
                    p.requires_grad_(True)
                bar.set_description(f"{self.s.description} [head {head}]", refresh=False)
                self._run_epochs(f"finetune:{head}", self.s.finetune_epochs, params, {head: self.targets[head]}, bar)
        finally:
            for name, p in self.net.named_parameters():
                p.requires_grad_(flags[name])


def train_network(
    net: MultiTaskNet,
    inputs: Inputs,
    targets: dict[str, HeadTarget],
    settings: TrainSettings,
    device: torch.device,
    amp: bool,
    gen: torch.Generator,
    dev_score: Optional[Callable[[], float]] = None,
) -> tuple[list[dict], Optional[float]]:
    """Train in place; with dev_score, keep the weights of the best dev epoch. Returns (history, best dev score)."""
    trainer = _Trainer(net, inputs.to_device(device), targets, settings, device, amp, gen, dev_score)
    history = trainer.run()
    return history, (trainer.best_score if trainer.best_state is not None else None)


def predict_head_probs(
    net: MultiTaskNet,
    inputs: Inputs,
    heads: Optional[Sequence[str]],
    device: torch.device,
    amp: bool,
    batch_size: int = 1024,
) -> dict[str, np.ndarray]:
    """Softmax outputs of the given heads, float64 numpy, in row order."""
    was_training = net.training
    net.eval()
    chunks: dict[str, list[np.ndarray]] = {}
    ctx = torch.autocast(device_type="cuda", dtype=torch.float16) if amp else contextlib.nullcontext()
    inputs.to_device(device)
    with torch.no_grad():
        for idx in torch.split(torch.arange(len(inputs)), batch_size):
            with ctx:
                out = net(inputs.take(idx, device), heads=heads)
            for name, logits in out.items():
                chunks.setdefault(name, []).append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    net.train(was_training)
    return {name: np.concatenate(c) for name, c in chunks.items()}

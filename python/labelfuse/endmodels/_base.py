"""Estimator base shared by every end model: parameters declared with their constraints (labelfuse._base), fitting
through the shared training core, prediction, scoring, and saving through labelfuse._io (one safetensors file: the
configuration as JSON, the network's state dict as named arrays; no pickled objects)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np
import torch

from ._checks import as_features, as_labels, as_row_mask, as_sample_weight, confidence, n_rows_of, uniform_rows
from ._networks import HeadSpec, MultiTaskNet
from ._training import (
    SCHEDULES,
    HeadTarget,
    Inputs,
    TrainSettings,
    predict_head_probs,
    resolve_device,
    threads_for,
    torch_threads,
    train_network,
    uses_amp,
)
from .metrics import metric_function, score_predictions
from .._base import (
    BOOLEAN,
    N_THREADS,
    Estimator,
    InstanceOf,
    Interval,
    Options,
    Predicate,
    SequenceOf,
    json_value,
)
from .._io import FileFormatError
from ..hierarchy.graph import TASK_GRAPH
# importing _legacy registers the reader of the end-model folders written by earlier releases
from ._legacy import weight_array_name, weight_key

#: Largest seed torch's generators take.
MAX_SEED = 2**63 - 1


def _finite_at_least(low: float, strict: bool) -> Predicate:
    def check(value: Any) -> bool:
        v = float(value)
        return math.isfinite(v) and (v > low if strict else v >= low)

    return Predicate((int, float, np.integer, np.floating), check,
                     f"a finite number {'>' if strict else '>='} {low:g}")


class EndModel(Estimator):
    """Base of the end models. Subclasses define __init__ (hyperparameters only, ``seed=DEPRECATED`` last) and the
    hooks below; ``fit`` is all or nothing (labelfuse._base.Estimator)."""

    _estimator_type = "classifier"
    _parameter_constraints = {
        "tasks": [TASK_GRAPH],
        "input_module": [None, InstanceOf(torch.nn.Module, description="a torch.nn.Module")],
        "hidden": [SequenceOf(Interval(int, 1, None), min_len=0)],
        "feed": [Options("children", "parent")],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "lr": [_finite_at_least(0.0, strict=True)],
        "weight_decay": [_finite_at_least(0.0, strict=False)],
        "batch_size": [Interval(int, 1, None)],
        "max_epochs": [Interval(int, 1, None)],
        "patience": [Interval(int, 1, None), None],
        "schedule": [Options(*SCHEDULES)],
        "finetune_epochs": [Interval(int, 0, None), None],
        "dev_metric": [InstanceOf(str, description="a metric name ('accuracy', 'f1', 'macro_f1')")],
        "confidence_weighted": [BOOLEAN],
        "exclude_uniform": [BOOLEAN],
        # the device's value ("tpu", a CUDA device on a machine without one) is checked by fit
        "device": [None, InstanceOf(str, torch.device, description="'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device"),
                   Interval(int, 0, None)],
        "mixed_precision": [Options("auto"), BOOLEAN],
        "random_state": [None, Interval(int, 0, MAX_SEED)],
        "n_threads": [N_THREADS, Options("auto")],
        "progress": [BOOLEAN],
    }
    _deprecated_aliases = {"seed": "random_state"}

    def _store_params(self, values: dict[str, Any]) -> None:
        """Keep every constructor argument as an attribute of the same name: ``self._store_params(locals())``
        from ``__init__``, whose signature stays explicit (get_params reads it)."""
        for name in self._param_names():
            setattr(self, name, values[name])

    def _is_fitted(self) -> bool:
        return "network_" in vars(self)

    def _drop_fitted(self) -> None:
        """Called first by every fit: nothing of an earlier fit survives a new one (e.g. the n_features_in_ of a
        fit without input module), so the fitted attributes always describe one network."""
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
            delattr(self, name)

    # ---- hooks ---------------------------------------------------------------------------------------------
    def _head_specs(self, n_layers: int) -> list[HeadSpec]:
        raise NotImplementedError

    def _end_probs(self, head_probs: dict[str, np.ndarray], context: Any) -> np.ndarray:
        """End-label probabilities from head outputs (context: whatever predict_proba was given besides X)."""
        raise NotImplementedError

    def _fitted_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- input handling ------------------------------------------------------------------------------------
    def _input_module(self):
        return getattr(self, "input_module", None)

    def _raw_inputs(self) -> bool:
        return bool(getattr(self._input_module(), "accepts_raw_inputs", False))

    def _as_inputs(self, X: Any, name: str = "X", fitting: bool = False) -> Inputs:
        if self._raw_inputs():
            n_rows_of(X, name)
            return Inputs(list(X))
        n_features = None if fitting or self._input_module() is not None else self.n_features_in_
        return Inputs(as_features(X, name, n_features))

    def _row_weights(
        self, P: np.ndarray, has_label: np.ndarray, n: int, mask: Any, sample_weight: Any,
        seen: Optional[dict] = None,
    ) -> np.ndarray:
        """Loss weight per row: 0 for rows without signal (no label, uniform row, masked out by the caller).

        ``seen`` (one dict per fit) records whether P gave any row a signal and whether the mask kept one, so that
        a fit left with nothing to learn blames the argument that removed the last row (see _no_signal_error)."""
        use = has_label.copy()
        if self.exclude_uniform:
            use &= ~uniform_rows(P)
        conf = confidence(P) if self.confidence_weighted else None
        if seen is not None:
            seen["P"] = seen.get("P", False) or bool((use & (conf > 0 if conf is not None else True)).any())
        if mask is not None:
            use &= as_row_mask(mask, n)
            if seen is not None:
                seen["mask"] = seen.get("mask", False) or bool((use & (conf > 0 if conf is not None else True)).any())
        w = use.astype(np.float64)
        if sample_weight is not None:
            w *= as_sample_weight(sample_weight, n)
        if conf is not None:
            w *= conf
        return w

    # ---- fitting -------------------------------------------------------------------------------------------
    def _infer_input_dim(self, inputs: Inputs) -> int:
        module = self._input_module()
        if module is None:
            return int(inputs.data.shape[1])
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        with torch.no_grad():
            out = module(inputs.take(torch.arange(min(2, len(inputs))), device))
        return int(out.shape[1])

    def _network_hidden(self) -> tuple:
        """The hidden widths of the network to build (a subclass that chooses them at fit returns its choice)."""
        return tuple(self.hidden)

    def _build_network(self) -> MultiTaskNet:
        hidden = tuple(int(h) for h in self._network_hidden())
        heads = self._head_specs(len(hidden))
        return MultiTaskNet(self.input_dim_, hidden, heads, self._input_module(), float(self.dropout))

    def _fit_targets(
        self,
        X: Any,
        targets: dict[str, tuple[np.ndarray, np.ndarray]],
        X_dev: Any,
        Y_dev: Any,
        dev_context: Any = None,
        n_dev_classes: Optional[int] = None,
        seen: Optional[dict] = None,
    ) -> "EndModel":
        """Build and train the network on per-head (soft labels, row weights). Subclasses validate first."""
        if isinstance(self.n_threads, str):  # "auto" depends on the network: resolved once it is built
            return self._fit_targets_inner(X, targets, X_dev, Y_dev, dev_context, n_dev_classes, seen)
        with torch_threads(self.n_threads):
            return self._fit_targets_inner(X, targets, X_dev, Y_dev, dev_context, n_dev_classes, seen)

    def _fit_targets_inner(self, X, targets, X_dev, Y_dev, dev_context, n_dev_classes, seen) -> "EndModel":
        inputs = self._as_inputs(X, "X", fitting=True)
        if self._input_module() is None:
            self.n_features_in_ = int(inputs.data.shape[1])
        if not any(w.sum() > 0 for _, w in targets.values()):
            raise _no_signal_error(seen)
        metric_function(self.dev_metric, n_dev_classes or self.n_classes_)  # a wrong one fails with or without dev
        dev = None
        if (X_dev is None) != (Y_dev is None):
            raise ValueError("X_dev, Y_dev: give both (a labeled dev set) or neither")
        if X_dev is not None:
            dev_inputs = self._as_inputs(X_dev, "X_dev")
            y_dev = as_labels(Y_dev, len(dev_inputs), n_dev_classes or self.n_classes_, name="Y_dev")
            metric = metric_function(self.dev_metric, n_dev_classes or self.n_classes_)
            dev = (dev_inputs, y_dev, metric)
        self.device_ = resolve_device(self.device)
        amp = uses_amp(self.mixed_precision, self.device_)
        seed = self._param("random_state")
        self.seed_ = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        settings = TrainSettings(
            lr=float(getattr(self, "lr_", self.lr)),
            weight_decay=float(getattr(self, "weight_decay_", self.weight_decay)),
            batch_size=int(self.batch_size),
            max_epochs=int(self.max_epochs),
            patience=self.patience,
            schedule=getattr(self, "schedule", "mmtl"),
            finetune_epochs=int(getattr(self, "finetune_epochs", 0) or 0),
            progress=bool(self.progress),
            description=type(self).__name__,
        )
        cuda = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # seeded init and dropout without touching the caller's RNG state
            torch.manual_seed(self.seed_)
            self.input_dim_ = self._infer_input_dim(inputs)
            net = self._build_network().to(self.device_)
            self.network_ = net
            dev_score = None if dev is None else self._dev_scorer(net, dev, dev_context, amp)
            gen = torch.Generator().manual_seed(self.seed_)
            head_targets = {name: HeadTarget.from_numpy(p, w) for name, (p, w) in targets.items()}
            n_threads = threads_for(self.n_threads, net, settings.batch_size, self.device_)
            with torch_threads(n_threads if isinstance(self.n_threads, str) else None):
                self.history_, self.best_dev_score_ = train_network(
                    net, inputs, head_targets, settings, self.device_, amp, gen, dev_score
                )
        return self

    def _dev_scorer(self, net, dev, dev_context, amp):
        dev_inputs, y_dev, metric = dev

        def dev_score() -> float:
            probs = self._end_probs(predict_head_probs(net, dev_inputs, None, self.device_, amp), dev_context)
            return metric(y_dev, probs.argmax(axis=1))

        return dev_score

    # ---- prediction ----------------------------------------------------------------------------------------
    def _head_probs(self, X: Any, heads=None) -> dict[str, np.ndarray]:
        self._check_fitted()
        inputs = self._as_inputs(X)
        if len(inputs) == 0:
            return {h.name: np.zeros((0, h.cardinality)) for h in self.network_.head_specs.values()}
        amp = uses_amp(self.mixed_precision, self.device_)
        with torch_threads(threads_for(self.n_threads, self.network_, int(self.batch_size), self.device_)):
            return predict_head_probs(self.network_, inputs, heads, self.device_, amp, max(int(self.batch_size), 256))

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.predict_proba(X, *args, **kwargs).argmax(axis=1)

    def score(self, X: Any, Y: Any, *args: Any, metric: str = "accuracy", **kwargs: Any) -> float:
        """``metric`` ("accuracy", "f1" for 2 classes, "macro_f1") of predict(X) against Y; X needs rows."""
        return score_predictions(self.predict_proba(X, *args, **kwargs), Y, metric)

    # ---- persistence ---------------------------------------------------------------------------------------
    def _state_params(self) -> dict[str, Any]:
        """Hyperparameters as JSON: a task graph as its plain description, an input module as its config (a
        custom module as its class name: it is passed back to load), the seed under ``random_state``."""
        params = self.get_params()
        module = params.pop("input_module", None)
        for alias in self._deprecated_aliases:
            params.pop(alias, None)
        params["random_state"] = self._param("random_state")
        out = {k: _jsonable(k, v) for k, v in params.items()}
        if "input_module" in self._param_names():
            out["input_module"] = _module_config(module)
        return out

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        fitted = {**self._fitted_config(), "input_dim_": self.input_dim_, "seed_": self.seed_}
        values = {k: json_value(v, k) for k, v in fitted.items()}
        arrays = {weight_array_name(k): _tensor_to_numpy(v) for k, v in self.network_.state_dict().items()}
        return values, arrays

    def _set_state(self, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        try:
            self.input_dim_ = int(values["input_dim_"])
            self.seed_ = None if values["seed_"] is None else int(values["seed_"])
            self._restore_fitted(dict(values))
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(f"path: the saved {type(self).__name__} is damaged (its fitted configuration: "
                                  f"{type(exc).__name__} {exc})") from None
        self.device_ = resolve_device(self.device)
        state = {weight_key(name): torch.from_numpy(np.array(arr)) for name, arr in arrays.items()}
        self._check_weight_shapes(state)
        net = self._build_network()
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise FileFormatError(f"path: the saved {type(self).__name__}'s weights do not fit its network ({exc})"
                                  ) from None
        self.network_ = net.to(self.device_).eval()

    def _check_weight_shapes(self, state: Mapping[str, Any]) -> None:
        """Refuse saved weights whose shapes differ from the network the saved configuration describes, before
        that network is allocated (a damaged or hostile ``input_dim_`` of 3e8 would allocate gigabytes): the
        network is first built on torch's meta device, which allocates nothing. (Skipped with an input module,
        which may be a pretrained encoder; load_state_dict still checks the shapes.)"""
        if getattr(self, "input_module", None) is not None:
            return
        try:
            with torch.device("meta"):
                probe = self._build_network()
        except (RuntimeError, TypeError, ValueError) as exc:
            raise FileFormatError(f"path: the saved {type(self).__name__}'s configuration does not describe a "
                                  f"network ({type(exc).__name__}: {exc})") from None
        expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
        for name in sorted(set(expected) | set(state)):
            got = tuple(state[name].shape) if name in state else None
            if expected.get(name) != got:
                raise FileFormatError(f"path: the saved {type(self).__name__}'s weight {name!r} has shape {got}, "
                                      f"but its configuration implies {expected.get(name)}")

    @classmethod
    def _from_params(cls, params: dict[str, Any], device: Any = "auto", input_module: Any = None) -> "EndModel":
        params = dict(params)
        if "input_module" in params:
            params["input_module"] = _module_from_config(params["input_module"], input_module)
        if isinstance(params.get("hidden"), (list, tuple)):  # JSON gives a list; "auto" stays a string
            params["hidden"] = tuple(params["hidden"])
        model = super()._from_params(params)
        model.device = device
        return model

    @classmethod
    def load(cls, path: Any, device: Any = "auto", input_module: Any = None) -> "EndModel":
        """Read a model written by :meth:`save` (or a folder written by an earlier release) onto ``device``
        (weights are mapped there, so a CUDA-trained model loads on CPU). A custom input module is not saved as
        code: pass an instance of the same architecture as ``input_module`` (its weights come from the file).
        A file of another class is a TypeError naming both classes.

        Example::

            clf = Adapter(random_state=0).fit(X, P)
            clf.save("adapter.lf")
            Adapter.load("adapter.lf", device="cpu").predict_proba(X)
        """
        return super().load(path, device=device, input_module=input_module)


def _no_signal_error(seen: Optional[dict]) -> ValueError:
    """No row is left to learn from: blame P when it gave no row a signal, else the mask or the sample weights
    that removed the last one."""
    if not (seen or {}).get("P", False):
        return ValueError("P: no row carries a label signal (all rows uniform or unlabeled)")
    if "mask" in seen and not seen["mask"]:
        return ValueError("mask: leaves out every row that carries a label signal")
    return ValueError("sample_weight: gives zero weight to every row that carries a label signal")


def _tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A state-dict entry as a numpy array on the CPU (bfloat16, which numpy lacks, as float32: load_state_dict
    casts it back into the parameter's dtype)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.numpy()


def _jsonable(name: str, value: Any) -> Any:
    if hasattr(value, "to_task_description"):  # a task graph: store its plain form
        value = value.to_task_description()
    return json_value(value, name)


def _module_config(module: Any) -> Optional[dict[str, Any]]:
    if module is None:
        return None
    if hasattr(module, "to_config"):
        return module.to_config()
    return {"kind": "custom", "class": f"{type(module).__module__}.{type(module).__qualname__}"}


def _module_from_config(config: Optional[dict[str, Any]], given: Any) -> Any:
    if config is None:
        return None
    if given is not None:
        return given
    if config.get("kind") == "minilm":
        from .encoders import MiniLMEncoder

        return MiniLMEncoder.from_config(config)
    raise ValueError(
        f"input_module: the saved model used a custom input module ({config.get('class')}); pass an instance of it "
        f"as input_module= to load (its weights come from the file)"
    )

"""Estimator base shared by every end model: scikit-learn habits, fitting through the shared training core,
prediction, scoring, and save/load (JSON config + state dict, no pickled objects)."""
from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Any, Optional

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
    torch_threads,
    train_network,
    uses_amp,
)
from .metrics import metric_function, score_predictions
from .._params import Params
from .._saving import check_format_version, version_stamp
from .._validation import NotFittedError, check_n_threads, check_number

FORMAT_NAME = "labelfuse.endmodel"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"

_REGISTRY: dict[str, type] = {}


def atomic_fit(fit):
    """Decorates an estimator's fit: the fitted attributes (names ending in '_') of an earlier fit are dropped
    first, and again when this fit raises, so that a failed fit never leaves a model that looks fitted but mixes
    old weights with new shapes (n_classes_, tree_, ...)."""

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        _forget_fit(self)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            _forget_fit(self)
            raise

    return wrapper


def _forget_fit(estimator: Any) -> None:
    for name in [a for a in vars(estimator) if a.endswith("_") and not a.startswith("__")]:
        delattr(estimator, name)


def register(cls: type) -> type:
    """Classes that load() may rebuild; load never imports a class named in a file."""
    _REGISTRY[cls.__name__] = cls
    return cls


class EndModel(Params):
    """Base of the end models. Subclasses define __init__ (hyperparameters only) and the hooks below."""

    _estimator_type = "classifier"

    # ---- scikit-learn habits -------------------------------------------------------------------------------
    def _store_params(self, values: dict[str, Any]) -> None:
        """Keep every constructor argument as an attribute of the same name: ``self._store_params(locals())``
        from ``__init__``, whose signature stays explicit (get_params reads it)."""
        for name in self._param_names():
            setattr(self, name, values[name])

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if sig.parameters[k].default is inspect.Parameter.empty or not _same(v, sig.parameters[k].default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

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
    def _check_training_params(self) -> None:
        """Every training hyperparameter, before anything is built (each error names the parameter)."""
        for name in ("batch_size", "max_epochs"):  # counts: 2.5 epochs used to be truncated to 2 silently
            _check_count(name, getattr(self, name), 1)
        if self.patience is not None:
            _check_count("patience", self.patience, 1)
        if getattr(self, "finetune_epochs", None) is not None:
            _check_count("finetune_epochs", self.finetune_epochs, 0)
        if not check_number(self.lr, "lr") > 0 or not np.isfinite(self.lr):
            raise ValueError(f"lr: expected a positive finite number, got {self.lr!r}")
        if not np.isfinite(check_number(self.weight_decay, "weight_decay", 0.0)):
            raise ValueError(f"weight_decay: expected a finite number >= 0, got {self.weight_decay!r}")
        if not 0 <= check_number(self.dropout, "dropout") < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {self.dropout!r}")
        hidden = self.hidden
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__") or any(
                isinstance(h, (bool, np.bool_)) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden: expected a sequence of positive layer widths, got {hidden!r}")
        if getattr(self, "schedule", "mmtl") not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        uses_amp(self.mixed_precision, torch.device("cpu"))  # checks the value
        check_n_threads(self.n_threads)

    def _infer_input_dim(self, inputs: Inputs) -> int:
        module = self._input_module()
        if module is None:
            return int(inputs.data.shape[1])
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        with torch.no_grad():
            out = module(inputs.take(torch.arange(min(2, len(inputs))), device))
        return int(out.shape[1])

    def _build_network(self) -> MultiTaskNet:
        hidden = tuple(int(h) for h in self.hidden)
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
        with torch_threads(self.n_threads):
            return self._fit_targets_inner(X, targets, X_dev, Y_dev, dev_context, n_dev_classes, seen)

    def _fit_targets_inner(self, X, targets, X_dev, Y_dev, dev_context, n_dev_classes, seen) -> "EndModel":
        self._check_training_params()
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
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        self.seed_ = int(seed)
        settings = TrainSettings(
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
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
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")

    def _head_probs(self, X: Any, heads=None) -> dict[str, np.ndarray]:
        self._check_fitted()
        inputs = self._as_inputs(X)
        if len(inputs) == 0:
            return {h.name: np.zeros((0, h.cardinality)) for h in self.network_.head_specs.values()}
        amp = uses_amp(self.mixed_precision, self.device_)
        with torch_threads(self.n_threads):
            return predict_head_probs(self.network_, inputs, heads, self.device_, amp, max(int(self.batch_size), 256))

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.predict_proba(X, *args, **kwargs).argmax(axis=1)

    def score(self, X: Any, Y: Any, *args: Any, metric: str = "accuracy", **kwargs: Any) -> float:
        """``metric`` ("accuracy", "f1" for 2 classes, "macro_f1") of predict(X) against Y; X needs rows."""
        return score_predictions(self.predict_proba(X, *args, **kwargs), Y, metric)

    # ---- persistence ---------------------------------------------------------------------------------------
    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        module = params.pop("input_module", None)
        out = {k: _jsonable(k, v) for k, v in params.items()}
        if "input_module" in self._param_names():
            out["input_module"] = _module_config(module)
        return out

    def save(self, path: "str | os.PathLike") -> Path:
        """Write ``path/config.json`` (format version, class, parameters, fitted shapes) and ``path/weights.pt``
        (the state dict only). Returns the directory."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "format": FORMAT_NAME,
            **version_stamp(FORMAT_VERSION),
            "class": type(self).__name__,
            "params": self._json_params(),
            "fitted": {**self._fitted_config(), "input_dim_": self.input_dim_, "seed_": self.seed_},
        }
        state = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        torch.save(state, path / WEIGHTS_FILE)
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return path

    @classmethod
    def load(cls, path: "str | os.PathLike", device: Any = "auto", input_module: Any = None) -> "EndModel":
        """Rebuild a saved model on ``device`` (weights are mapped there, so CUDA-trained models load on CPU).
        A custom input module is not serialised as code: pass an instance of the same architecture."""
        path = Path(path)
        config = read_config(path)
        klass = _REGISTRY.get(config["class"])
        if klass is None or not issubclass(klass, cls):
            raise ValueError(f"path: {path} holds a {config['class']!r}, which {cls.__name__}.load cannot build")
        params = dict(config["params"])
        if "input_module" in params:
            params["input_module"] = _module_from_config(params["input_module"], input_module)
        for key in ("hidden",):
            if key in params and params[key] is not None:
                params[key] = tuple(params[key])
        model = klass(**params)
        fitted = config["fitted"]
        model.input_dim_ = int(fitted["input_dim_"])
        model.seed_ = fitted["seed_"]
        model._restore_fitted(fitted)
        model.device_ = resolve_device(device)
        net = model._build_network()
        state = torch.load(path / WEIGHTS_FILE, map_location=model.device_, weights_only=True)
        net.load_state_dict(state)
        model.network_ = net.to(model.device_).eval()
        model.device = device
        return model


def _check_count(name: str, value: Any, least: int) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name}: expected an int >= {least}, got {value!r}")


def _no_signal_error(seen: Optional[dict]) -> ValueError:
    """No row is left to learn from: blame P when it gave no row a signal, else the mask or the sample weights
    that removed the last one."""
    if not (seen or {}).get("P", False):
        return ValueError("P: no row carries a label signal (all rows uniform or unlabeled)")
    if "mask" in seen and not seen["mask"]:
        return ValueError("mask: leaves out every row that carries a label signal")
    return ValueError("sample_weight: gives zero weight to every row that carries a label signal")


def read_config(path: Path) -> dict[str, Any]:
    cfg_file = Path(path) / CONFIG_FILE
    if not cfg_file.is_file():
        raise ValueError(f"path: {path} has no {CONFIG_FILE}; expected a directory written by save()")
    config = json.loads(cfg_file.read_text())
    if config.get("format") != FORMAT_NAME:
        raise ValueError(f"path: {cfg_file} is not a labelfuse end model (format {config.get('format')!r})")
    check_format_version(config, FORMAT_VERSION, cfg_file, "end model")
    return config


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _jsonable(name: str, value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "to_task_description"):  # a task graph: store its plain form
        return value.to_task_description()
    try:
        json.dumps(value)
    except TypeError:
        raise TypeError(f"{name}: {type(value).__name__} cannot be saved as JSON") from None
    return value


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

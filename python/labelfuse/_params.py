"""scikit-learn's get_params / set_params, derived from the constructor's signature (one copy for every estimator)."""
from __future__ import annotations

import inspect
from typing import Any, Dict, List

import numpy as np


def json_value(value: Any) -> Any:
    """A hyperparameter as plain JSON: numpy scalars become Python numbers, arrays and tuples lists (a saved
    np.int64(3) or per-LF threshold array must not make json.dumps fail)."""
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    return value


class Params:
    """Hyperparameters are exactly ``__init__``'s arguments, each kept as an attribute of the same name."""

    @classmethod
    def _param_names(cls) -> List[str]:
        names = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}.__init__ must not take *args / **kwargs (scikit-learn rule)")
            names.append(p.name)
        return names

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set hyperparameters (they take effect at the next ``fit``); returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{name}: not a parameter of {type(self).__name__} (valid: {', '.join(valid)})")
            setattr(self, name, value)
        return self

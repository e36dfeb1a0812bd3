"""Probing 127.0.0.1: which ports are free, and what (if anything) answers on one.

The server lifecycle decides from these answers whether to start a server, reuse one
that is already running, or refuse a port something else holds.
"""

from __future__ import annotations

import socket

import httpx

__all__ = [
    "HOST", "answers_http", "free_port", "llama_server_at", "model_ids", "normalise_base_url",
    "port_free", "server_slots",
]

HOST = "127.0.0.1"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option uvicorn uses, so a port in TIME_WAIT after our own restart counts
        # as free (uvicorn will be able to bind it), while a live listener does not.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def model_ids(base_url: str, timeout: float) -> list[str] | None:
    """The ids `GET {base_url}/models` lists, or None if nothing OpenAI-like answers."""
    try:
        r = httpx.get(f"{base_url}/models", timeout=timeout)
        if r.status_code != 200:
            return None
        data = r.json().get("data")
        return [str(m.get("id")) for m in data if isinstance(m, dict)]
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        return None


def answers_http(url: str, timeout: float) -> bool:
    """True if anything answers HTTP at `url`, whatever the status."""
    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def llama_server_at(port: int) -> bool:
    """True if llama-server's or llama-cpp-python's server answers on `port`.

    Quick probes (``/props``, which only llama-server has, then ``/openapi.json``, whose
    title names llama-cpp-python's), so a silent or foreign listener fails fast.
    """
    root = f"http://{HOST}:{port}"
    try:
        r = httpx.get(f"{root}/props", timeout=3.0)
        if r.status_code == 200 and "total_slots" in r.json():
            return True
        r = httpx.get(f"{root}/openapi.json", timeout=3.0)
        title = str(r.json().get("info", {}).get("title", ""))
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        return False
    return "llama" in title.lower()


def server_slots(base_url: str, timeout: float = 5.0) -> int:
    """How many calls a running server decodes at once: llama-server's ``/props`` says;
    any other server counts as one (llama-cpp-python's decodes one at a time)."""
    try:
        r = httpx.get(f"{base_url.removesuffix('/v1')}/props", timeout=timeout)
        slots = int(r.json()["total_slots"]) if r.status_code == 200 else 1
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return 1
    return max(1, slots)


def normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"

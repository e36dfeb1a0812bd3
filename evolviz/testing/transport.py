"""A test seam for the client: a scripted in-process transport, no socket (as httpx ships
`MockTransport`).

Engine unit tests use it to run a whole generation in milliseconds with exactly the
responses they script; the integration tests keep the real HTTP server
(`FakeOpenAIServer`), because retries, timeouts and the connection pool only show on real
sockets. The transport speaks the same chat-completions JSON as the server and takes the
same responders (a function of the request JSON returning a string or a `Reply`); it also
answers a status code of your choosing (`status=401`) to script a refusing endpoint.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

__all__ = ["ScriptedTransport"]


def _http() -> Any:
    from ..run.wire import http_module

    return http_module()


class ScriptedTransport:
    """Build with a responder; pass `.transport` to `LLMClient(transport=...)`.

    `requests` keeps every request body it answered, in order, for assertions.
    """

    def __init__(self, responder: Callable[[dict[str, Any]], Any] | None = None, *,
                 status: int = 200):
        from .fake_server import Reply, default_responder

        self._reply_type = Reply
        self.responder = responder or default_responder
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.transport = _http().MockTransport(self._handle)

    def _error(self, http: Any) -> Any:
        error = {"error": {"message": f"scripted HTTP {self.status}",
                           "type": "invalid_request_error", "code": None}}
        return http.Response(self.status, json=error)

    def _handle(self, request: Any) -> Any:
        http = _http()
        if request.method == "GET":  # the models list: what a health check asks for
            return (http.Response(200, json={"object": "list", "data": []})
                    if self.status == 200 else self._error(http))
        body = json.loads(request.content or b"{}")
        self.requests.append(body)
        if self.status != 200:
            return self._error(http)
        reply = self.responder(body)
        content, finish = ((reply.content, reply.finish_reason)
                           if isinstance(reply, self._reply_type) else (reply, "stop"))
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = len((content or "").split())
        return http.Response(200, json={
            "id": f"chatcmpl-scripted-{next(self._ids)}", "object": "chat.completion",
            "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        })

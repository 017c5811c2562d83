"""A small OpenAI chat-completions server for tests, on 127.0.0.1 in a background thread.

The policy's HTTP client talks to it over real sockets, so the tests exercise the bytes actually
sent. A *responder* decides each reply; the server records every request body and
header, and the order in which replies were sent (with the times each request arrived and
its reply was sent). A reply can also misbehave on purpose: a raw body (empty, not JSON, huge),
usage counts that are lies, or a body dribbled out a byte at a time.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted reply.

    Attributes:
        content: The assistant message (None: no content).
        prompt_tokens: Usage to report (None: a quarter of the prompt's characters).
        completion_tokens: Usage to report (None: a quarter of the content's characters).
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        finish_reason: The choice's finish reason.
        usage: Whether to send a usage block at all.
        raw: Send these bytes as the whole body instead (status 200 unless ``status`` says).
        dribble: Seconds between the body's bytes (0: all at once).
        fingerprint: The ``system_fingerprint`` to report.
    """

    content: str | None
    prompt_tokens: Any = None
    completion_tokens: Any = None
    status: int = 200
    finish_reason: str = "stop"
    usage: bool = True
    raw: bytes | None = None
    dribble: float = 0.0
    fingerprint: str | None = "fp_fake"


Responder = Callable[[dict[str, Any]], "Reply | str"]


def team_of(body: dict[str, Any]) -> int:
    """The team a request is for (from the first user message)."""
    m = re.search(r"You are research team (\d+)", body["messages"][1]["content"])
    assert m, "no team in the first user message"
    return int(m.group(1))


def teams_of(body: dict[str, Any]) -> list[int]:
    """The teams a batched request is for, in order."""
    return [int(t) for t in re.findall(r"^Team t(\d+):", body["messages"][1]["content"], re.M)]


def attempt_of(body: dict[str, Any]) -> int:
    """1 for a first request, 2 after one refused reply, ..."""
    return 1 + sum(1 for m in body["messages"] if m["role"] == "assistant")


def schema_of(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema the request asks the reply to follow."""
    return body["response_format"]["json_schema"]["schema"]


def valid_reply(body: dict[str, Any], spend: float = 0.1, p: float = 0.5, price: float = 5.0):
    """A reply that passes every check (for the default costs), built from the request's schema."""
    props = schema_of(body)["properties"]
    out: dict[str, Any] = {
        "research_spend": spend,
        "forecasts": dict.fromkeys(props["forecasts"]["properties"], p),
    }
    if "asks" in props:
        out["asks"] = dict.fromkeys(props["asks"]["properties"], price)
    return json.dumps(out)


class FakeChatServer:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint on an ephemeral loopback port.

    Args:
        responder: Called with each request body (from a server thread); returns a
            :class:`Reply` or just the content.
    """

    def __init__(self, responder: Responder):
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.sent: list[int] = []  # request numbers, in the order their replies were sent
        self.received_at: list[float] = []  # time.monotonic() when each request arrived
        self.sent_at: dict[int, float] = {}  # request number -> when its reply was sent
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every reply (real servers set it too).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any, dribble: float = 0.0) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not dribble:
                    self.wfile.write(data)
                    return
                try:
                    for i in range(len(data)):
                        # The slow server's pace (ends at once when the server shuts down).
                        if server._closing.wait(dribble):
                            return
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})
                    return
                with server._lock:
                    number = len(server.requests)
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.received_at.append(time.monotonic())
                reply = server.responder(body)
                if isinstance(reply, str):
                    reply = Reply(reply)
                with server._lock:
                    server.sent.append(number)
                    server.sent_at[number] = time.monotonic()
                if reply.raw is not None:
                    self._send(reply.status, reply.raw, reply.dribble)
                    return
                if reply.status != 200:
                    err = {"message": reply.content or "error", "type": "server_error"}
                    self._send(reply.status, {"error": err})
                    return
                prompt = "".join(m["content"] or "" for m in body["messages"])
                payload: dict[str, Any] = {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "system_fingerprint": reply.fingerprint,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": reply.content},
                            "finish_reason": reply.finish_reason,
                        }
                    ],
                }
                if reply.usage:
                    pt = reply.prompt_tokens
                    ct = reply.completion_tokens
                    pt = (len(prompt) + 3) // 4 if pt is None else pt
                    ct = (len(reply.content or "") + 3) // 4 if ct is None else ct
                    payload["usage"] = {"prompt_tokens": pt, "completion_tokens": ct}
                self._send(200, payload, reply.dribble)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to give the client."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


# ---------------------------------------------------------------------- reference wiring


def wired_model(
    config: Any,
    llm_share: float,
    scenario: str = "small",
    seed: int = 1,
    client: Any = None,
    **params: Any,
) -> Any:
    """A ``MarketModel`` with LLM teams that talk to ``client`` (the in-process server).

    It swaps the policy after construction (the ``llm_teams`` stream is independent of every other
    stream, so the order does not matter); the model charges each team's call costs because the
    policy says it pays for calls.
    """
    from llm_market import MarketModel
    from llm_market.policies.llm import build_policy

    model = MarketModel(scenario=scenario, seed=seed, **params)
    model.policy = build_policy(
        model.policy, model.n_teams, llm_share, config, model.streams["llm_teams"], client
    )
    return model

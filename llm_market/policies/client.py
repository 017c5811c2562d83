"""The chat-completions client: any OpenAI-compatible endpoint, trusting nothing it sends back.

Hosted APIs, Ollama, vLLM and llama.cpp servers all speak ``POST /v1/chat/completions``.
:class:`HTTPChatClient` sends the requests with the standard library (``http.client``), which is
what lets it hold every call to one deadline: the ``openai`` package (through ``httpx``) times
each socket operation separately, so a server that dribbles a byte every few seconds never
times out there. Nothing here needs a package beyond Python itself.

What the client does not take on trust:

* **Time.** ``timeout`` is the total for one call: connecting, sending, waiting, reading and the
  client's own retries. Each socket operation gets what is left of it, and a watchdog shuts the
  socket down at the deadline, so a dribbling server cannot beat it.
* **Size.** A reply's text is capped at ``max_reply_bytes`` (longer: kept truncated and flagged
  ``too_long``), and the HTTP body at a few times that (longer: a ``too_long`` failure, the rest
  is never read).
* **Shape.** An empty body, a body that is not JSON, or JSON without ``choices[0].message`` is a
  :class:`TransportError`, never a crash. Usage counts are passed on as sent; the policy checks
  them (:func:`~.llm.checked_usage`).
* **Where the key goes.** The API key is read from ``LLM_MARKET_API_KEY``; ``OPENAI_API_KEY`` is
  used only for ``api.openai.com`` (or anywhere with ``LLM_MARKET_SEND_OPENAI_KEY=1``). A key is
  never sent over plain ``http`` to a host that is not loopback: the client refuses to start
  (:class:`~llm_market.errors.UsageError`). The key is not part of the configuration, the
  requests, the cache or any message (error texts are scrubbed of it).

``max_completion_tokens`` (OpenAI's current name) is sent by default; a server that answers
HTTP 400 naming it gets ``max_tokens`` instead, for the rest of the run (and the reverse).
Requests always carry ``max_tokens`` inside the program (so cache keys never depend on the name
a server wanted); the client renames the field when it sends it.
"""

from __future__ import annotations

import heapq
import http.client
import ipaddress
import itertools
import json
import os
import socket
import ssl
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from ..errors import UsageError

KEY_VARIABLE = "LLM_MARKET_API_KEY"
OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"
SEND_OPENAI_KEY_VARIABLE = "LLM_MARKET_SEND_OPENAI_KEY"
OPENAI_HOST = "api.openai.com"
# Sent when there is no key: local servers ignore it, and some refuse a request without one.
NO_KEY = "no-key"
# The HTTP body may be this many times the reply cap (JSON escapes can make text six times
# longer) plus the envelope, before the rest of it is left unread.
BODY_FACTOR = 8
BODY_SLACK = 64 * 1024
# First pause before an HTTP retry (doubled each time, capped), within the call's deadline.
RETRY_BACKOFF = 0.5
MAX_BACKOFF = 8.0
TOKEN_PARAMS = ("max_completion_tokens", "max_tokens")
WATCHDOG_TICK = 0.05  # seconds: how late the watchdog may cut a call off
TokenParam = Literal["auto", "max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class Completion:
    """What the policy keeps of one chat completion (and what the cache stores).

    Attributes:
        content: The reply text (None when the server sent none); truncated when ``too_long``.
        prompt_tokens: Prompt tokens the server counted (as sent: checked by the policy).
        completion_tokens: Completion tokens the server counted (as sent).
        finish_reason: ``stop``, ``length`` (cut at the token limit), ...
        model: The model name the server reports.
        estimated_usage: True when the server sent no usage and tokens were estimated.
        system_fingerprint: The server's ``system_fingerprint``, when it sends one.
        too_long: The reply text was longer than the client's cap and was truncated.
    """

    content: str | None
    prompt_tokens: Any
    completion_tokens: Any
    finish_reason: str | None = None
    model: str | None = None
    estimated_usage: bool = False
    system_fingerprint: str | None = None
    too_long: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the cache's response column)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Completion:
        """Rebuild from :meth:`to_dict` output (older rows lack the newer fields)."""
        fields = cls.__dataclass_fields__
        if len(data) == len(fields) and all(k in fields for k in data):
            # A row this version wrote (every field, nothing else): the object __init__ would
            # make, with its fields set at once (a replay rebuilds one per decision).
            obj = object.__new__(cls)
            obj.__dict__.update(data)
            return obj
        return cls(**{k: data.get(k) for k in fields if k in data})


class TransportError(Exception):
    """A call failed for reasons other than the reply's content.

    Network errors, the deadline, HTTP 5xx, an empty or malformed body.

    Attributes:
        kind: The failure kind it is counted as: ``transport``, or ``too_long`` for a body
            larger than the client reads.
    """

    def __init__(self, message: str, kind: str = "transport"):
        super().__init__(message)
        self.kind = kind


class EndpointError(Exception):
    """The endpoint refuses every call (bad key, no such model): the run cannot go on."""


class ChatClient(Protocol):
    """Anything that turns a chat request into a :class:`Completion`."""

    def complete(self, request: dict[str, Any]) -> Completion:
        """Send one request (``model``, ``messages``, ``max_tokens``, ...)."""
        ...


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ``::1``); no DNS lookup."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def api_key_for(base_url: str) -> str | None:
    """The API key to send to ``base_url``, or None.

    ``LLM_MARKET_API_KEY`` is sent anywhere; ``OPENAI_API_KEY`` only to ``api.openai.com``,
    unless ``LLM_MARKET_SEND_OPENAI_KEY=1`` says it may go to this endpoint too.
    """
    key = os.environ.get(KEY_VARIABLE)
    if key:
        return key
    key = os.environ.get(OPENAI_KEY_VARIABLE)
    host = (urlsplit(base_url).hostname or "").lower()
    if key and (host == OPENAI_HOST or os.environ.get(SEND_OPENAI_KEY_VARIABLE) == "1"):
        return key
    return None


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters per token) for servers that report no usage."""
    return (len(text) + 3) // 4


class _Watchdog:
    """One thread that shuts down the sockets of calls past their deadline.

    Shutting a socket down wakes a thread blocked reading it, which is what makes a call's
    deadline hold against a server that keeps every single read inside its timeout. The thread
    wakes at most every :data:`WATCHDOG_TICK` seconds (a deadline may be passed by that much),
    and is only woken early for a deadline sooner than any it waits for: watching a call costs
    a heap push, not a thread switch.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._socks: dict[int, socket.socket] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: socket.socket) -> int:
        with self._cond:
            token = next(self._ids)
            self._socks[token] = sock
            sooner = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llm-watchdog", daemon=True)
                self._thread.start()
            elif sooner:
                self._cond.notify()
            return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._socks.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait + WATCHDOG_TICK)
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    sock = self._socks.pop(heapq.heappop(self._heap)[1], None)
                    if sock is not None:
                        due.append(sock)
            for sock in due:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_WATCHDOG = _Watchdog()


class _Deadline(Exception):
    """The call's time ran out."""


class HTTPChatClient:
    """A :class:`ChatClient` over ``http.client``; safe to share between threads.

    Each thread keeps one keep-alive connection to the endpoint.

    Args:
        base_url: The endpoint, for example ``http://127.0.0.1:8000/v1``.
        timeout: Seconds one call may take in all (connect, wait, read, retries).
        http_retries: Retries on connection errors, 408, 409, 429 and 5xx (with backoff, within
            the deadline); a call that still fails is a transport failure.
        max_reply_bytes: Longest reply text kept (UTF-8 bytes).
        token_param: ``auto`` (``max_completion_tokens``, falling back to ``max_tokens`` on an
            HTTP 400 that names it), or the one name to send.

    Raises:
        UsageError: The URL is not http(s), or an API key would go over plain http to a host
            that is not loopback.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 60.0,
        http_retries: int = 2,
        max_reply_bytes: int = 64 * 1024,
        token_param: TokenParam = "auto",
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"llm_base_url: {base_url!r} is not an http(s) URL")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self._key = api_key_for(base_url)
        if self._key is not None and not self._https and not is_loopback(self._host):
            raise UsageError(
                f"llm_base_url: refusing to send the API key over plain http to {base_url}; "
                "use https, or a loopback address"
            )
        self.timeout = float(timeout)
        self.http_retries = int(http_retries)
        self.max_reply_bytes = int(max_reply_bytes)
        self._body_limit = BODY_FACTOR * self.max_reply_bytes + BODY_SLACK
        self._auto = token_param == "auto"
        self.token_param = "max_completion_tokens" if self._auto else token_param
        self._refused_params: set[str] = set()
        self._ssl = ssl.create_default_context() if self._https else None
        self._local = threading.local()
        self._conns: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.requests_sent = 0

    # -- connections

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self._host, self._port)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    # -- one call

    def _body(self, request: dict[str, Any]) -> tuple[bytes, str]:
        """The HTTP body, with the token limit under the name this server takes."""
        body = dict(request)
        name = self.token_param
        if "max_tokens" in body and name != "max_tokens":
            body[name] = body.pop("max_tokens")
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), name

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {self._key or NO_KEY}",
        }

    def _post(self, body: bytes, deadline: float) -> tuple[int, dict[str, str], bytes]:
        """One HTTP exchange on this thread's connection, within ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        conn = self._connection()
        if conn.sock is None:
            conn.timeout = remaining
            conn.connect()
            # http.client sends a large body apart from the headers: without TCP_NODELAY,
            # Nagle's algorithm holds the body until the server's delayed ACK (up to 40 ms).
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sock.settimeout(remaining)
        token = _WATCHDOG.watch(deadline, conn.sock)
        try:
            conn.request("POST", self._path, body=body, headers=self._headers())
            resp = conn.getresponse()
            data = resp.read(self._body_limit + 1)
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if len(data) > self._body_limit or resp.will_close:
                self._drop_connection()
            return resp.status, headers, data
        except (OSError, http.client.HTTPException):
            self._drop_connection()
            if time.monotonic() >= deadline:
                raise _Deadline from None
            raise
        finally:
            _WATCHDOG.cancel(token)

    def complete(self, request: dict[str, Any]) -> Completion:
        """Send one request and keep the reply text and usage.

        Raises:
            TransportError: The call failed (after the client's retries, within the deadline).
            EndpointError: The endpoint rejects the key, the permissions, the model or the
                request's shape (HTTP 401, 403, 404, 422).
        """
        deadline = time.monotonic() + self.timeout
        retries = 0
        fresh = False
        last = "no reply"
        while True:
            body, sent_param = self._body(request)
            conn = getattr(self._local, "conn", None)
            reused = conn is not None and conn.sock is not None and not fresh
            try:
                with self._lock:
                    self.requests_sent += 1
                status, headers, data = self._post(body, deadline)
            except _Deadline:
                raise TransportError(f"no complete reply within {self.timeout:g} s") from None
            except (OSError, http.client.HTTPException) as err:
                last = f"{type(err).__name__}: {err}"
                if reused:
                    # A kept-alive connection the server had closed: try once on a new one.
                    fresh = True
                    continue
                if not self._pause(retries, deadline, None):
                    raise TransportError(self._scrub(last)) from None
                retries += 1
                continue
            fresh = False
            if status == 200:
                return self._parse(request, data)
            message = self._scrub(_error_message(data))
            if status in (401, 403, 404):
                raise EndpointError(f"HTTP {status}: {message}")
            if status == 422:
                # The server refusing the request's shape: every call would fail alike.
                raise EndpointError(
                    f"HTTP 422: {message} (if the server does not know this response_format, "
                    "try another one, e.g. json_object_schema for llama-cpp-python)"
                )
            if status == 400 and self._switch_token_param(message, sent_param):
                continue
            last = f"HTTP {status}: {message}"
            if status in (408, 409, 429) or status >= 500:
                if self._pause(retries, deadline, headers.get("retry-after")):
                    retries += 1
                    continue
            raise TransportError(last)

    def _switch_token_param(self, message: str, current: str) -> bool:
        """After an HTTP 400 naming the token-limit field: send the other name from now on."""
        other = TOKEN_PARAMS[1 - TOKEN_PARAMS.index(current)]
        text = message.lower()
        names_it = current in text or ("unsupported parameter" in text and other not in text)
        if not self._auto or not names_it:
            return False
        with self._lock:
            if self.token_param != current:
                return True  # another thread switched already: resend with the new name
            if other in self._refused_params:
                return False  # both names refused: a plain failure
            self._refused_params.add(current)
            self.token_param = other
        return True

    def _pause(self, retries: int, deadline: float, retry_after: str | None) -> bool:
        """Wait before retry number ``retries + 1``; False when no retry is left or no time."""
        if retries >= self.http_retries:
            return False
        wait = min(RETRY_BACKOFF * 2**retries, MAX_BACKOFF)
        try:
            wait = max(wait, float(retry_after)) if retry_after else wait
        except ValueError:
            pass
        if time.monotonic() + wait >= deadline:
            return False
        time.sleep(wait)
        return True

    def _parse(self, request: dict[str, Any], data: bytes) -> Completion:
        if len(data) > self._body_limit:
            raise TransportError(
                f"reply body longer than {self._body_limit} bytes (not read further)", "too_long"
            )
        if not data.strip():
            raise TransportError("empty HTTP body")
        try:
            payload = json.loads(data)
            choice = payload["choices"][0]
            content = choice["message"].get("content")
            finish = choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise TransportError(
                f"malformed response body (no choices[0].message): {data[:80]!r}"
            ) from None
        if content is not None and not isinstance(content, str):
            raise TransportError(f"malformed response: content is {type(content).__name__}")
        too_long = False
        if content is not None:
            raw = content.encode("utf-8")
            if len(raw) > self.max_reply_bytes:
                content = raw[: self.max_reply_bytes].decode("utf-8", "ignore")
                too_long = True
        model = payload.get("model")
        fingerprint = payload.get("system_fingerprint")
        extra = {
            "finish_reason": finish if isinstance(finish, str) else None,
            "model": model if isinstance(model, str) else None,
            "system_fingerprint": fingerprint if isinstance(fingerprint, str) else None,
            "too_long": too_long,
        }
        usage = payload.get("usage")
        if isinstance(usage, dict) and usage.get("prompt_tokens") is not None:
            return Completion(
                content, usage.get("prompt_tokens"), usage.get("completion_tokens", 0), **extra
            )
        prompt_text = "".join(str(m.get("content", "")) for m in request["messages"])
        return Completion(
            content,
            estimate_tokens(prompt_text),
            estimate_tokens(content or ""),
            estimated_usage=True,
            **extra,
        )


def _error_message(data: bytes) -> str:
    """The message of an OpenAI-style error body, or the start of the body."""
    try:
        payload = json.loads(data)
        err = payload.get("error", payload)
        message = err.get("message") if isinstance(err, dict) else err
        if message:
            return str(message)[:500]
    except (ValueError, AttributeError):
        pass
    return data[:200].decode("utf-8", "replace") or "(empty body)"


# The name the policy used before the client was rewritten on the standard library.
OpenAIChatClient = HTTPChatClient

"""A SQLite cache of language-model replies, keyed by the canonical request.

The key is the SHA-256 of the canonical JSON (sorted keys, no spaces) of everything that decides a
reply: model, messages, sampling parameters, seed, response format, the prompt template version
and, in caches made since key version 2, the endpoint (``base_url``). Since the full prompt is in
the key, a replayed run gets exactly the replies the original run got for exactly the same
prompts, and a run whose prompts diverge (a changed model or template) misses instead of
silently reusing replies. The token limit is hashed under the name ``max_tokens`` whatever name
the server was sent (``max_completion_tokens``), so a cache does not depend on it.

Key versions (table ``meta``, row ``key_version``): 1 = without the endpoint (every cache made
before the table existed: it has no ``meta`` table, and keeps its keys, so old caches still
replay), 2 = with the endpoint (new files). The model the server reports is in each reply's
stored response (``model``, ``system_fingerprint``).

Modes:

* ``off``: no cache.
* ``read-write``: look up every request; call the endpoint on a miss and keep the reply. Writes
  are queued by the worker threads and committed in one transaction by :meth:`ReplyCache.flush`
  on the policy's thread (every few rows while it waits for a day's calls, at the end of each
  day, and on close), in WAL mode: a crash loses at most the day not yet committed, and a reply
  is never paid twice within a day since lookups see the queue.
* ``replay``: never call the endpoint; a miss is an error (:class:`~.llm.ReplayMiss`).
  The policy reads a day's replies in one query (:meth:`ReplyCache.prefetch`).

A reply that failed in transport is stored as an error entry so that a replay reproduces the
original run's fallback; in read-write mode error entries count as misses and are retried.

A database another process keeps locked longer than ``busy_timeout`` seconds is reported as a
:class:`CacheError` (a :class:`~llm_market.errors.UsageError`: one line, exit 2), never a
traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path
from typing import Any, Literal

from ..errors import UsageError

CacheMode = Literal["off", "read-write", "replay"]
KEY_VERSION = 2
BUSY_TIMEOUT = 10.0  # seconds to wait for another process's lock
PREFETCH_CHUNK = 500  # keys per query of ReplyCache.prefetch (SQLite's variable limit is 999+)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created TEXT NOT NULL
)
"""
_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"


class CacheError(UsageError):
    """The cache file cannot be used: locked by another process, or not a database."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _SharedTexts:
    """Canonical JSON of objects many requests share (a day's schema, a system message).

    Looked up by identity; the memo holds each object, so its id cannot be reused by another.
    The objects are read, never changed, by everything that builds requests (a changed one
    would also have changed every prompt that shares it). Bounded: emptied when full.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self.items: dict[int, tuple[Any, str]] = {}

    def get(self, obj: Any) -> str | None:
        hit = self.items.get(id(obj))
        return hit[1] if hit is not None and hit[0] is obj else None

    def put(self, obj: Any, text: str) -> None:
        if len(self.items) >= self.size:
            self.items.clear()
        self.items[id(obj)] = (obj, text)


_SHARED = _SharedTexts()


def _canonical(obj: Any, shared: frozenset[int]) -> str:
    """:func:`canonical_json` of ``obj``, reusing the memo for the objects in ``shared``.

    Containers are assembled as the JSON encoder does (keys sorted, no spaces), so the text is
    the same character for character; anything else is left to :func:`canonical_json`.
    """
    if id(obj) in shared:
        text = _SHARED.get(obj)
        if text is None:
            text = _canonical(obj, frozenset())
            _SHARED.put(obj, text)
        return text
    kind = type(obj)
    if kind is str:
        return _string(obj)
    if kind is dict:
        try:
            keys = sorted(obj)
        except TypeError:
            return canonical_json(obj)  # raises as the encoder does
        parts = []
        for k in keys:
            head = _KEYS.get(k)
            if head is None:
                if type(k) is not str:
                    return canonical_json(obj)  # the encoder's own rules for other keys
                head = _string(k) + ":"
                if len(_KEYS) < 4096:
                    _KEYS[k] = head
            value = obj[k]
            if type(value) is str and id(value) not in shared:
                parts.append(head + _string(value))
            else:
                parts.append(head + _canonical(value, shared))
        return "{" + ",".join(parts) + "}"
    if kind is list:
        return "[" + ",".join([_canonical(x, shared) for x in obj]) + "]"
    # Numbers and constants as the encoder writes them (repr; it spells non-finite floats).
    if kind is int or (kind is float and math.isfinite(obj)):
        return repr(obj)
    if obj is None or kind is bool:
        return _CONSTANTS[obj]
    return canonical_json(obj)


def _string(text: str) -> str:
    # For ASCII text both encoders give the same JSON but for DEL (\x7f), which only the ASCII
    # one escapes; the ASCII one is the faster.
    if text.isascii() and "\x7f" not in text:
        return encode_basestring_ascii(text)
    return encode_basestring(text)


_NONE: frozenset[int] = frozenset()
# Dict keys as JSON, with the colon (a request's few key names, made once).
_KEYS: dict[str, str] = {}
_CONSTANTS = {None: "null", True: "true", False: "false"}


def canonical_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request with its token limit named ``max_tokens`` (the name keys are made with)."""
    if "max_completion_tokens" not in request:
        return request
    out = dict(request)
    out["max_tokens"] = out.pop("max_completion_tokens")
    return out


def request_key(request: dict[str, Any], template_version: str, endpoint: str | None = None) -> str:
    """SHA-256 (hex) of a chat request, its template version and (key version 2) its endpoint.

    Args:
        request: The chat request.
        template_version: The prompt template that made its messages.
        endpoint: The base URL it goes to; None makes a version 1 key (no endpoint).
    """
    return keyed_request(request, template_version, endpoint)[0]


def keyed_request(
    request: dict[str, Any],
    template_version: str,
    endpoint: str | None = None,
    shared: Iterable[Any] = (),
) -> tuple[str, str]:
    """The key of :func:`request_key` and the request's canonical JSON (stored beside it).

    The hashed text is ``canonical_json({"endpoint": ..., "request": ..., "template": ...})``,
    assembled from the request's canonical JSON so that it is serialised once per call.

    Args:
        request: The chat request.
        template_version: The prompt template that made its messages.
        endpoint: The base URL (None: a version 1 key).
        shared: Objects inside the request that other requests share unchanged (the day's
            schema, a system message): their JSON is made once and reused. Same text, same key.
    """
    text = _canonical(canonical_request(request), frozenset(id(x) for x in shared))
    head, tail = _payload_ends(template_version, endpoint)
    key = hashlib.sha256((head + text + tail).encode("utf-8")).hexdigest()
    return key, text


def _payload_ends(template_version: str, endpoint: str | None) -> tuple[str, str]:
    """What the hashed text puts before and after the request's canonical JSON."""
    head = "" if endpoint is None else '"endpoint":' + _canonical(endpoint.rstrip("/"), _NONE) + ","
    return "{" + head + '"request":', ',"template":' + _canonical(template_version, _NONE) + "}"


# Stands in for the content left out of a spliced request: plain ASCII that JSON keeps as it is.
_MARK = "<<llm-market: the content of the last message goes here 5b0d9e>>"


class Splice:
    """Keys of requests that differ only in their last message's content, made fast.

    Made by :func:`splice` from one such request: the hashed text before and after that
    content is serialised (and the part before it hashed) once, so a key costs the content's
    JSON and its hash only. Strings serialise the same wherever they stand, so the key and the
    canonical JSON are the very ones :func:`keyed_request` gives for the whole request.

    Attributes:
        before: The canonical JSON of the request up to the content.
        after: The canonical JSON of the request after the content.
    """

    def __init__(self, before: str, after: str, head: str, tail: str):
        self.before, self.after = before, after
        self._hasher = hashlib.sha256((head + before).encode("utf-8"))
        self._after = (after + tail).encode("utf-8")

    def key(self, content: str, with_text: bool = True) -> tuple[str, str | None]:
        """The key (and, with ``with_text``, the canonical JSON) with ``content`` in its place."""
        s = _string(content)
        h = self._hasher.copy()
        h.update(s.encode("utf-8"))
        h.update(self._after)
        return h.hexdigest(), (self.before + s + self.after) if with_text else None


def splice(
    request: dict[str, Any],
    template_version: str,
    endpoint: str | None = None,
    shared: Iterable[Any] = (),
) -> Splice | None:
    """A :class:`Splice` for the requests like ``request`` but for its last message's content.

    Returns:
        None when the request has no such content (no messages, or a last message without a
        string content), or when its other parts hold the stand-in text.
    """
    messages = request.get("messages")
    if type(messages) is not list or not messages or type(messages[-1]) is not dict:
        return None
    if type(messages[-1].get("content")) is not str:
        return None
    probe = dict(request)
    probe["messages"] = [*messages[:-1], {**messages[-1], "content": _MARK}]
    text = _canonical(canonical_request(probe), frozenset(id(x) for x in shared))
    mark = _string(_MARK)
    if text.count(mark) != 1:
        return None
    before, after = text.split(mark)
    return Splice(before, after, *_payload_ends(template_version, endpoint))


class ReplyCache:
    """Replies stored in one SQLite file, safe to use from several threads.

    Args:
        path: The database file (created in read-write mode; must exist in replay mode).
        mode: ``"read-write"`` or ``"replay"`` (replay opens the file read-only).
        busy_timeout: Seconds to wait for a lock held by another process.

    Attributes:
        key_version: 1 (keys without the endpoint: a file made before key versions) or 2.

    Raises:
        FileNotFoundError: Replay mode and the file does not exist.
        CacheError: The file is locked for longer than ``busy_timeout`` or not a database.
    """

    def __init__(self, path: str | Path, mode: CacheMode, busy_timeout: float = BUSY_TIMEOUT):
        if mode not in ("read-write", "replay"):
            raise ValueError(f"cache mode must be read-write or replay, not {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, str, str, str]] = {}
        # Stored responses read ahead by prefetch (None: not in the file), until the next flush.
        self._read: dict[str, str | None] = {}
        self._db: sqlite3.Connection | None = None
        if mode == "replay" and not self.path.is_file():
            raise FileNotFoundError(f"replay cache {self.path} does not exist")
        try:
            self.key_version = self._open()
        except sqlite3.DatabaseError as err:
            if self._db is not None:
                self._db.close()
            raise self._error(err) from None

    def _open(self) -> int:
        if self.mode == "replay":
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(
                uri, uri=True, check_same_thread=False, timeout=self.busy_timeout
            )
            return self._stored_key_version() or 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=self.busy_timeout)
        db = self._db
        # WAL: readers never wait for the writer, and a commit is one append to the log;
        # synchronous=NORMAL syncs at checkpoints only (a power cut may lose the last commits,
        # a crash of this process loses nothing committed).
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = self._stored_key_version()
        if version is None:
            had_replies = self._has_table("replies")
            version = 1 if had_replies else KEY_VERSION
            with db:
                db.execute(_SCHEMA)
                db.execute(_META)
                db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('key_version', ?)",
                    (str(version),),
                )
        return version

    def _has_table(self, name: str) -> bool:
        row = self._db.execute(  # type: ignore[union-attr]
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _stored_key_version(self) -> int | None:
        if not self._has_table("meta"):
            return None
        row = self._db.execute(  # type: ignore[union-attr]
            "SELECT value FROM meta WHERE name = 'key_version'"
        ).fetchone()
        return None if row is None else int(row[0])

    def _error(self, err: sqlite3.Error) -> CacheError:
        if "locked" in str(err) or "busy" in str(err):
            return CacheError(
                f"reply cache {self.path}: locked by another process for more than "
                f"{self.busy_timeout:g} s ({err}); is another run using it?"
            )
        return CacheError(f"reply cache {self.path}: {err}")

    def key(
        self,
        request: dict[str, Any],
        template_version: str,
        endpoint: str,
        shared: Iterable[Any] = (),
    ) -> tuple[str, str]:
        """The key of ``request`` in this file's key version, and the request's canonical JSON.

        ``shared``: see :func:`keyed_request`.
        """
        endpoint_or_none = endpoint if self.key_version >= 2 else None
        return keyed_request(request, template_version, endpoint_or_none, shared)

    def splice(
        self,
        request: dict[str, Any],
        template_version: str,
        endpoint: str,
        shared: Iterable[Any] = (),
    ) -> Splice | None:
        """:func:`splice` in this file's key version (the keys :meth:`key` gives)."""
        endpoint_or_none = endpoint if self.key_version >= 2 else None
        return splice(request, template_version, endpoint_or_none, shared)

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the stored response for ``key`` (queued writes included), or None."""
        with self._lock:
            queued = self._pending.get(key)
            if queued is not None:
                return json.loads(queued[2])
            if key in self._read:
                text = self._read[key]
                return None if text is None else json.loads(text)
            try:
                row = self._db.execute(  # type: ignore[union-attr]
                    "SELECT response FROM replies WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.DatabaseError as err:
                raise self._error(err) from None
        return None if row is None else json.loads(row[0])

    def prefetch(self, keys: list[str]) -> None:
        """Read the stored responses of ``keys`` in a few queries; :meth:`get` then uses them.

        What was read is kept until the next :meth:`flush` (the policy flushes every day).
        """
        with self._lock:
            self._read.clear()
            todo = [k for k in dict.fromkeys(keys) if k not in self._pending]
            try:
                for start in range(0, len(todo), PREFETCH_CHUNK):
                    chunk = todo[start : start + PREFETCH_CHUNK]
                    rows = self._db.execute(  # type: ignore[union-attr]
                        "SELECT key, response FROM replies WHERE key IN "
                        f"({','.join('?' * len(chunk))})",
                        chunk,
                    ).fetchall()
                    found = dict(rows)
                    for k in chunk:
                        self._read[k] = found.get(k)
            except sqlite3.DatabaseError as err:
                self._read.clear()
                raise self._error(err) from None

    def put(
        self,
        key: str,
        request: dict[str, Any] | str,
        response: dict[str, Any],
    ) -> None:
        """Queue (or replace) the response for ``key``; :meth:`flush` writes it.

        Args:
            key: The request's key.
            request: The request, or its canonical JSON (from :meth:`key`).
            response: What to store.
        """
        if self.mode != "read-write":
            raise RuntimeError("the cache is read-only in replay mode")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        text = request if isinstance(request, str) else canonical_json(canonical_request(request))
        row = (key, text, canonical_json(response), created)
        with self._lock:
            self._pending[key] = row

    def pending(self) -> int:
        """Replies queued and not yet committed."""
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Commit the queued replies in one transaction (call from one thread: the policy's).

        Raises:
            CacheError: The file stayed locked by another process.
        """
        with self._lock:
            self._read.clear()
            if not self._pending or self._db is None:
                return
            rows = list(self._pending.values())
            try:
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO replies (key, request, response, created) "
                        "VALUES (?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.DatabaseError as err:
                raise self._error(err) from None
            self._pending.clear()

    def __len__(self) -> int:
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])  # type: ignore[union-attr]

    def close(self) -> None:
        """Write what is queued and close the database (again: nothing happens).

        Raises:
            CacheError: The queued replies could not be written (the file stays locked).
        """
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                self._db.close()
                self._db = None

"""A SQLite cache of language-model replies, keyed by the canonical request.

The key is the SHA-256 of the canonical JSON (sorted keys, no spaces) of everything that decides a
reply: model, messages, sampling parameters, seed, response format and the prompt template
version. Since the full prompt is in the key, a replayed run gets exactly the replies the original
run got for exactly the same prompts, and a run whose prompts diverge (a changed model or
template) misses instead of silently reusing replies.

Modes:

* ``off``: no cache.
* ``read-write``: look up every request; call the endpoint on a miss and store the reply as it
  arrives (a crash loses nothing already answered).
* ``replay``: never call the endpoint; a miss is an error (:class:`~.llm.ReplayMiss`).

A reply that failed in transport is stored as an error entry so that a replay reproduces the
original run's fallback; in read-write mode error entries count as misses and are retried.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

CacheMode = Literal["off", "read-write", "replay"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created TEXT NOT NULL
)
"""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: dict[str, Any], template_version: str) -> str:
    """SHA-256 (hex) of a chat request and the template version that produced its messages."""
    payload = canonical_json({"request": request, "template": template_version})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ReplyCache:
    """Replies stored in one SQLite file, safe to use from several threads.

    Args:
        path: The database file (created in read-write mode; must exist in replay mode).
        mode: ``"read-write"`` or ``"replay"`` (replay opens the file read-only).

    Raises:
        FileNotFoundError: Replay mode and the file does not exist.
    """

    def __init__(self, path: str | Path, mode: CacheMode):
        if mode not in ("read-write", "replay"):
            raise ValueError(f"cache mode must be read-write or replay, not {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        if mode == "replay":
            if not self.path.is_file():
                raise FileNotFoundError(f"replay cache {self.path} does not exist")
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            with self._lock, self._db:
                self._db.execute(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the stored response for ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT response FROM replies WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Store (or replace) the response for ``key`` and commit at once."""
        if self.mode != "read-write":
            raise RuntimeError("the cache is read-only in replay mode")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO replies (key, request, response, created) "
                "VALUES (?, ?, ?, ?)",
                (key, canonical_json(request), canonical_json(response), created),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

"""Writing a run's files safely: atomic writes, the files a run owns, and its output folder.

Every file a run writes goes through :func:`atomic_write`: the bytes go to a temporary name in
the same folder, are flushed to disk, and the file is renamed over the old one in one
``os.replace``, so a reader (or a kill) sees the old file or the new one, never a torn one.
:func:`check_out_dir` answers a bad output folder before any work, and :func:`clear_run`
removes exactly the files a run writes (never anything else) when ``--force`` asks for it.

This module imports only the standard library: the command line uses it before the model loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import UsageError

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.png"
CACHE_FILE = "llm_cache.sqlite"
# Every name `llm-market run` may write into its folder (SQLite adds its side files).
RUN_FILES = (
    SUMMARY_FILE,
    REPORT_FILE,
    "model.parquet",
    "teams.parquet",
    "trades.parquet",
    "predictions.parquet",
    "budgets.parquet",
    "news.parquet",
    CACHE_FILE,
    CACHE_FILE + "-journal",
    CACHE_FILE + "-wal",
    CACHE_FILE + "-shm",
)
TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """The temporary file :func:`atomic_write` writes ``path`` through.

    Same folder, hidden, and the same suffix (writers such as Matplotlib pick the format from it).
    """
    return path.with_name(f".{path.stem}{TMP_MARK}{os.getpid()}{path.suffix}")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` all or nothing: ``write(tmp)`` fills a temporary file, then it is renamed.

    The temporary file is fsynced before the rename, so after the rename the new bytes are on
    disk (on file systems that keep that promise); a failure leaves the old file untouched.

    Args:
        path: The file to write; its folder must exist.
        write: Writes the content to the path it is given.

    Returns:
        ``path``.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (no NaN or inf) through :func:`atomic_write`."""
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))


def file_record(path: Path) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex}`` of a file, for ``summary.json``'s list of its files."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def owned_files(out: Path) -> list[Path]:
    """The files in ``out`` that a run wrote.

    The known names, the names its summary lists, the parts of a streamed run's logs, and
    temporary files left by a killed write.
    Nothing else in the folder is ever included.
    """
    names = set(RUN_FILES)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        listed = json.loads((out / SUMMARY_FILE).read_text()).get("files", {})
        # Only plain names: a summary cannot point outside its folder.
        names.update(n for n in listed if isinstance(n, str) and n == Path(n).name)
    found = [out / n for n in sorted(names) if (out / n).is_file()]
    # The parts a streamed run had not merged yet (recording.stream), whether listed or not.
    for name in sorted(n for n in names if n.endswith(".parquet")):
        stem = name.removesuffix(".parquet")
        found += sorted(p for p in out.glob(f"{stem}.part[0-9]*.parquet") if p.is_file())
    for name in sorted(names):
        stem, suffix = Path(name).stem, Path(name).suffix
        found += sorted(p for p in out.glob(f".{stem}{TMP_MARK}*{suffix}") if p.is_file())
    return found


def writable_folder(out_arg: str | None, default: str | Path) -> Path:
    """Check ``--out`` names a folder this process can write in, creating it; else refuse.

    Args:
        out_arg: ``--out`` as given (None: not given).
        default: The folder used when ``--out`` is not given.

    Returns:
        The folder.

    Raises:
        UsageError: Empty path, a file, or a folder that cannot be created or written in (a
            read-only place, a name too long); the message names ``--out``.
    """
    if out_arg is not None and not out_arg.strip():
        raise UsageError(f"--out: empty path; give a folder (default {default})")
    out = Path(out_arg if out_arg is not None else default)
    label = f"--out {out}"
    try:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{label}: is a file, not a folder; give a folder to write in")
        out.mkdir(parents=True, exist_ok=True)
        probe = temporary_name(out / ".write-probe")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"{label}: cannot write there ({err.strerror or err})") from None
    return out


def check_out_dir(
    out_arg: str | None, default: str, force: bool, keep: Iterable[Path] = ()
) -> Path:
    """Check a run's output folder before any work and, with ``force``, clear the old run's files.

    Args:
        out_arg: ``--out`` as given (None: not given).
        default: The folder used when ``--out`` is not given.
        force: Remove the files of an earlier run found there (:func:`owned_files`).
        keep: Files not to remove even so (a reply cache the run reads).

    Returns:
        The folder, created and writable.

    Raises:
        UsageError: Empty path, a file, not creatable or not writable, or holding another run's
            files without ``force``.
    """
    out = writable_folder(out_arg, default)
    label = f"--out {out}"
    keep = {Path(p).resolve() for p in keep}
    old = [p for p in owned_files(out) if p.resolve() not in keep]
    if old and not force:
        names = ", ".join(p.name for p in old[:4]) + (", ..." if len(old) > 4 else "")
        raise UsageError(
            f"{label}: holds another run's files ({names}); choose another --out or add "
            "--force to remove them first"
        )
    for p in old:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return out

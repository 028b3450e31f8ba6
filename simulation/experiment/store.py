"""The results store of an experiment: Parquet tables written as each run finishes.

Layout of a results folder::

    manifest.json     experiment, its file's hash, design hash, seeds, versions, sessions
    writer.lock       the writer lock (pid, host, start and command of the last writer)
    design.parquet    one row per design point (parameters; unit coordinates if sampled)
    runs/             run table: run_id, point, replicate, [case], parameters, seed, status,
                      error, duration, model_seconds, worker, session, finished
    outcomes/         one row per run and group (groups + ``overall``): parameters, outcomes
    timeseries/       (if kept) one row per run, group and step: the step's calendar month
                      ``date`` (YYYY-MM; empty for a scenario without ``start:``), every metric
    _damaged/         (after a repair) files that could not be read, moved aside

Each table is a folder of Parquet files that pandas reads in one call, e.g.
``pd.read_parquet("results/eng/outcomes")``.  Every finished batch of runs is written as a
new part file (``gGGGGG/sSSSS-NNNNNNN.parquet``) through a temporary file and an atomic
rename — the run-table part last, so a run counts as done only once all its rows are stored
— so a crash or ``kill -9`` loses at most the runs in flight.  Every few hundred batches the
parts of a generation folder ``gGGGGG/`` are merged into one compact file: it is written in a
hidden staging folder ``_gGGGGG/`` and the two folders swap names in one atomic step, so a
reader (``pd.read_parquet`` included) or a kill at any moment sees either the old parts or
the compact file, never both.  What a crash leaves behind (temporary files, a staged
compaction, outcome parts whose run-table part was never written) is removed the next time
the store is opened for writing (:meth:`ResultsStore.repair`).  Names starting with ``_``
or ``.`` are ignored by pandas and pyarrow.

One writer at a time: a sweep holds :class:`WriterLock` on the folder (``writer.lock``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..loader import ScenarioError
from ..reporters import METRICS
from ..results import COLUMN_DESCRIPTIONS as RUN_COLUMNS
from ..results import _atomic_write, column_metadata

__all__ = ["LOCK_NAME", "TABLES", "ResultsStore", "WriterLock", "arrow_type", "digest_problem",
           "make_schemas", "os_error_message", "read_results"]

TABLES = ("runs", "outcomes", "timeseries")
KEYS = {"runs": ["run_id"], "outcomes": ["run_id", "group"],
        "timeseries": ["run_id", "group", "step"]}
_PART = re.compile(r"^s\d{4}-\d{7}\.parquet$")
_COMPACT = re.compile(r"^c(\d{5})\.parquet$")
_GEN = re.compile(r"^g\d{5}$")
_HIDDEN = re.compile(r"^_(g\d{5})(\.old)?$")
_META = b"commnet.parts"


LOCK_NAME = "writer.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class WriterLock:
    """One writer at a time: an advisory lock on ``folder/writer.lock``.

    The lock is :func:`fcntl.flock` (exclusive, non-blocking) on the lock file; the file
    holds the holder's pid, host, start time and command, for the message a second writer
    gets.  The kernel releases a ``flock`` when the process holding it exits, however it
    exits (``kill -9`` included), so a lock file left by a dead process never blocks: its
    contents are only a record of the last writer.  The descriptor is opened close-on-exec,
    and the process pool's workers are started by a fork server (a clean process), so no
    worker inherits it.  ``flock`` is local to one machine; on NFS it is emulated with
    ``fcntl`` byte-range locks (Linux ≥ 2.6.12), so two hosts sharing a folder also exclude
    each other when the server supports locking.

    Parameters
    ----------
    folder : path-like
    command : str, optional
        Recorded in the lock file (default: this process's command line).
    """

    def __init__(self, folder: str | os.PathLike[str], command: str | None = None):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        if command is None and sys.argv and sys.argv[0]:
            prog = Path(sys.argv[0]).name
            prog = "python -m simulation.cli" if prog == "cli.py" else prog
            command = " ".join([prog, *map(shlex.quote, sys.argv[1:])])
        self.command = command or ""
        self.fd: int | None = None

    def holder(self) -> dict[str, Any]:
        """What the lock file says about its (last) holder (empty if unreadable)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ScenarioError` naming the writer holding it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ScenarioError([(str(self.folder), "", self._busy_message())]) from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": platform.node(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": self.command}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def _busy_message(self) -> str:
        info = self.holder()
        pid, host = info.get("pid"), info.get("host")
        who = (f"pid {pid} on host {host}" if pid is not None
               else "another process (it has not yet recorded its pid)")
        extra = []
        if info.get("started"):
            extra.append(f"since {info['started']}")
        if info.get("command"):
            extra.append(f"command: {info['command']}")
        text = (f"is being written by another sweep ({who}{', ' if extra else ''}"
                f"{', '.join(extra)}); only one writer at a time. Wait for it to finish (or "
                f"stop it), then run again with --resume; or write to another --out folder")
        if pid is not None and host == platform.node() and not _pid_alive(int(pid)):
            text += (f". Process {pid} is no longer running, so a process it started still "
                     f"holds {self.path} open; stop that process")
        return text

    def release(self) -> None:
        """Release the lock (the file stays, as a record of the last writer)."""
        if self.fd is None:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def arrow_type(values: Sequence[Any]) -> pa.DataType:
    """The Arrow type of a parameter column from its values (string if mixed)."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool | np.bool_) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, int | float | np.integer | np.floating)
                    and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def to_arrow_value(value: Any, typ: pa.DataType) -> Any:
    """A parameter value as stored in a column of type ``typ``."""
    if value is None:
        return None
    if typ == pa.string():
        return value if isinstance(value, str) else json.dumps(value, default=str)
    if typ == pa.float64():
        return float(value)
    if typ == pa.int64():
        return int(value)
    return bool(value)


#: Descriptions of the store's key and bookkeeping columns (Parquet field metadata
#: ``definition``); metric and outcome columns carry the metric registry's entry instead.
COLUMN_DESCRIPTIONS = {
    "run_id": "run number in the sweep (unique; rows of one run share it across the tables)",
    "point": "design point (row of design.parquet) the run belongs to",
    "replicate": "replicate index at the design point",
    "case": "named case of the experiment file",
    "seed": "the run's seed (every random draw of the run derives from it)",
    "status": "ok, or failed (the message is in error)",
    "error": "why the run failed (empty when status is ok)",
    "duration": "wall seconds of the run in its worker (scenario, model and outcome reduction)",
    "model_seconds": "wall seconds of the model run itself (build, burn-in, steps, metrics)",
    "worker": "process (host:pid) that ran it",
    "session": "sweep session (resumed sweeps add sessions) that wrote the row",
    "finished": "time the run finished (UTC)",
    "group": RUN_COLUMNS["group"],
    "step": RUN_COLUMNS["step"],
    "date": RUN_COLUMNS["date"],
}

#: Columns a table may lack in files written before they existed (read back as nulls).
OPTIONAL_COLUMNS = {"timeseries": {"date"}}


def _field(name: str, typ: pa.DataType, parameter: bool = False) -> pa.Field:
    """A field with its description: the metric registry's entry (``title``, ``unit``,
    ``range``, ``direction``, ``definition``; :func:`simulation.reporters.field_metadata`)
    for a metric or outcome column, a ``definition`` for the rest."""
    if parameter:
        meta = {b"definition": f"design parameter: the scenario field {name} (--set {name}=…)"
                .encode()}
    else:
        meta = column_metadata(name, COLUMN_DESCRIPTIONS.get(name))
    return pa.field(name, typ, metadata=meta)


def make_schemas(param_types: dict[str, pa.DataType], outcome_columns: Sequence[str],
                 cases: bool) -> dict[str, pa.Schema]:
    """Arrow schemas of the run, outcome and time-series tables; every field carries its
    description as field metadata (what ``pq.read_schema(file).field(name).metadata``
    shows), so a results folder documents its own columns."""
    head = [_field("run_id", pa.int64()), _field("point", pa.int64()),
            _field("replicate", pa.int64())]
    if cases:
        head.append(_field("case", pa.string()))
    params = [_field(k, t, parameter=True) for k, t in param_types.items()]
    runs = pa.schema([*head, *params, *[_field(n, t) for n, t in (
        ("seed", pa.int64()), ("status", pa.string()), ("error", pa.string()),
        ("duration", pa.float64()), ("model_seconds", pa.float64()), ("worker", pa.string()),
        ("session", pa.int64()), ("finished", pa.timestamp("ms", tz="UTC")))]])
    outcomes = pa.schema([*head, *params, _field("group", pa.string()),
                          *[_field(c, pa.float64()) for c in outcome_columns]])
    timeseries = pa.schema([*head[:3], _field("group", pa.string()), _field("step", pa.int32()),
                            _field("date", pa.string()),
                            *[_field(m, pa.float64()) for m in METRICS]])
    return {"runs": runs, "outcomes": outcomes, "timeseries": timeseries}


# A file's SHA-256 is kept in its own Parquet footer (key-value metadata ``commnet.sha256``),
# computed over the whole file with those 64 hex digits read as "0"s; the Arrow schema
# carries ``commnet.integrity`` so that a file whose digest entry was itself damaged is not
# mistaken for one written before digests existed (commnet < 0.3.3: page checksums only).
_DIGEST_KEY = b"commnet.sha256"
_DIGEST_FLAG = b"commnet.integrity"
_DIGEST_NOTE = (b"SHA-256 of the whole file in the Parquet key-value metadata commnet.sha256, "
                b"computed with its own 64 hex digits read as 0")
# thrift compact encoding of the entry: key length 14, the key, field 2 (binary), length 64
_DIGEST_ENTRY = b"\x0e" + _DIGEST_KEY + b"\x18@"
_PLACEHOLDER = b"0" * 64


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` atomically with page checksums (CRC32 of each data page) and the
    file's own SHA-256 (:func:`digest_problem`), so that a damaged byte anywhere — data
    pages, page headers or footer — is found by reading the file back."""
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _DIGEST_FLAG: _DIGEST_NOTE})

    def write(p: Path) -> None:
        with pq.ParquetWriter(p, table.schema, compression="zstd",
                              write_page_checksum=True) as writer:
            writer.write_table(table)
            writer.add_key_value_metadata({_DIGEST_KEY.decode(): _PLACEHOLDER.decode()})
        with open(p, "r+b") as f:
            at = _digest_at(f)
            f.seek(at or 0)
            if at is None or f.read(64) != _PLACEHOLDER:
                raise RuntimeError(f"{p}: the digest entry was not written where expected")
            digest = _sha256(f, at)
            f.seek(at)
            f.write(digest.encode())

    _atomic_write(path, write)


_CHUNK = 1 << 20  # files are hashed a MiB at a time (a compact time-series file can be large)


def _digest_at(f) -> int | None:
    """Offset of the 64 hex digits of ``commnet.sha256`` in the footer of the Parquet file
    open as ``f`` (binary), or None if there is none where the footer says."""
    size = f.seek(0, os.SEEK_END)
    if size < 12:
        return None
    f.seek(size - 8)
    tail = f.read(8)
    if tail[4:] != b"PAR1":
        return None
    length = int.from_bytes(tail[:4], "little")
    if length > size - 12:  # a damaged footer length: nothing to find
        return None
    start = size - 8 - length
    f.seek(start)
    footer = f.read(size - 8 - start)
    i = footer.rfind(_DIGEST_ENTRY)
    if i < 0 or i + len(_DIGEST_ENTRY) + 64 > len(footer):
        return None
    return start + i + len(_DIGEST_ENTRY)


def _sha256(f, at: int) -> str:
    """SHA-256 of the file open as ``f``, its 64 bytes at ``at`` read as "0"s."""
    digest = hashlib.sha256()
    f.seek(0)
    left = at
    while left > 0:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    digest.update(_PLACEHOLDER)
    f.seek(at + 64)
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def digest_problem(path: Path) -> str | None:
    """Why ``path`` fails its SHA-256 check, or None if it passes (or predates digests).

    The digest covers every byte of the file except its own 64 hex digits (read as "0"),
    so any change after writing — a flipped bit in a data page, a page header, the schema or
    the statistics in the footer — is found, including one in the digest entry itself.
    """
    with open(path, "rb") as f:
        at = _digest_at(f)
        if at is not None:
            f.seek(at)
            stored = f.read(64)
            now = _sha256(f, at)
    if at is None:  # written before digests, or the entry (or what precedes it) is damaged
        try:
            if b"ARROW:schema" not in (pq.read_metadata(path).metadata or {}):
                return "its footer's key-value metadata is missing or damaged"
            flagged = _DIGEST_FLAG in (pq.read_schema(path).metadata or {})
        except (OSError, pa.ArrowException, ValueError) as exc:
            return f"{type(exc).__name__}: {_first(exc)}"
        return "its SHA-256 entry is missing or damaged" if flagged else None
    if now.encode() != stored:
        return (f"its SHA-256 does not match the one written with it (stored "
                f"{stored[:12].decode('ascii', 'replace')}…, now {now[:12]}…): "
                "changed or damaged after it was written")
    return None


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the call does not exist or the file system does not support it.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap(stage: Path, gdir: Path) -> Path:
    """Make the compacted generation ``stage`` visible as ``gdir`` and hide the parts.

    With ``RENAME_EXCHANGE`` the two folders trade names in one step, so a reader (or a
    kill) sees either the old parts or the compact file, never both.  Elsewhere the parts
    are hidden first (``_gNNNNN.old``) and the compact file shown second: a kill between the
    two renames hides rows until the store is next opened (:meth:`ResultsStore.repair`
    finishes the swap) but never shows them twice.

    Returns the hidden folder now holding the old parts.
    """
    if _exchange(stage, gdir):
        return stage
    old = gdir.with_name(f"_{gdir.name}.old")
    os.rename(gdir, old)
    os.rename(stage, gdir)
    return old


def _remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=False)


def _move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dst)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _dedupe(df: pd.DataFrame, table: str) -> pd.DataFrame:
    keys = [k for k in KEYS[table] if k in df.columns]
    if df.empty or not keys:
        return df.reset_index(drop=True)
    df = df.drop_duplicates(subset=keys, keep="last")
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def _listed(compact: Path) -> list[str]:
    """The part names a compact file replaced (from its metadata)."""
    meta = pq.read_schema(compact).metadata or {}
    return json.loads(meta.get(_META, b"[]"))


class ResultsStore:
    """Parquet tables of one experiment in ``folder`` (or in memory when ``folder`` is None).

    Each table folder holds generation folders ``gNNNNN/``; a generation holds either the
    part files of the batches written into it (``sSSSS-NNNNNNN.parquet``) or, once
    compacted, one ``cNNNNN.parquet`` listing the parts it replaced.  Names starting with
    ``_`` or ``.`` (a compaction being staged, replaced parts, temporary files) are ignored
    by pandas and pyarrow, so ``pd.read_parquet(folder / "outcomes")`` never sees a row
    twice.

    Parameters
    ----------
    folder : path-like or None
    schemas : dict of str to pyarrow.Schema
        From :func:`make_schemas`.
    """

    def __init__(self, folder: str | os.PathLike[str] | None,
                 schemas: dict[str, pa.Schema] | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.schemas = schemas or {}
        self.memory: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
        self.session = 1
        self._seq = 0
        self._gen: int | None = None
        self._parts_since_compact = 0

    # ------------------------------------------------------------------ folder
    @property
    def manifest_path(self) -> Path | None:
        """``manifest.json`` of the folder."""
        return None if self.folder is None else self.folder / "manifest.json"

    def exists(self) -> bool:
        """Whether the folder already holds an experiment's results."""
        return self.manifest_path is not None and self.manifest_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest (empty for a memory store or a new folder).

        Raises
        ------
        ValueError
            If ``manifest.json`` is not a JSON object (truncated or damaged); the message
            says what is wrong.
        """
        if not self.exists():
            return {}
        text = self.manifest_path.read_bytes()
        try:
            manifest = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not valid JSON ({exc}; {len(text)} bytes)") from None
        if not isinstance(manifest, dict) or "design_hash" not in manifest:
            raise ValueError("not a results manifest (no design_hash)")
        return manifest

    def has_data(self) -> bool:
        """Whether any table holds a file (a folder with data but no manifest is damaged)."""
        return self.folder is not None and any(self._files(t) for t in TABLES)

    def damaged_files(self) -> list[tuple[str, Path, str]]:
        """Every table file that cannot be read back: (table, path, error).

        Every file's SHA-256 is checked (files written before commnet 0.3.3 have none);
        run and outcome files are then read whole, with page checksums verified; time-series
        files (large) have their footer and ``run_id`` column read.
        """
        bad = []
        if self.folder is None:
            return bad
        for t in TABLES:
            for f in self._files(t):
                try:
                    why = digest_problem(f)
                    if why is not None:
                        bad.append((t, f, why))
                        continue
                    pq.read_table(f, columns=["run_id"] if t == "timeseries" else None,
                                  page_checksum_verification=True)
                    if self.schemas.get(t) is not None:
                        missing = (set(self.schemas[t].names) - set(pq.read_schema(f).names)
                                   - OPTIONAL_COLUMNS.get(t, set()))
                        if missing:
                            raise ValueError(f"columns missing: {', '.join(sorted(missing))}")
                except (OSError, pa.ArrowException, ValueError) as exc:
                    bad.append((t, f, f"{type(exc).__name__}: {_first(exc)}"))
        return bad

    def quarantine(self, path: Path) -> Path:
        """Move a damaged file to ``_damaged/`` (same relative path; ignored by readers)."""
        dest = self.folder / "_damaged" / path.relative_to(self.folder)
        if dest.exists():
            dest = dest.with_name(f"{dest.stem}-{time.strftime('%Y%m%dT%H%M%S')}{dest.suffix}")
        _move(path, dest)
        return dest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(manifest, indent=2, default=str)
        _atomic_write(self.manifest_path, lambda p: p.write_text(text, encoding="utf-8"))

    def write_design(self, design: pd.DataFrame) -> None:
        """Write ``design.parquet`` (a memory store keeps it)."""
        self.design = design
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(_stringify_objects(design), preserve_index=False)
        _write_parquet(table, self.folder / "design.parquet")

    def has_design(self) -> bool:
        """Whether ``design.parquet`` is there and readable (a memory store: always)."""
        if self.folder is None:
            return True
        try:
            pq.read_metadata(self.folder / "design.parquet")
            return digest_problem(self.folder / "design.parquet") is None
        except (OSError, pa.ArrowInvalid):
            return False

    def clear(self) -> None:
        """Delete this store's files (only the ones it writes)."""
        if self.folder is None:
            self.memory = {t: [] for t in TABLES}
            return
        for t in TABLES:
            shutil.rmtree(self.folder / t, ignore_errors=True)
        for name in ("manifest.json", "design.parquet"):
            (self.folder / name).unlink(missing_ok=True)

    def _dir(self, table: str) -> Path:
        return self.folder / table

    def _gens(self, table: str) -> list[Path]:
        """The table's generation folders, oldest first."""
        d = self._dir(table)
        if not d.is_dir():
            return []
        return [d / n for n in sorted(os.listdir(d)) if _GEN.match(n) and (d / n).is_dir()]

    @staticmethod
    def _match(folder: Path, kind: str) -> list[Path]:
        out = []
        for n in sorted(os.listdir(folder)):
            if (kind in ("all", "compact") and _COMPACT.match(n)) or (
                    kind in ("all", "part") and _PART.match(n)):
                out.append(folder / n)
        return out

    def _files(self, table: str, kind: str = "all") -> list[Path]:
        """Every visible file of a table (generation folders, and the top level of stores
        written before generations existed)."""
        d = self._dir(table)
        if not d.is_dir():
            return []
        out = self._match(d, kind)
        for g in self._gens(table):
            out += self._match(g, kind)
        return out

    def repair(self) -> dict[str, int]:
        """Undo the traces of a crash: leftover temporary files, compactions staged or half
        swapped, parts already merged into a compact file, and outcome/time-series parts
        whose run-table part is missing.  Stores written before generation folders existed
        are moved into them (file by file, each move a rename).

        Returns the number of files (or staging folders) removed by kind.
        """
        removed = {"temporary": 0, "merged": 0, "orphan": 0}
        if self.folder is None:
            return removed
        self._migrate_flat(removed)
        for t in TABLES:
            d = self._dir(t)
            if not d.is_dir():
                continue
            for folder in [d, *self._gens(t)]:
                for n in os.listdir(folder):
                    if n.startswith(".") and n.endswith(".tmp"):
                        _unlink(folder / n)
                        removed["temporary"] += 1
            for n in sorted(os.listdir(d)):  # compactions staged (_gNNNNN) or half swapped
                hidden = _HIDDEN.match(n)
                if not hidden:
                    continue
                gdir, old = d / hidden.group(1), d / f"_{hidden.group(1)}.old"
                if not gdir.exists() and old.is_dir():
                    # killed between the two renames of the fallback swap: the staged compact
                    # file was complete before the parts were hidden
                    stage = d / f"_{gdir.name}"
                    os.rename(stage if stage.is_dir() and self._match(stage, "compact")
                              else old, gdir)
            for n in sorted(os.listdir(d)):
                if _HIDDEN.match(n) and (d / n).exists():
                    _remove_dir(d / n)
                    removed["temporary"] += 1
            for g in self._gens(t):
                compacts = self._match(g, "compact")
                listed = {name for c in compacts for name in _listed(c)}
                for p in self._match(g, "part"):
                    if p.name in listed:
                        _unlink(p)
                        removed["merged"] += 1
        removed["orphan"] += self._remove_orphans()
        return removed

    def _committed(self, gen: str) -> set[str]:
        """Names of the batches whose run-table part is stored in generation ``gen``."""
        g = self._dir("runs") / gen
        if not g.is_dir():
            return set()
        names = {p.name for p in self._match(g, "part")}
        for c in self._match(g, "compact"):
            names.update(_listed(c))
        return names

    def _remove_orphans(self) -> int:
        """Delete outcome/time-series parts whose run-table part was never written."""
        removed = 0
        for t in ("outcomes", "timeseries"):
            for g in self._gens(t):
                committed = self._committed(g.name)
                for p in self._match(g, "part"):
                    if p.name not in committed:
                        _unlink(p)
                        removed += 1
        return removed

    def _migrate_flat(self, removed: dict[str, int]) -> None:
        """Move a store written before generation folders into them: compact file cK →
        gK/; parts it had replaced are deleted; the other parts → one new generation."""
        flat = {t: (self._match(self._dir(t), "compact"), self._match(self._dir(t), "part"))
                for t in TABLES if self._dir(t).is_dir()}
        if not any(c or p for c, p in flat.values()):
            return
        top = max((int(m.group(1)) for c, _ in flat.values() for f in c
                   if (m := _COMPACT.match(f.name))), default=0)
        top = max([top, *(self._gen_number(g) for t in TABLES for g in self._gens(t))])
        for t, (compacts, parts) in flat.items():
            listed = {name for c in compacts for name in _listed(c)}
            for p in parts:
                if p.name in listed:
                    _unlink(p)
                    removed["merged"] += 1
                else:
                    _move(p, self._dir(t) / f"g{top + 1:05d}" / p.name)
            for c in compacts:
                _move(c, self._dir(t) / f"g{int(_COMPACT.match(c.name).group(1)):05d}" / c.name)

    @staticmethod
    def _gen_number(gdir: Path) -> int:
        return int(gdir.name[1:])

    def _next_gen(self) -> int:
        return max((self._gen_number(g) for t in TABLES for g in self._gens(t)), default=0) + 1

    # ------------------------------------------------------------------ writing
    def write(self, runs: dict[str, list[Any]], outcomes: dict[str, list[Any]] | None = None,
              timeseries: pd.DataFrame | None = None) -> None:
        """Store one batch of finished runs (columns as lists); the run table last."""
        self._seq += 1
        name = f"s{self.session:04d}-{self._seq:07d}.parquet"
        tables = {}
        if timeseries is not None and len(timeseries):
            if "date" not in timeseries.columns:  # a scenario without start: no calendar
                timeseries = timeseries.assign(date=None)
            tables["timeseries"] = pa.Table.from_pandas(timeseries, self.schemas["timeseries"],
                                                        preserve_index=False)
        if outcomes is not None and outcomes and len(outcomes["run_id"]):
            tables["outcomes"] = pa.Table.from_pydict(outcomes, self.schemas["outcomes"])
        tables["runs"] = pa.Table.from_pydict(runs, self.schemas["runs"])
        if self.folder is not None and self._gen is None:
            self._gen = self._next_gen()
        for t in ("timeseries", "outcomes", "runs"):
            if t not in tables:
                continue
            if self.folder is None:
                self.memory[t].append(tables[t])
            else:
                gdir = self._dir(t) / f"g{self._gen:05d}"
                gdir.mkdir(parents=True, exist_ok=True)
                _write_parquet(tables[t], gdir / name)
        self._parts_since_compact += 1

    def maybe_compact(self, every: int) -> None:
        """Merge part files once ``every`` batches have been written since the last merge."""
        if self._parts_since_compact >= every:
            self.compact()

    def compact(self) -> None:
        """Merge each generation's part files into one compact file.

        For each table (the run table last) and each generation folder ``gNNNNN`` holding
        parts: the merged table is written to ``cNNNNN.parquet`` in a hidden staging folder
        ``_gNNNNN``, the two folders swap names atomically (:func:`_swap`), and the old
        parts, now hidden, are deleted.  New batches then go to a new generation.  A
        generation with a part that fails its SHA-256 check is left uncompacted.
        """
        self._parts_since_compact = 0
        if self.folder is None:
            return
        self._remove_orphans()  # a batch whose run-table part failed to be written
        for t in ("timeseries", "outcomes", "runs"):
            for gdir in self._gens(t):
                parts = self._match(gdir, "part")
                if not parts or self._match(gdir, "compact"):
                    continue
                if any(digest_problem(p) for p in parts):
                    continue  # merged, a damaged part would get a new, valid digest; left
                    # as it is, --resume sets it aside and runs its runs again
                table = ds.dataset(parts, schema=self.schemas[t], format="parquet").to_table()
                table = table.sort_by([(k, "ascending") for k in KEYS[t]])
                table = table.replace_schema_metadata(
                    {_META: json.dumps([p.name for p in parts]).encode()})
                stage = gdir.with_name(f"_{gdir.name}")
                if stage.exists():
                    _remove_dir(stage)
                stage.mkdir()
                _write_parquet(table, stage / f"c{self._gen_number(gdir):05d}.parquet")
                _remove_dir(_swap(stage, gdir))
        self._gen = None

    def drop_runs(self, run_ids: Iterable[int]) -> None:
        """Remove runs from every table (to run them again), file by file, atomically."""
        ids = pa.array(sorted(set(int(i) for i in run_ids)), pa.int64())
        if len(ids) == 0:
            return
        for t in TABLES:
            if self.folder is None:
                self.memory[t] = [tab.filter(pc.invert(pc.is_in(
                    tab["run_id"], value_set=ids))) for tab in self.memory[t]]
                continue
            for f in self._files(t):
                table = pq.read_table(f, schema=self.schemas.get(t))
                keep = pc.invert(pc.is_in(table["run_id"], value_set=ids))
                if pc.all(keep).as_py():
                    continue
                meta = pq.read_schema(f).metadata
                table = table.filter(keep)
                if meta:
                    table = table.replace_schema_metadata(meta)
                _write_parquet(table, f)

    # ------------------------------------------------------------------ reading
    def read(self, table: str) -> pd.DataFrame:
        """One table as a DataFrame (sorted by run, duplicates removed)."""
        schema = self.schemas.get(table)
        if self.folder is None:
            parts = self.memory[table]
            tab = (pa.concat_tables(parts) if parts
                   else (schema.empty_table() if schema is not None else pa.table({})))
        else:
            files = self._files(table)
            if not files:
                if schema is None:
                    return pd.DataFrame()
                tab = schema.empty_table()
            else:
                bad = [(table, f, why) for f in files if (why := digest_problem(f))]
                if bad:
                    raise self._damage_error(table, None, bad)
                try:
                    tab = ds.dataset(files, schema=schema, format="parquet").to_table()
                except (OSError, pa.ArrowException) as exc:
                    raise self._damage_error(table, exc) from None
        return _dedupe(tab.to_pandas(), table)

    def _damage_error(self, table: str, exc: Exception | None,
                      bad: list[tuple[str, Path, str]] | None = None) -> ScenarioError:
        bad = bad or [b for b in self.damaged_files() if b[0] == table] or [
            (table, self._dir(table), f"{type(exc).__name__}: {_first(exc)}")]
        return ScenarioError([(str(path), "", f"cannot be read ({why}). To recover: run the "
                               "sweep again with --resume (it moves damaged files to "
                               f"{self.folder / '_damaged'}/ and runs their runs again), or "
                               "delete the file and resume") for _, path, why in bad])


def os_error_message(exc: OSError, folder: str | os.PathLike[str] | None = None) -> str:
    """What an I/O error means for a results folder, and what to do, in one sentence."""
    path = exc.filename or folder
    what = exc.strerror or _first(exc)
    code = exc.errno
    text = str(exc)
    if code == errno.ENOSPC or "No space left" in text:
        advice = "the disk is full: free some space"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or "ermission" in text:
        advice = "the folder is not writable: fix its permissions or choose another --out"
    elif code == errno.EDQUOT:
        advice = "the disk quota is exceeded: free some space"
    else:
        advice = "fix the cause"
    return f"{path}: cannot write ({what}); {advice}"


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _stringify_objects(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            typ = arrow_type(list(out[c]))
            out[c] = [to_arrow_value(v, typ) for v in out[c]]
    return out


def read_results(folder: str | os.PathLike[str], table: str = "frame",
                 group: str | None = "overall") -> pd.DataFrame:
    """Read a results folder.

    Parameters
    ----------
    folder : path-like
    table : {"frame", "runs", "outcomes", "timeseries", "design"}
        ``frame`` (default): one row per run — the run table joined with the outcomes of
        ``group``.
    group : str or None
        Group whose outcome rows are returned (``overall``, a group name, or None for all).
    """
    folder = Path(folder)
    if not (folder / "manifest.json").exists():
        raise FileNotFoundError(f"{folder} holds no experiment results (no manifest.json)")
    if table == "design":
        if not ResultsStore(folder).has_design():
            raise ScenarioError([(str(folder / "design.parquet"), "", "is missing or damaged; "
                                  "run the sweep again with --resume to recreate it from the "
                                  "experiment file")])
        return pd.read_parquet(folder / "design.parquet")
    store = ResultsStore(folder)
    if table in ("runs", "timeseries"):
        df = store.read(table)
        if table == "timeseries" and group is not None and not df.empty:
            df = df[df["group"] == group].reset_index(drop=True)
        return df
    outcomes = store.read("outcomes")
    if group is not None and not outcomes.empty:
        outcomes = outcomes[outcomes["group"] == group].reset_index(drop=True)
    if table == "outcomes":
        return outcomes
    if table != "frame":
        raise ValueError(f"unknown table {table!r}; use frame, runs, outcomes, timeseries "
                         "or design")
    return join_frame(store.read("runs"), outcomes, group)


def join_frame(runs: pd.DataFrame, outcomes: pd.DataFrame, group: str | None) -> pd.DataFrame:
    """The run table with the outcome columns of one group (one row per run)."""
    if group is None:
        return runs.merge(outcomes, how="left", on=[c for c in runs.columns
                                                    if c in outcomes.columns])
    skip = set(runs.columns) - {"run_id"}
    cols = [c for c in outcomes.columns if c not in skip and c != "group"]
    return runs.merge(outcomes[cols], how="left", on="run_id").sort_values(
        "run_id", kind="stable").reset_index(drop=True)


def now_ms() -> int:
    """Current UTC time in milliseconds (the ``finished`` column)."""
    return int(time.time() * 1000)

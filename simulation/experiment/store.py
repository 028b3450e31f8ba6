"""The results store of an experiment: Parquet tables written as each run finishes.

Layout of a results folder::

    manifest.json     experiment, its file's hash, design hash, seeds, versions, sessions
    design.parquet    one row per design point (parameters; unit coordinates if sampled)
    runs/             run table: run_id, point, replicate, [case], parameters, seed, status,
                      error, duration, model_seconds, worker, session, finished
    outcomes/         one row per run and group (groups + ``overall``): parameters, outcomes
    timeseries/       (if kept) one row per run, group and step: every metric

Each table is a folder of Parquet files that pandas reads in one call, e.g.
``pd.read_parquet("results/eng/outcomes")``.  Every finished batch of runs is written as a
new part file (``sSSSS-NNNNNNN.parquet``) through a temporary file and an atomic rename — the
run-table part last, so a run counts as done only once all its rows are stored — so a crash
or ``kill -9`` loses at most the runs in flight.  Parts are merged into compact files
(``cGGGGG.parquet``) every few hundred runs; a compact file lists the parts it replaced in its
metadata, so a crash between writing it and deleting them is repaired the next time the store
is opened (as are orphan outcome parts whose run-table part was never written).
:func:`read_results` is the robust reader (it also removes any duplicate left by such a
crash before the repair).
"""

from __future__ import annotations

import fcntl
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
from ..results import _atomic_write

__all__ = ["LOCK_NAME", "TABLES", "ResultsStore", "WriterLock", "arrow_type", "make_schemas",
           "read_results"]

TABLES = ("runs", "outcomes", "timeseries")
KEYS = {"runs": ["run_id"], "outcomes": ["run_id", "group"],
        "timeseries": ["run_id", "group", "step"]}
_PART = re.compile(r"^s\d{4}-\d{7}\.parquet$")
_COMPACT = re.compile(r"^c(\d{5})\.parquet$")
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
        self.command = command if command is not None else shlex.join(
            [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else [])
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


def make_schemas(param_types: dict[str, pa.DataType], outcome_columns: Sequence[str],
                 cases: bool) -> dict[str, pa.Schema]:
    """Arrow schemas of the run, outcome and time-series tables."""
    head = [("run_id", pa.int64()), ("point", pa.int64()), ("replicate", pa.int64())]
    if cases:
        head.append(("case", pa.string()))
    params = list(param_types.items())
    runs = pa.schema([*head, *params, ("seed", pa.int64()), ("status", pa.string()),
                      ("error", pa.string()), ("duration", pa.float64()),
                      ("model_seconds", pa.float64()), ("worker", pa.string()),
                      ("session", pa.int64()), ("finished", pa.timestamp("ms", tz="UTC"))])
    outcomes = pa.schema([*head, *params, ("group", pa.string()),
                          *[(c, pa.float64()) for c in outcome_columns]])
    timeseries = pa.schema([*head[:3], ("group", pa.string()), ("step", pa.int32()),
                            *[(m, pa.float64()) for m in METRICS]])
    return {"runs": runs, "outcomes": outcomes, "timeseries": timeseries}


def _write_parquet(table: pa.Table, path: Path) -> None:
    _atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"))


def _dedupe(df: pd.DataFrame, table: str) -> pd.DataFrame:
    keys = [k for k in KEYS[table] if k in df.columns]
    if df.empty or not keys:
        return df.reset_index(drop=True)
    df = df.drop_duplicates(subset=keys, keep="last")
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


class ResultsStore:
    """Parquet tables of one experiment in ``folder`` (or in memory when ``folder`` is None).

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
        """The manifest (empty for a memory store or a new folder)."""
        if not self.exists():
            return {}
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

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

    def _files(self, table: str, kind: str = "all") -> list[Path]:
        d = self._dir(table)
        if not d.is_dir():
            return []
        names = sorted(os.listdir(d))
        out = []
        for n in names:
            if (kind in ("all", "compact") and _COMPACT.match(n)) or (
                    kind in ("all", "part") and _PART.match(n)):
                out.append(d / n)
        return out

    def repair(self) -> dict[str, int]:
        """Undo the traces of a crash: leftover temporary files, parts already merged into a
        compact file, and outcome/time-series parts whose run-table part is missing.

        Returns the number of files removed by kind.
        """
        removed = {"temporary": 0, "merged": 0, "orphan": 0}
        if self.folder is None:
            return removed
        for t in TABLES:
            d = self._dir(t)
            if not d.is_dir():
                continue
            for n in os.listdir(d):
                if n.startswith(".") and n.endswith(".tmp"):
                    (d / n).unlink(missing_ok=True)
                    removed["temporary"] += 1
        listed: dict[str, set[str]] = {t: set() for t in TABLES}
        for t in TABLES:
            for c in self._files(t, "compact"):
                meta = pq.read_schema(c).metadata or {}
                listed[t].update(json.loads(meta.get(_META, b"[]")))
            for p in self._files(t, "part"):
                if p.name in listed[t]:
                    p.unlink()
                    removed["merged"] += 1
        committed = {p.name for p in self._files("runs", "part")} | listed["runs"]
        for t in ("outcomes", "timeseries"):
            for p in self._files(t, "part"):
                if p.name not in committed:
                    p.unlink()
                    removed["orphan"] += 1
        return removed

    # ------------------------------------------------------------------ writing
    def write(self, runs: dict[str, list[Any]], outcomes: dict[str, list[Any]] | None = None,
              timeseries: pd.DataFrame | None = None) -> None:
        """Store one batch of finished runs (columns as lists); the run table last."""
        self._seq += 1
        name = f"s{self.session:04d}-{self._seq:07d}.parquet"
        tables = {}
        if timeseries is not None and len(timeseries):
            tables["timeseries"] = pa.Table.from_pandas(timeseries, self.schemas["timeseries"],
                                                        preserve_index=False)
        if outcomes is not None and outcomes and len(outcomes["run_id"]):
            tables["outcomes"] = pa.Table.from_pydict(outcomes, self.schemas["outcomes"])
        tables["runs"] = pa.Table.from_pydict(runs, self.schemas["runs"])
        for t in ("timeseries", "outcomes", "runs"):
            if t not in tables:
                continue
            if self.folder is None:
                self.memory[t].append(tables[t])
            else:
                self._dir(t).mkdir(parents=True, exist_ok=True)
                _write_parquet(tables[t], self._dir(t) / name)
        self._parts_since_compact += 1

    def maybe_compact(self, every: int) -> None:
        """Merge part files once ``every`` batches have been written since the last merge."""
        if self._parts_since_compact >= every:
            self.compact()

    def compact(self) -> None:
        """Merge each table's part files into one new compact file, then delete them."""
        self._parts_since_compact = 0
        if self.folder is None:
            return
        gens = [int(m.group(1)) for t in TABLES for p in self._files(t, "compact")
                if (m := _COMPACT.match(p.name))]
        gen = max(gens, default=0) + 1
        for t in ("timeseries", "outcomes", "runs"):
            parts = self._files(t, "part")
            if not parts:
                continue
            table = ds.dataset(parts, schema=self.schemas[t], format="parquet").to_table()
            table = table.sort_by([(k, "ascending") for k in KEYS[t]])
            table = table.replace_schema_metadata(
                {_META: json.dumps([p.name for p in parts]).encode()})
            _write_parquet(table, self._dir(t) / f"c{gen:05d}.parquet")
            for p in parts:
                p.unlink()

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
                tab = ds.dataset(files, schema=schema, format="parquet").to_table()
        return _dedupe(tab.to_pandas(), table)


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

"""Fuzz campaign: mutated scenario and experiment files through the loaders and the real CLI.

Run from the repository root (it takes a while; use ``nice``)::

    nice .venv/bin/python benchmarks/fuzz_campaign.py                 # 10,000 / 1,200 / 300
    .venv/bin/python benchmarks/fuzz_campaign.py --cases 500 --experiments 100 --cli 20

Three stages, all driven by one seed (``--seed``):

1. **Scenarios** (``--cases``, default 10,000): a base scenario (teaching, a two-group file, a
   ``generate:`` file, a register file, an ``extends:`` variant) is parsed, mutated one to
   three times and written back as YAML (or mutated as text, or given ``--set`` overrides),
   then loaded with :func:`simulation.loader.load_scenario`.  Mutations: delete or duplicate
   keys, change a value's type, extreme numbers, NaN/inf, booleans (and YAML 1.1 words),
   numeric strings, deep nesting, long strings, special paths (``/dev/zero``, a FIFO, a
   directory, very long names, NUL bytes) in ``extends`` and data-file fields, unknown keys,
   unsafe tags, alias bombs, raw text damage (truncation, dropped or repeated lines, bytes),
   and (issue 23) symbolic links in ``extends`` leading out of the folder tree (to a file
   outside holding :data:`LEAK`, to a folder outside, to ``/etc/passwd``), path-like, blank,
   NUL and terminal-control scenario names, and values with control sequences.  A scenario
   that loads is run for two steps (at most 0.3 scale) in the same worker.
2. **Experiments** (``--experiments``, default 1,200): grid, cases, Latin hypercube, Sobol and
   Morris files over a small base, mutated the same way, through
   :func:`simulation.experiment.load_experiment` and the design layout
   (:func:`simulation.experiment.runner.prepare`, which allocates the design).
3. **CLI** (``--cli``, default 300): a seeded sample of the scenario cases (half of them ones
   the loader accepted) and of mutated command-line options through
   ``python -m simulation.cli validate`` and, if valid, ``run --steps 2 --replicates 1``, in
   subprocesses with a timeout.  A fifth of them run without ``--out`` (in a fresh working
   folder, so the default ``results/NAME`` is used) and a fifth under an address-space limit
   (``RLIMIT_AS`` of 0.6 to 2 GiB, as ``ulimit -v`` or a batch scheduler sets it).

Each case is classified as ``clean_error`` (a :class:`~simulation.loader.ScenarioError`, or
exit 2 without a traceback), ``crash`` (any other exception, a traceback, or an exit other
than 0/2), ``accepted``, ``accepted_should_not`` (the loader accepted a boolean, a string or a
non-finite number where the resolved scenario holds a number, or any non-finite number),
``accepted_then_failed`` (loaded, then the run raised) or ``hang`` (no answer within the
timeout).  Issue 23 added: ``leak`` (a message or a loaded scenario holds :data:`LEAK`, the
marker of a file outside the folder tree reached through a link), ``unbounded`` (an error of
more than 22 problems or 20,000 characters in-process; a CLI line over 2,000 characters or
more than 50 lines), ``raw_control`` (the CLI wrote an ``ESC``/``BEL``/C1 control character
it was given: the output is not a terminal, so rich adds none of its own) and
``escaped_folder`` (a run without ``--out`` wrote anywhere but one folder under
``results/``).  A CLI case whose command line the kernel refuses (an argument over 128 KiB,
``E2BIG``) is counted as ``not_run``: no shell could issue it.  Cases run in a worker
process with a 6 GiB address-space limit (the memory guard is
told 3 GiB are available), killed and restarted on a hang.

Writes ``counts.csv`` (stage, outcome, count) and ``failures.csv`` (stage, outcome,
signature, count, an example mutation) to ``--out`` (default ``benchmarks/out/fuzz``) and
prints both.  Exit status 0, or 1 if any crash, hang, accepted_should_not or
accepted_then_failed was found.
"""

from __future__ import annotations

import argparse
import collections
import csv
import errno
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

#: The marker of the file outside the fuzz folder tree that symlinked bases point to.
LEAK = "LEAK_MARKER_23"
#: Names a scenario may give itself (the default output folder is made from them).
HOSTILE_NAMES = ["/tmp/commnet_fuzz_abs", "../../escaped", "../", "..", ".", " ", "", "a\0b",
                 "\x1b]0;pwned\x07\x1b[31mRED", "\x1b[2J\x1b[H", "a/b/c", "C:\\x", "~",
                 "n" * 5000, "\u202eevil", "\r\noverwrite", "\x9b31m", "[/bold]", "[red]x"]
CONTROL = ["\x1b]0;pwned\x07", "\x1b[31mRED\x1b[0m", "\x9b2J", "\x07\x07", "a\rb", "\u202e"]

TINY = """name: tiny
seed: 5
steps: 24
need: {locality_concentration: 25, practice_concentration: 50}
groups:
  - {name: A, population: 60000, practices: {count: 8}, localities: {count: 2},
     commissioning_managers: 4}
  - {name: B, population: 90000, practices: {count: 12}, localities: {count: 3},
     commissioning_managers: 5}
providers:
  - {name: Acute, kind: acute, serves: [A, B]}
  - {name: MH, kind: mental_health, serves: [B]}
local_authorities:
  - {name: LA, serves: [A, B]}
"""

GENERATED = """name: gen
seed: 3
steps: 12
scale: 0.2
generate: {groups: 3, population: {total: 600000, median: 200000, mean: 210000}}
"""

VARIANT = """extends: tiny.yaml
name: variant
network: {gp_ties_in_locality: 2.0}
engagement: {gp: {mean: 0.4}}
exchange: {rule: deffuant, mu: 0.3}
innovation: {enabled: true, start: 2}
"""

EXPERIMENTS = {
    "grid": """name: grid
base: tiny.yaml
steps: 3
design: grid
parameters:
  engagement.gp.mean: [0.3, 0.6]
  localities.enabled: [true, false]
replicates: 1
seed: 11
outcomes:
  - accuracy_board
  - {metric: coherence_internal, reduce: mean_last, last: 2}
""",
    "cases": """name: cases
base: tiny.yaml
steps: 3
design: {kind: cases}
cases:
  - {name: low, set: {engagement.gp.mean: 0.2}}
  - {name: high, set: {engagement.gp.mean: 0.8}}
outcomes: [accuracy_board]
""",
    "lhs": """name: lhs
base: tiny.yaml
steps: 3
design: {kind: latin_hypercube, samples: 4}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  network.gp_ties_in_locality: {low: 1, high: 5}
outcomes: [accuracy_board, {metric: relevance_skill, reduce: time_to_detect, threshold: 0.1}]
""",
    "sobol": """name: sobol
base: tiny.yaml
steps: 3
design: {kind: sobol, samples: 4}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  exchange.rate: {low: 0.1, high: 0.6}
outcomes: [accuracy_board]
""",
    "morris": """name: morris
base: tiny.yaml
steps: 3
design: {kind: morris, samples: 3, levels: 4}
parameters:
  engagement.gp.mean: {low: 0.2, high: 0.8}
  exchange.rate: {low: 0.1, high: 0.6}
outcomes: [accuracy_board]
""",
}


class Raw(str):
    """A YAML fragment emitted verbatim (``.nan``, ``yes``, tags, nesting, aliases)."""


# --------------------------------------------------------------------------- YAML writing


def emit(value: Any) -> str:
    """Flow-style YAML of a value tree (``Raw`` pieces verbatim)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{emit_key(k)}: {emit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(emit(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a double-quoted YAML string


def emit_key(key: Any) -> str:
    return str(key) if isinstance(key, Raw) else emit(key if isinstance(key, str) else str(key))


def document(tree: dict[str, Any], duplicates: list[tuple[str, Any]]) -> str:
    """Block-style top level (one key per line, values in flow style), plus duplicated keys."""
    lines = [f"{emit_key(k)}: {emit(v)}" for k, v in tree.items()]
    lines += [f"{emit_key(k)}: {emit(v)}" for k, v in duplicates]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- mutations


def paths_of(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indices) to a node of the tree, the root excluded."""
    out = []
    if isinstance(tree, dict):
        items = list(tree.items())
    elif isinstance(tree, list):
        items = list(enumerate(tree))
    else:
        return out
    for k, v in items:
        p = (*prefix, k)
        out.append(p)
        out.extend(paths_of(v, p))
    return out


def get(tree: Any, path: tuple) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def put(tree: Any, path: tuple, value: Any) -> None:
    get(tree, path[:-1])[path[-1]] = value


class Mutator:
    """Seeded mutations of a parsed scenario or experiment tree."""

    def __init__(self, rng: random.Random, folder: Path):
        self.rng = rng
        self.folder = folder

    def special_path(self) -> Any:
        r = self.rng
        return r.choice([
            "/dev/zero", "/dev/stdin", "/dev/null", "/proc/self/mem", "/etc/passwd",
            "/etc/hostname.yaml", str(self.folder / "fifo.yaml"), str(self.folder),
            str(self.folder / "dir.yaml"), ".", "..", "/", "~", "~/x.yaml", "a" * r.choice([300, 5000]),
            "a" * 5000 + ".yaml", "x\0y.yaml", "../" * 40 + "etc/passwd.yaml", "nothere.yaml",
            "tiny.yaml", "variant.yaml", "../tiny.yaml", "sub/../tiny.yaml", "",
            "C:\\\\Windows\\\\x.yaml", "file:///etc/passwd", "tiny.yml", "TINY.YAML",
            "link_base.yaml", "linkdir/secret.yaml", "passwd_link.yaml", "link_inside.yaml",
        ])

    def value(self) -> tuple[Any, str]:
        """A hostile value and its kind (for the accepted-should-not check)."""
        r = self.rng
        kind = r.choice(["extreme", "nonfinite", "bool", "yaml11", "numstr", "str", "none",
                         "nest", "long", "list", "dict", "tag", "alias", "path", "int", "float",
                         "control", "biglist"])
        if kind == "control":
            return r.choice(CONTROL) + r.choice(["", "x", "1"]), "str"
        if kind == "biglist":
            return r.choice([[{"name": 1}] * 1000, ["x" * 100] * 3000]), "list"
        if kind == "extreme":
            return r.choice([1e308, -1e308, 1e-320, 2**63, 2**64, 10**30, -(10**30), -1, 0, -0.0,
                             1e12, 10**6, 2**31, 1e9, -1e-9]), "number"
        if kind == "nonfinite":
            return Raw(r.choice([".nan", ".inf", "-.inf", ".NaN", ".Inf", "+.inf"])), "nonfinite"
        if kind == "bool":
            return r.choice([True, False]), "bool"
        if kind == "yaml11":
            return Raw(r.choice(["yes", "no", "on", "off", "y", "n", "Yes", "OFF"])), "str"
        if kind == "numstr":
            return r.choice(["5", "0.3", "1e3", "-1", "0x10", "1_000", " 7 ", "nan", "inf",
                             "true"]), "str"
        if kind == "str":
            return r.choice(["", " ", "x", "é∂ƒ", "${HOME}", "$(id)", "<script>", "\t", "a:b",
                             "- x", "{", "null"]), "str"
        if kind == "none":
            return None, "none"
        if kind == "nest":
            d = r.choice([20, 33, 100, 1000, 20000])
            return Raw(r.choice(["[" * d + "]" * d, "{a: " * d + "1" + "}" * d])), "nest"
        if kind == "long":
            return "x" * r.choice([1000, 100_000, 2_000_000, 6_000_000]), "str"
        if kind == "list":
            return r.choice([[], [1], [0.5] * 6, [True, False], ["a"] * 3, list(range(10_000)),
                             [[1, 2], [3]], [None]]), "list"
        if kind == "dict":
            return r.choice([{}, {"a": 1}, {"mean": 0.5}, {"enabled": True}, {"": None}]), "dict"
        if kind == "tag":
            return Raw(r.choice(["!!python/object/apply:os.system ['true']",
                                 "!!python/name:os.system", "!!binary aGVsbG8=",
                                 "!!timestamp 2001-12-14", "!!set {a, b}", "!!float '1e999'",
                                 "!!int '99999999999999999999999'", "!custom x"])), "tag"
        if kind == "alias":
            return Raw("&a [" + ", ".join(["1"] * 9) + "]"), "alias"
        if kind == "path":
            return self.special_path(), "path"
        if kind == "int":
            return r.randint(-5, 200), "number"
        return r.choice([0.0, 0.5, 1.0, 1.5, -0.5, 3.0]), "number"

    def mutate_tree(self, tree: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[dict]]:
        """Apply 1-3 mutations in place; return the duplicated keys and the mutation log."""
        r = self.rng
        dups: list[tuple[str, Any]] = []
        log: list[dict] = []
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            paths = paths_of(tree)
            op = r.choice(["delete", "replace", "replace", "replace", "duplicate", "unknown",
                           "special_path", "alias_bomb", "type_swap", "name", "link"])
            if op == "name":  # issue 23: the name becomes the default output folder
                tree["name"] = r.choice(HOSTILE_NAMES)
                log.append({"op": op, "path": "name", "value": tree["name"][:60]})
                continue
            if op == "link":  # issue 23: a base reached through a symbolic link
                tree["extends"] = r.choice(["link_base.yaml", "linkdir/secret.yaml",
                                            "passwd_link.yaml", "link_inside.yaml"])
                log.append({"op": op, "path": "extends", "value": tree["extends"]})
                continue
            if op == "special_path":
                key = r.choice(["extends", "network.survey", "practices_from", "base"])
                if key == "network.survey":
                    tree.setdefault("network", {}) if isinstance(tree.get("network"), dict) else None
                    if isinstance(tree.get("network"), dict):
                        tree["network"]["survey"] = {"format": r.choice(["csv", "graphml", "ego"]),
                                                     "nodes": self.special_path(),
                                                     "edges": self.special_path()}
                elif key == "practices_from":
                    tree["practices_from"] = {"file": self.special_path(),
                                              "format": r.choice(["plain", "nhs_digital"])}
                else:
                    tree[key] = self.special_path()
                log.append({"op": op, "path": key})
                continue
            if op == "alias_bomb":
                layers = r.choice([4, 8, 12])
                lines = ["&l0 [" + ", ".join(["x"] * 9) + "]"]
                bomb = Raw("[" + ", ".join(["*l0"] * 9) + "]")
                tree["zz_a"] = Raw(lines[0])
                for i in range(1, layers):
                    tree[f"zz_{i}"] = Raw(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
                tree["description"] = bomb if r.random() < 0.5 else Raw(f"*l{layers - 1}")
                log.append({"op": op, "path": "description", "layers": layers})
                continue
            if op == "unknown" or not paths:
                target = get(tree, r.choice(paths)[:-1]) if paths and r.random() < 0.5 else tree
                if isinstance(target, dict):
                    target[r.choice(["sede", "stepz", "x", "exchange_rate", "Name", "1", "null"])] = 1
                log.append({"op": "unknown"})
                continue
            path = r.choice(paths)
            where = ".".join(map(str, path))
            if op == "delete":
                parent = get(tree, path[:-1])
                if isinstance(parent, dict):
                    parent.pop(path[-1], None)
                else:
                    parent.pop(path[-1])
                log.append({"op": op, "path": where})
            elif op == "duplicate" and len(path) == 1:
                dups.append((path[0], self.value()[0] if r.random() < 0.5 else get(tree, path)))
                log.append({"op": op, "path": where})
            elif op == "type_swap":
                old = get(tree, path)
                new = {bool: 1, int: str(old), float: [old], str: 0.5, list: {"0": old},
                       dict: [old], type(None): 0}.get(type(old), None)
                put(tree, path, new)
                log.append({"op": op, "path": where, "kind": type(new).__name__})
            else:
                value, kind = self.value()
                put(tree, path, value)
                log.append({"op": "replace", "path": where, "kind": kind,
                            "value": str(value)[:60]})
        return dups, log

    def mutate_text(self, text: str) -> tuple[str, dict]:
        """Damage the YAML text itself."""
        r = self.rng
        lines = text.splitlines()
        op = r.choice(["truncate", "drop_line", "repeat_line", "indent", "bytes", "tab",
                       "concat_docs", "bom", "crlf"])
        if op == "truncate":
            text = text[: r.randrange(len(text))]
        elif op == "drop_line" and lines:
            lines.pop(r.randrange(len(lines)))
            text = "\n".join(lines)
        elif op == "repeat_line" and lines:
            i = r.randrange(len(lines))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif op == "indent" and lines:
            i = r.randrange(len(lines))
            lines[i] = " " * r.choice([1, 3, 7]) + lines[i]
            text = "\n".join(lines)
        elif op == "bytes":
            b = bytearray(text.encode())
            for _ in range(r.choice([1, 3, 10])):
                b[r.randrange(len(b))] = r.randrange(256)
            text = b.decode("utf-8", errors="surrogateescape")
        elif op == "tab" and lines:
            i = r.randrange(len(lines))
            lines[i] = "\t" + lines[i]
            text = "\n".join(lines)
        elif op == "concat_docs":
            text = text + "\n---\n" + text
        elif op == "bom":
            text = "\ufeff" + text
        else:
            text = text.replace("\n", "\r\n")
        return text, {"op": "text_" + op}

    def overrides(self, tree: dict[str, Any]) -> tuple[list[str], list[dict]]:
        r = self.rng
        out, log = [], []
        paths = [p for p in paths_of(tree) if all(isinstance(x, str | int) for x in p)]
        for _ in range(r.choice([1, 1, 2, 3])):
            if paths and r.random() < 0.8:
                path = ".".join(map(str, r.choice(paths)))
            else:
                path = r.choice(["", ".", "a..b", "groups.99.population", "groups.-1.name",
                                 "seed.x", "x" * 3000, "network.survey.nodes", "steps.0"])
            value, kind = self.value()
            text = emit(value) if not isinstance(value, str) or isinstance(value, Raw) else value
            if r.random() < 0.1:
                text = r.choice(["", "=", "[", "{a:", "!!python/object:x", "a=b=c"])
            out.append(f"{path}={text}" if r.random() > 0.03 else path)
            # --set text is parsed as YAML: "5" is the number 5 there, not a quoted string
            kind = "set_text" if kind == "str" and not isinstance(value, Raw) else kind
            log.append({"op": "set", "path": path, "kind": kind, "value": text[:60]})
        return out, log


# --------------------------------------------------------------------------- the worker


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/simulation/" in f.filename]
    where = ""
    if ours:
        f = ours[-1]
        where = f" at {Path(f.filename).name}:{f.name}"
    elif frames:
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].name}"
    msg = re.sub(r"\d+", "N", str(exc).splitlines()[0] if str(exc) else "")[:90]
    return f"{type(exc).__name__}{where}: {msg}"


def _non_finite(value: Any, path: str = "") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "<root>"
    if isinstance(value, dict):
        for k, v in value.items():
            hit = _non_finite(v, f"{path}.{k}" if path else str(k))
            if hit:
                return hit
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            hit = _non_finite(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


def _lookup(dump: Any, path: str) -> Any:
    node = dump
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return KeyError
    return node


def _should_not(scenario: Any, log: list[dict]) -> str | None:
    dump = scenario.model_dump(mode="python")
    hit = _non_finite(dump)
    if hit:
        return f"non-finite number accepted at {re.sub(r'[0-9]+', 'N', hit)}"
    last: dict[str, Any] = {}  # a later mutation of a field, or of one enclosing it, wins
    for m in log:
        path = m.get("path", "")
        for inner in [p for p in last if p.startswith(path + ".")]:
            del last[inner]
        last[path] = m.get("kind")
    for path, kind in last.items():
        if kind not in ("bool", "str", "nonfinite") or not path:
            continue
        got = _lookup(dump, path)
        if isinstance(got, int | float) and not isinstance(got, bool):
            field = re.sub(r"\.[0-9]+", ".N", path)
            return f"{kind} read as a number at {field}"
    return None


def _judge_error(exc: Exception) -> tuple[str, str]:
    """A ScenarioError: ``clean_error``, or ``leak``/``unbounded`` (issue 23)."""
    text = str(exc)
    if LEAK in text or "root:x:0:0" in text:
        return "leak", "an error echoes a file reached through a link"
    problems = getattr(exc, "problems", [])
    if len(problems) > 22 or len(text) > 20_000:
        return "unbounded", f"{len(problems)} problems, {len(text):,} characters"
    return "clean_error", ""


def _run_case(task: dict) -> tuple[str, str]:
    """Classify one case (runs in the worker)."""
    from simulation.loader import ScenarioError, load_scenario

    if task["stage"] == "experiment":
        from simulation.experiment import load_experiment
        from simulation.experiment.runner import prepare

        try:
            exp = load_experiment(task["path"])
        except ScenarioError as exc:
            return _judge_error(exc)
        except Exception as exc:
            return "crash", _signature(exc)
        try:
            prepare(exp)
        except ScenarioError:
            return "clean_error", ""
        except Exception as exc:
            return "accepted_then_failed", _signature(exc)
        return "accepted", ""
    try:
        s = load_scenario(task["path"], task.get("overrides", []))
    except ScenarioError as exc:
        return _judge_error(exc)
    except Exception as exc:
        return "crash", _signature(exc)
    if LEAK in s.description or LEAK in s.name:
        return "leak", "a base outside the folder tree was read through a link"
    bad = _should_not(s, task["log"])
    if bad:
        return "accepted_should_not", bad
    from simulation.model import CommissioningModel

    try:
        small = s.model_copy(update={"steps": min(s.steps, 2), "burn_in": min(s.burn_in, 2),
                                     "scale": min(s.scale, 0.3)})
        m = CommissioningModel(small, collect=True)
        for _ in range(small.steps):
            m.step()
    except Exception as exc:
        return "accepted_then_failed", _signature(exc)
    return "accepted", ""


MEMORY_LIMIT = 6 * 2**30
GUARD_MEMORY = 3 * 2**30


def _worker(conn) -> None:  # pragma: no cover - runs in a child process
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from simulation import loader

    real = loader.available_memory
    loader.available_memory = lambda: min(real() or GUARD_MEMORY, GUARD_MEMORY)
    import warnings

    import simulation.experiment.runner
    import simulation.model  # noqa: F401

    warnings.simplefilter("ignore")
    conn.send("ready")
    while True:
        task = conn.recv()
        if task is None:
            return
        try:
            result = _run_case(task)
        except BaseException as exc:
            result = ("crash", _signature(exc))
        conn.send(result)


class Pool:
    """One worker process; a case that does not answer in time is a hang (worker restarted)."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.ctx = mp.get_context("fork")
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        self.conn = parent
        if not parent.poll(900) or parent.recv() != "ready":  # imports are not the case's time
            raise RuntimeError("fuzz worker did not start")

    def run(self, task: dict) -> tuple[str, str]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(task)
        if self.conn.poll(self.timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        else:
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return "hang", f"no answer in {self.timeout:.0f} s"
        code = self.proc.exitcode if self.proc else None
        self.proc.join()
        self.proc = None
        return "crash", f"worker died (exit {code})"

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()


# --------------------------------------------------------------------------- stages


def _setup(folder: Path) -> dict[str, Path]:
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "variant.yaml").write_text(VARIANT)
    (folder / "gen.yaml").write_text(GENERATED)
    (folder / "dir.yaml").mkdir(exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    fifo = folder / "fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    # issue 23: bases reached through links (outside: a secret file and folder; inside: fine).
    # "Outside" is outside every file's folder tree: the trees are FOLDER/cases (scenarios)
    # and FOLDER's parent (experiments, which sit in FOLDER), so it is beside that parent.
    outside = folder.parent.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.yaml").write_text(TINY.replace("name: tiny", f"name: tiny\ndescription: {LEAK}")
                                         + f"{LEAK}: 1\n")
    for where in (folder, folder / "cases"):
        where.mkdir(exist_ok=True)
        for name, target in (("link_base.yaml", outside / "secret.yaml"), ("linkdir", outside),
                             ("passwd_link.yaml", Path("/etc/passwd")),
                             ("link_inside.yaml", folder / "tiny.yaml")):
            if not (where / name).is_symlink():
                (where / name).symlink_to(target)
    register = yaml.safe_load((ROOT / "scenarios" / "register_plain.yaml").read_text())
    register["practices_from"]["file"] = str(ROOT / "data" / "synthetic" / "practices_plain.csv")
    (folder / "register.yaml").write_text(yaml.safe_dump(register, sort_keys=False))
    (folder / "teaching.yaml").write_text((ROOT / "scenarios" / "teaching.yaml").read_text())
    bases = {n: folder / f"{n}.yaml" for n in ("teaching", "tiny", "gen", "register", "variant")}
    for name, text in EXPERIMENTS.items():
        (folder / f"exp_{name}.yaml").write_text(text)
    return bases


def make_case(i: int, rng: random.Random, folder: Path, bases: dict[str, Path],
              stage: str) -> dict:
    """Write mutated case ``i`` and return its task."""
    mut = Mutator(rng, folder)
    if stage == "experiment":
        name = rng.choice(list(EXPERIMENTS))
        text = EXPERIMENTS[name]
    else:
        name = rng.choice(list(bases))
        text = bases[name].read_text()
    path = folder / "cases" / f"{stage[0]}{i:05d}.yaml"
    tree = yaml.safe_load(text)
    choice = rng.random()
    overrides: list[str] = []
    if choice < 0.12:  # raw text damage
        out, entry = mut.mutate_text(text)
        log = [entry]
    elif choice < 0.27 and stage == "scenario":  # --set overrides on the untouched base
        out = text
        overrides, log = mut.overrides(tree)
    else:
        dups, log = mut.mutate_tree(tree)
        out = document(tree, dups)
    path.write_bytes(out.encode("utf-8", errors="surrogateescape"))
    return {"stage": stage, "id": i, "base": name, "path": str(path), "overrides": overrides,
            "log": log}


def run_stage(stage: str, n: int, rng: random.Random, folder: Path, bases: dict[str, Path],
              pool: Pool, record, keep: list, verbose: bool = False, write_tables=None) -> None:
    t0 = time.time()
    for i in range(n):
        task = make_case(i, rng, folder, bases, stage)
        t1 = time.time()
        outcome, sig = pool.run(task)
        if verbose:
            slow = json.dumps(task["log"])[:300] if time.time() - t1 > 2 else ""
            print(f"    {stage} {i} {task['base']} {outcome} {time.time() - t1:.1f} s {sig[:80]} {slow}",
                  flush=True)
        record(stage, outcome, sig, task)
        if stage == "scenario":
            keep.append((task, outcome))
        if (i + 1) % 250 == 0:
            print(f"  {stage}: {i + 1}/{n} in {time.time() - t0:.0f} s", flush=True)
            if write_tables:
                write_tables()  # partial tables while the campaign runs


CLI_OPTIONS = [
    ["--seed", "-1"], ["--seed", str(2**64)], ["--seed", "abc"], ["--seed", "1e3"],
    ["--steps", "0"], ["--steps", "-1"], ["--steps", "2.5"], ["--steps", str(10**9)],
    ["--replicates", "0"], ["--set", "steps=" + "[" * 200 + "]" * 200],
    ["--set", "a" * 5000 + "=1"], ["--set", "seed=.inf"], ["--set", "=1"], ["--set", "noequals"],
    ["--set", "groups.7.population=1"], ["--set", "exchange.rate=yes"], ["--out", "/dev/null/x"],
    ["--out", "/proc/x"],
]
CLI_FILES = ["/dev/zero", "/dev/stdin", "fifo.yaml", "dir.yaml", "a" * 5000 + ".yaml",
             "nothere.yaml", "/etc/passwd"]


_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _cli(args: list[str], cwd: Path, timeout: float,
         address_space: int | None = None) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",
           "COLUMNS": "200"}

    def limit() -> None:  # pragma: no cover - runs in the child
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    try:
        proc = subprocess.run([sys.executable, "-m", "simulation.cli", *args], cwd=cwd,
                              capture_output=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, check=False,
                              preexec_fn=limit if address_space else None)
    except subprocess.TimeoutExpired:
        return "hang", f"{args[0]}: no exit in {timeout:.0f} s"
    except OSError as exc:  # the kernel refuses the command line itself (an argument over
        if exc.errno == errno.E2BIG:  # 128 KiB): no shell could run it, nothing to test
            return "not_run", f"{args[0]}: the command line is too long for the system"
        raise
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    if "Traceback" in text or proc.returncode not in (0, 2):
        last = [ln for ln in text.strip().splitlines() if ln.strip()][-1:] or [""]
        return "crash", f"{args[0]} exit {proc.returncode}: " + re.sub(r"\d+", "N", last[0])[:100]
    hit = _RAW_CONTROL.search(text.replace("\n", "").replace("\t", ""))
    if hit:
        return "raw_control", f"{args[0]}: U+{ord(hit.group()):04X} written to the terminal"
    if LEAK in text or "root:x:0:0" in text:
        return "leak", f"{args[0]}: output echoes a file reached through a link"
    lines = text.splitlines()
    if len(lines) > 50 or max(map(len, lines), default=0) > 2000:
        return "unbounded", f"{args[0]}: {len(lines)} lines, longest {max(map(len, lines)):,}"
    return ("accepted" if proc.returncode == 0 else "clean_error"), ""


def run_cli(n: int, rng: random.Random, folder: Path, keep: list, timeout: float,
            record) -> None:
    accepted = [t for t, o in keep if o == "accepted"]
    other = [t for t, o in keep if o != "accepted"]
    picks = rng.sample(accepted, min(len(accepted), n // 2))
    picks += rng.sample(other, min(len(other), n - len(picks)))
    rng.shuffle(picks)
    t0 = time.time()
    for i, task in enumerate(picks):
        files = [task["path"]]
        extra: list[str] = [a for o in task["overrides"] for a in ("--set", o)]
        if rng.random() < 0.25:
            extra += rng.choice(CLI_OPTIONS)
        if rng.random() < 0.1:
            files = [rng.choice(CLI_FILES)]
        sub = dict(task, log=task["log"] + [{"op": "cli", "args": extra, "files": files}])
        sets = [a for k, v in zip(extra[::2], extra[1::2], strict=False) if k == "--set"
                for a in (k, v)]
        limit = rng.choice([600, 900, 1200, 2048]) * 2**20 if rng.random() < 0.2 else None
        default_out = rng.random() < 0.2
        if limit or default_out:
            sub["log"].append({"op": "cli", "address_space": limit, "default_out": default_out})
        outcome, sig = _cli(["validate", *files, *sets], folder, timeout, limit)
        if outcome == "accepted":
            out = folder / "cli_out" / f"{i}"
            if default_out:  # a fresh working folder: results/NAME must be the only thing made
                work = folder / "cli_cwd" / f"{i}" / "a" / "b"
                work.mkdir(parents=True)
                files = [f if Path(f).is_absolute() else str(folder / f) for f in files]
                outcome, sig = _cli(["run", *files, "--steps", "2", "--replicates", "1",
                                     "--quiet", "--no-figures", *extra], work, timeout, limit)
                made = [p.relative_to(folder / "cli_cwd" / f"{i}")
                        for p in (folder / "cli_cwd" / f"{i}").rglob("*")]
                runs = {p.parts[3] for p in made if len(p.parts) > 3 and p.parts[2] == "results"}
                strays = [p for p in made if p.parts[:3] != ("a", "b", "results")
                          and p not in (Path("a"), Path("a/b"))]
                if outcome == "accepted" and (strays or len(runs) != 1):
                    outcome, sig = "escaped_folder", f"wrote {[str(p) for p in strays][:3]}"
                shutil.rmtree(folder / "cli_cwd" / f"{i}", ignore_errors=True)
            else:
                outcome, sig = _cli(["run", *files, "--steps", "2", "--replicates", "1",
                                     "--quiet", "--no-figures", "--out", str(out), *extra],
                                    folder, timeout, limit)
            shutil.rmtree(out, ignore_errors=True)
        record("cli", outcome, sig, sub)
        if (i + 1) % 50 == 0:
            print(f"  cli: {i + 1}/{len(picks)} in {time.time() - t0:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="mutated scenarios")
    ap.add_argument("--experiments", type=int, default=1_200, help="mutated experiment files")
    ap.add_argument("--cli", type=int, default=300, help="cases through the real CLI")
    ap.add_argument("--seed", type=int, default=20130401)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    ap.add_argument("--verbose", action="store_true", help="print every case")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "fuzz")
    args = ap.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    counts: collections.Counter = collections.Counter()
    failures: dict[tuple[str, str, str], list] = {}

    def record(stage: str, outcome: str, sig: str, task: dict) -> None:
        counts[(stage, outcome)] += 1
        if outcome not in ("clean_error", "accepted", "not_run"):
            entry = failures.setdefault((stage, outcome, sig), [0, task])
            entry[0] += 1

    def write_tables() -> None:
        with (args.out / "counts.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["stage", "outcome", "count"])
            for (stage, outcome), c in sorted(counts.items()):
                w.writerow([stage, outcome, c])
        with (args.out / "failures.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["stage", "outcome", "signature", "count", "example"])
            for (stage, outcome, sig), (c, task) in sorted(failures.items(), key=lambda kv: -kv[1][0]):
                example = json.dumps({"base": task["base"], "overrides": task["overrides"],
                                      "mutations": task["log"]})[:600]
                w.writerow([stage, outcome, sig, c, example])

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="commnet_fuzz_") as tmp:
        folder = Path(tmp) / "project" / "work"  # the links' target: tmp/outside (_setup)
        (folder / "cases").mkdir(parents=True)
        bases = _setup(folder)
        for name in ("tiny.yaml", "variant.yaml"):  # relative extends from the cases folder
            shutil.copy(folder / name, folder / "cases" / name)
        rng = random.Random(args.seed)
        pool = Pool(args.timeout)
        keep: list = []
        try:
            print(f"scenarios: {args.cases}", flush=True)
            run_stage("scenario", args.cases, rng, folder, bases, pool, record, keep, args.verbose,
                      write_tables)
            print(f"experiments: {args.experiments}", flush=True)
            for name in ("tiny.yaml",):
                shutil.copy(folder / name, folder / "cases" / name)
            run_stage("experiment", args.experiments, rng, folder, bases, pool, record, keep,
                      args.verbose, write_tables)
        finally:
            pool.close()
        print(f"cli: {args.cli}", flush=True)
        run_cli(args.cli, rng, folder, keep, args.timeout, record)
    shutil.rmtree(HOSTILE_NAMES[0], ignore_errors=True)  # where an unchecked name would write
    elapsed = time.time() - t0

    write_tables()
    print(f"\n{'stage':<11} {'outcome':<22} {'count':>6}   ({elapsed:.0f} s, seed {args.seed})")
    for (stage, outcome), c in sorted(counts.items()):
        print(f"{stage:<11} {outcome:<22} {c:>6}")
    print(f"\ndistinct failures: {len(failures)}")
    for (stage, outcome, sig), (c, _) in sorted(failures.items(), key=lambda kv: -kv[1][0]):
        print(f"  {c:>5}  {stage:<10} {outcome:<22} {sig}")
    print(f"\nwritten: {args.out / 'counts.csv'}, {args.out / 'failures.csv'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

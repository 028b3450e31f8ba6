"""Print the import graph of commnet's input layer and check that it flows one way.

    python benchmarks/import_graph.py          # layers, edges, violations; exit 1 if any
    python benchmarks/import_graph.py --all    # also every module of simulation/ and its cycles

The graph is read from the source with :mod:`ast`, not by importing: every ``import`` and
``from ... import`` of a ``simulation`` module counts, at module level, inside functions
(lazy imports) and inside ``if TYPE_CHECKING:`` blocks alike, so a circle cannot hide behind a
lazy import.  The input layer (:data:`LAYERS`, bottom first) must only import downward or
within its own layer, must not import other ``simulation`` modules (except the leaf helpers
in :data:`LEAVES`), and must have no circle.  ``tests/test_import_layers.py`` runs
:func:`violations` and fails if it finds any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulation"

#: The input layer, bottom first.  A module may import modules of its own layer or below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("errors and shared types", ("_text", "errors", "kinds", "schema")),
    ("schema", ("input_specs", "generate", "scenario")),
    ("file readers and the memory guard",
     ("csvfiles", "covariates", "registers", "surveyed", "memory")),
    ("builders (take validated scenarios and read data)", ("population", "survey_match",
                                                           "network")),
    ("loader", ("loader",)),
]
#: simulation modules outside the layer that input modules may use (they import nothing of
#: commnet's).
LEAVES = ("_numeric", "calendar_time")


def module_imports(path: Path, package: str = "simulation", *, in_subpackage: bool | None = None
                   ) -> set[str]:
    """The ``simulation`` modules that the file at ``path`` imports, anywhere in it.

    ``from . import a, b`` gives ``a`` and ``b``; ``from .a import x`` and
    ``from simulation.a import x`` give ``a``; ``import simulation.a`` gives ``a``.  Names
    are those of modules directly below ``simulation/`` (``simulation.experiment.spec`` →
    ``experiment``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # a module of a subpackage ('.' is the subpackage); default: judged from the path
    inside_sub = path.parent != PACKAGE if in_subpackage is None else in_subpackage
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != package:
                    continue
                if len(parts) > 1:
                    out.add(parts[1])
                else:
                    out.update(a.name for a in node.names)
                continue
            level = node.level - (1 if inside_sub else 0)
            if level > 1:
                continue  # above the package
            if level == 0:  # relative within a subpackage: the subpackage itself
                out.add(path.parent.name)
                continue
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package and len(parts) > 1:
                    out.add(parts[1])
    out.discard(path.stem if not inside_sub else path.parent.name)
    # names imported from the package that are not modules (``from . import __version__``)
    return {m for m in out if (PACKAGE / f"{m}.py").is_file() or (PACKAGE / m).is_dir()}


def graph() -> dict[str, set[str]]:
    """Every module directly below simulation/ (subpackages as one node) to its imports."""
    g: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        name = rel.parts[0] if len(rel.parts) > 1 else path.stem
        if name == "__init__":
            continue
        g.setdefault(name, set()).update(module_imports(path))
    return g


def cycles(g: dict[str, set[str]], nodes: set[str] | None = None) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), restricted to
    ``nodes`` if given."""
    keep = set(g) if nodes is None else nodes & set(g)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ()) & keep):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(keep):
        if v not in index:
            visit(v)
    return out


def layer_of() -> dict[str, int]:
    """Input-layer module → its layer (0 = bottom)."""
    return {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}


def violations(g: dict[str, set[str]] | None = None) -> list[str]:
    """Upward imports, imports of modules outside the layer, and circles in the input layer."""
    g = graph() if g is None else g
    layer = layer_of()
    problems = []
    for m in sorted(layer):
        if m not in g:
            continue
        for dep in sorted(g[m]):
            if dep in LEAVES:
                continue
            if dep not in layer:
                problems.append(f"{m} (layer {layer[m]}) imports {dep}, which is outside the "
                                "input layer")
            elif layer[dep] > layer[m]:
                problems.append(f"{m} ({LAYERS[layer[m]][0]}) imports {dep} "
                                f"({LAYERS[layer[dep]][0]}): upward")
    problems += [f"circle among {', '.join(c)}" for c in cycles(g, set(layer))]
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the graph; exit status 1 if the input layer has a violation."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="also list every module and its cycles")
    args = ap.parse_args(argv)
    g = graph()
    layer = layer_of()
    print("input layer, top first (each module: the simulation modules it imports)")
    for i in reversed(range(len(LAYERS))):
        title, mods = LAYERS[i]
        print(f"\n[{i}] {title}")
        for m in mods:
            if m in g:
                deps = sorted(g[m])
                shown = [f"{d}[{layer[d]}]" if d in layer else d for d in deps]
                print(f"    {m:<13} -> {', '.join(shown) or '(nothing)'}")
    if args.all:
        print("\nall modules")
        for m in sorted(g):
            print(f"    {m:<18} -> {', '.join(sorted(g[m])) or '(nothing)'}")
        found = cycles(g)
        print("\ncircles in the whole package: "
              + ("; ".join(" <-> ".join(c) for c in found) if found else "none"))
    bad = violations(g)
    print("\ninput layer: " + ("flows one way, no circle" if not bad else "VIOLATIONS"))
    for b in bad:
        print(f"    {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

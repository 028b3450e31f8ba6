"""The command line: start-up imports, help, version, overwrite guard, documented commands."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

HEAVY = ("mesa", "pandas", "pyarrow", "scipy", "networkx", "matplotlib", "SALib", "dask")


def _modules_after(code: str) -> set[str]:
    """Top-level modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module():
    loaded = _modules_after("import simulation.cli")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert "numpy" not in loaded and "pydantic" not in loaded


def test_importing_the_package_is_lazy_and_keeps_its_public_names():
    loaded = _modules_after("import simulation")
    assert not loaded & {*HEAVY, "numpy"}, sorted(loaded & {*HEAVY, "numpy"})
    import simulation

    assert sorted(simulation.__all__) == sorted(simulation._LAZY)
    for name in simulation.__all__:  # every public name resolves to the real object
        obj = getattr(simulation, name)
        module = sys.modules[f"simulation.{simulation._LAZY[name]}"]
        assert obj is getattr(module, name)
    assert set(simulation.__all__) <= set(dir(simulation))


def test_submodule_import_still_works_through_the_lazy_package():
    from simulation import needs

    assert needs.__name__ == "simulation.needs"


def test_validating_a_scenario_needs_no_numpy_or_heavy_module():
    loaded = _modules_after(
        "from simulation.loader import load_scenario\n"
        f"load_scenario({str(SCENARIOS / 'teaching.yaml')!r})")
    assert not loaded & {*HEAVY, "numpy"}, sorted(loaded & {*HEAVY, "numpy"})


def test_unknown_package_attribute_is_an_attribute_error():
    import pytest

    import simulation

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        simulation.nonexistent  # noqa: B018

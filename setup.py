"""Build step: the package data, including the top-level project folders (metadata: pyproject.toml).

``scenarios/``, ``experiments/``, ``calibration/``, ``data/``, ``notebooks/`` and ``docs/``
stay where the project card puts them (the only copy in git); each becomes a sub-package
``simulation.project.<folder>`` mapped onto that folder, with every file of it as package
data, so a wheel installs them under ``simulation/project/``.  ``simulation/project.py``
lists the files (standard library only, run here without importing the package);
``tests/test_packaging.py`` checks the list against git and builds, installs and runs a
wheel, and ``commnet init DIR`` copies them out again.

All package data is declared here, the report templates too: a
``[tool.setuptools.package-data]`` table in pyproject.toml would *replace* this
``package_data`` (setuptools gives the table precedence), and the wheel would ship no project.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
project = runpy.run_path(str(HERE / "simulation" / "project.py"))

package_dir = {}
package_data = {"simulation.report": ["templates/*.j2"]}
for folder in project["TEMPLATE_FOLDERS"]:
    name = f"simulation.project.{folder}"
    package_dir[name] = folder
    package_data[name] = [f.removeprefix(f"{folder}/") for f in project["template_files"](HERE)
                          if f.startswith(f"{folder}/")]

setup(
    packages=find_packages(include=["simulation", "simulation.*"]) + sorted(package_dir),
    package_dir=package_dir,
    package_data=package_data,
    include_package_data=False,
)

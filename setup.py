"""Build step: ship the top-level project folders inside the package (metadata: pyproject.toml).

``scenarios/``, ``experiments/``, ``calibration/`` and ``data/`` stay where the project card
puts them (the only copy in git); each becomes a sub-package ``simulation.project.<folder>``
mapped onto that folder, with every file of it as package data, so a wheel installs them
under ``simulation/project/``.  ``simulation/project.py`` lists the files (standard library
only, run here without importing the package); ``tests/test_packaging.py`` checks the list
against git, and ``commnet init DIR`` copies them out again.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
project = runpy.run_path(str(HERE / "simulation" / "project.py"))

package_dir = {}
package_data = {}
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

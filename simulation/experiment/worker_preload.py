"""Imported once by the local pool's forkserver (:func:`simulation.experiment.executors._pool`):
loads the compiled kernels (:func:`simulation._kernels.kernels`: numba's import and the
kernels' compile or on-disk cache load, ≈ 0.5–1 s) in the server process, so every worker
forked from it starts with them loaded and the pool pays that cost once, not once per
worker.  With ``COMMNET_KERNELS=numpy``, or without numba, it loads nothing."""

from __future__ import annotations

from simulation import _kernels

try:
    _kernels.kernels()
except (ImportError, ValueError):  # reported by the first run in a worker, with its message
    pass

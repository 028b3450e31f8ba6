"""The teaching app: a browser front end to the commissioning model on Mesa's SolaraViz.

``commnet app [SCENARIO] --port N`` starts it (:func:`simulation.app.launch.launch`).
The page lives in :mod:`simulation.app.app` (imports Solara); everything that can be tested
without a browser — the lock-step wrapper model, controls generated from the scenario schema,
the seeded network layout, colours, drawing and charts — is in
:mod:`simulation.app.components`, which needs only numpy and matplotlib.
"""

from __future__ import annotations

__all__: list[str] = []

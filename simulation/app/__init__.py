"""The teaching app: a browser front end to the commissioning model (Solara, with Mesa's
Reset / Play / Step controller).

``commnet app [SCENARIO] --port N`` starts it (:func:`simulation.app.launch.launch`), which
runs :mod:`simulation.app.serve` (Solara's server behind a loopback ``Host``/``Origin`` check).
The page lives in :mod:`simulation.app.app` (imports Solara); everything that can be tested
without a browser needs only numpy and matplotlib and is split by concern — controls
(:mod:`.controls`), scenario listing (:mod:`.scenarios`), network layout (:mod:`.layout`),
network drawing (:mod:`.network`), charts (:mod:`.charts`), figure style (:mod:`.style`), the
teaching model (:mod:`.teaching`) and the Info text (:mod:`.info`); :mod:`.components`
re-exports them all.
"""

from __future__ import annotations

__all__: list[str] = []

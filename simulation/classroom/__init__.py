"""The commissioning game: a class plays seats of one shared run (issue 22).

* :mod:`.session` — :class:`Session`, the Python API of a lesson (join, submit, advance,
  state) on :class:`ClassroomModel`, the model whose phases take the students' choices;
* :mod:`.debrief` — the logged decisions as behaviour parameters, run against the scenario;
* :mod:`.server` — the Starlette app (facilitator hub, student pages) and ``commnet classroom``.

The model layer never imports this package.
"""

from .session import ChoiceError, ClassroomModel, Session, SessionClosed

__all__ = ["ChoiceError", "ClassroomModel", "Session", "SessionClosed"]

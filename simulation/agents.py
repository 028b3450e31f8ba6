"""The stakeholders as Mesa agents: identity and behaviour; hot state lives in model arrays.

Each agent occupies a *slot* (a row of the model's arrays).  Its belief, objective and
engagement are views into those arrays, so the model's vectorised phases and the agents see
the same state.  Its identity is the slot's occupant: ``unique_id`` and ``joined`` are views
into ``model.occupant_id`` and ``model.joined``.  Monthly turnover
(:meth:`~simulation.model.CommissioningModel.replace`) hands a slot to a newcomer by giving
its agent a fresh ``unique_id`` (from Mesa's counter) and ``joined`` month, vectorised over
all leavers; the agent object stays registered, as the seat it is.  :meth:`CommissioningAgent.leave`
is the one-agent form with Mesa's full removal: the leaver is removed from the model (keeping
its id) and a new agent object of the same type takes the slot (counts hold either way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from .population import GP, LOCAL_AUTHORITY, MANAGER, PATIENT, PROVIDER, ROLES

if TYPE_CHECKING:  # pragma: no cover
    from .model import CommissioningModel

__all__ = [
    "AGENT_CLASSES",
    "CommissioningAgent",
    "GPAgent",
    "LocalAuthorityAgent",
    "ManagerAgent",
    "PatientAgent",
    "ProviderAgent",
]


class CommissioningAgent(mesa.Agent):
    """A stakeholder of a commissioning network occupying one slot of the model's arrays."""

    kind: ClassVar[int]
    model: CommissioningModel

    def __init__(self, model: CommissioningModel, slot: int) -> None:
        self.slot = int(slot)
        super().__init__(model)  # Mesa registers the agent and sets unique_id
        self.joined = int(model.steps)

    # ----------------------------------------------------------------- identity
    @property
    def unique_id(self) -> int | None:
        """Id of the person in the slot (``model.occupant_id[slot]``); a removed agent keeps
        the id it had."""
        left = self.__dict__.get("_left_id")
        return left if left is not None else int(self.model.occupant_id[self.slot])

    @unique_id.setter
    def unique_id(self, value: int | None) -> None:
        if value is not None:  # Mesa sets None before registering
            self.model.occupant_id[self.slot] = value

    @property
    def joined(self) -> int:
        """Step at which the slot's current occupant joined (``model.joined[slot]``)."""
        left = self.__dict__.get("_left_joined")
        return left if left is not None else int(self.model.joined[self.slot])

    @joined.setter
    def joined(self, value: int) -> None:
        self.model.joined[self.slot] = value

    # ----------------------------------------------------------------- state views
    @property
    def belief(self) -> np.ndarray:
        """Belief about need over services (a view into ``model.belief``)."""
        return self.model.belief[self.slot]

    @property
    def objective(self) -> np.ndarray:
        """Priority weights over services (a view into ``model.objective``)."""
        return self.model.objective[self.slot]

    @property
    def engagement(self) -> float:
        """Engagement in [0, 1]."""
        return float(self.model.engagement[self.slot])

    @property
    def role(self) -> str:
        """Role name (``gp``, ``practice_manager``, ``officer``, ``lay_member`` …)."""
        return ROLES[int(self.model.pop.role[self.slot])]

    @property
    def group(self) -> int:
        """Commissioning group index, -1 for provider and local-authority staff."""
        return int(self.model.pop.group[self.slot])

    @property
    def on_board(self) -> bool:
        """Whether the agent holds a board seat."""
        return bool(self.model.on_board[self.slot])

    @property
    def locality_lead(self) -> bool:
        """Whether the agent leads a locality sub-group."""
        return bool(self.model.pop.locality_lead[self.slot])

    # ----------------------------------------------------------------- behaviour
    def accuracy(self) -> float:
        """1 − total-variation distance between belief and the true need of its scope."""
        return 1.0 - 0.5 * float(np.abs(self.belief - self.model.truth[self.slot]).sum())

    def leave(self) -> CommissioningAgent:
        """Leave the network; a newcomer of the same type takes the slot and is returned."""
        model, slot, cls = self.model, self.slot, type(self)
        self.__dict__["_left_id"], self.__dict__["_left_joined"] = self.unique_id, self.joined
        self.remove()
        newcomer = cls(model, slot)
        model.occupant[slot] = newcomer
        return newcomer


class GPAgent(CommissioningAgent):
    """A member GP: observes its practice's patients; may sit on the board or lead a locality."""

    kind = GP


class ManagerAgent(CommissioningAgent):
    """A practice manager (activity data of one practice) or a commissioning manager, officer or
    nurse of the group (group-level data; brokers between practices and the board)."""

    kind = MANAGER


class ProviderAgent(CommissioningAgent):
    """A member of staff of a provider: sees demand for its services; its priorities follow
    its capacity."""

    kind = PROVIDER


class PatientAgent(CommissioningAgent):
    """A patient representative (practice participation group) or a lay board member."""

    kind = PATIENT


class LocalAuthorityAgent(CommissioningAgent):
    """Public health / social care staff of a local authority: population-level need (JSNA)."""

    kind = LOCAL_AUTHORITY


#: Agent class per stakeholder type code.
AGENT_CLASSES: tuple[type[CommissioningAgent], ...] = (
    GPAgent,
    ManagerAgent,
    ProviderAgent,
    PatientAgent,
    LocalAuthorityAgent,
)

"""The stakeholders as Mesa agents: identity and behaviour; hot state lives in model arrays.

Each agent occupies a *slot* (a row of the model's arrays).  Its belief, objective and
engagement are views into those arrays, so the model's vectorised phases and the agents see
the same state.  When an agent leaves, :meth:`CommissioningAgent.leave` removes it from the
model and a newcomer of the same type takes the slot (counts hold under turnover).
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
        super().__init__(model)
        self.slot = int(slot)
        self.joined = int(model.steps)

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
        self.remove()
        newcomer = cls(model, slot)
        model.occupant[slot] = newcomer
        model.occupant_id[slot] = newcomer.unique_id
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

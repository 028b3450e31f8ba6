"""Shared types of the input layer and the model: stakeholder types and role codes.

At the bottom of the input layer with :mod:`simulation.errors` (imports nothing of commnet's):
the schema (:mod:`simulation.scenario`), the survey reader (:mod:`simulation.surveyed`) and the
population builder (:mod:`simulation.population`) all use these names and re-export them.
"""

from __future__ import annotations

__all__ = ["ROLES", "STAKEHOLDER_TYPES"]

#: Stakeholder types, in the order used for the model's integer ``kind`` array.
STAKEHOLDER_TYPES = ("gp", "manager", "provider", "patient", "local_authority")

#: Role codes (``Population.role``).
ROLES = (
    "gp",
    "practice_manager",
    "commissioning_manager",
    "officer",
    "nurse",
    "patient_rep",
    "lay_member",
    "provider_staff",
    "local_authority_staff",
)

"""Engagement: virtuous and vicious cycles, and turnover driven by disengagement.

After each decision an agent compares what is funded where it works with its own priorities:

.. math:: r_i = 1 - \\mathrm{TV}(a^{\\mathrm{eff}}_{l(i)}, o_i), \\qquad
    e'_i = e_i + \\eta\\,(r_i - r^*)\\,\\begin{cases} 1 - e_i & r_i > r^* \\\\
                                                  e_i & \\text{otherwise} \\end{cases}

(reflection :math:`r_i`, learning rate :math:`\\eta`, expectation :math:`r^*`): being able to
change services feeds engagement, failing to breeds disengagement (Miller et al. 2016, J
Health Serv Res Policy 21:213).  The feedback acts on every *present* agent, whether or not it
attended this month: it responds to outcomes (what is funded where the agent works, which it
senses without attending), as the brief's "agents whose locality's needs are reflected gain
engagement".  So an agent who never attends (engagement near 0) still gains engagement when
decisions happen to reflect its priorities; this is a mechanism, not a leak: it is the only
route back from disengagement (at :math:`e_i = 0` the step is :math:`\\eta\\,(r_i - r^*)` up
and 0 down, so 0 is not absorbing), and the regression toward the type mean below works the
same way.  The step shrinks near the bounds (logistic saturation), so
engagement stays in [0, 1] without clipping and never locks at 1.  Every month engagement also
regresses toward its type's mean :math:`m_i` (other demands on people's time),
:math:`e'_i = e_i + \\nu\\,(m_i - e_i)`, so that it settles at a level set by how well
decisions reflect people's priorities.  A newcomer's mean engagement mixes its type's mean
with the local climate, :math:`(1-c)\\,m_i + c\\,\\bar e_{\\mathrm{peers}}`: in a disengaged
locality newcomers start disengaged, which is what makes a vicious cycle possible.
Each month an agent leaves with hazard

.. math:: h_i = \\big(1 - (1-\\rho)^{1/12}\\big)\\,\\big(1 + s\\,(1-e_i)\\big)\\,(1-\\kappa)

for annual base rate :math:`\\rho`, engagement sensitivity *s* and retention effect
:math:`\\kappa` of the stability-management lever.
"""

from __future__ import annotations

import numpy as np

from ._numeric import row_sums

__all__ = [
    "beta_parameters",
    "climate",
    "draw_engagement",
    "leave_hazard",
    "monthly_rate",
    "reflection",
    "regress",
    "update_engagement",
    "update_engagement_loop",
]


def reflection(allocation: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """:math:`1 - \\mathrm{TV}` between the allocation each agent sees and its priorities."""
    d = np.subtract(allocation, objective)
    np.abs(d, out=d)
    return 1.0 - 0.5 * row_sums(d)


def update_engagement(
    e: np.ndarray, reflect: np.ndarray, rate: float, expectation: float, mask: np.ndarray
) -> np.ndarray:
    """Engagement after feedback (saturating step, module docstring), for agents in ``mask``
    (others unchanged)."""
    gap = reflect - expectation
    room = np.where(gap > 0, 1.0 - e, e)
    return np.where(mask, e + rate * gap * room, e)


def update_engagement_loop(
    e: np.ndarray, reflect: np.ndarray, rate: float, expectation: float, mask: np.ndarray
) -> np.ndarray:
    """Plain-loop reference of :func:`update_engagement`."""
    out = e.copy()
    for i in range(e.size):
        if mask[i]:
            gap = reflect[i] - expectation
            room = (1.0 - e[i]) if gap > 0 else e[i]
            out[i] = e[i] + rate * gap * room
    return out


def regress(e: np.ndarray, mean: np.ndarray, rate: float, mask: np.ndarray) -> np.ndarray:
    """Monthly regression toward the type mean, :math:`e + \\nu (m - e)`, for ``mask``."""
    return np.where(mask, e + rate * (mean - e), e)


def climate(e: np.ndarray, unit: np.ndarray, n_units: int, mask: np.ndarray) -> np.ndarray:
    """Mean engagement of the ``mask`` agents of each unit (NaN for units without any)."""
    ok = mask & (unit >= 0)
    total = np.bincount(unit[ok], weights=e[ok], minlength=n_units)
    count = np.bincount(unit[ok], minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def monthly_rate(annual_rate: float) -> float:
    """The monthly base hazard :math:`1 - (1-\\rho)^{1/12}` of an annual rate (below 1)."""
    return 1.0 - (1.0 - min(annual_rate, 0.999999)) ** (1.0 / 12.0)


def leave_hazard(e: np.ndarray, annual_rate: float, sensitivity: float, retention: float) -> np.ndarray:
    """Monthly probability of leaving (see module docstring), capped at 1."""
    base = monthly_rate(annual_rate)
    return np.minimum(1.0, base * (1.0 + sensitivity * (1.0 - e)) * (1.0 - retention))


def beta_parameters(mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta(α, β) with the given mean and sd: ν = m(1−m)/s² − 1, α = mν, β = (1−m)ν."""
    m = np.clip(mean, 1e-6, 1 - 1e-6)
    nu = m * (1 - m) / np.maximum(sd, 1e-9) ** 2 - 1.0
    return m * nu, (1 - m) * nu


def draw_engagement(rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Engagement draws; agents with sd = 0 get exactly the mean."""
    a, b = beta_parameters(mean, sd)
    fixed = sd <= 0
    out = rng.beta(np.where(fixed, 1.0, a), np.where(fixed, 1.0, b))
    return np.where(fixed, mean, out)

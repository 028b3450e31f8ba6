"""Intervals and differences over replicates: one module used by ``run``, ``compare`` and reports.

Every interval the project prints is computed here, on scipy's Student-t distribution:

* :func:`mean_interval` — the mean of a metric over independent replicates and its
  two-sided t-interval,

  .. math:: \\bar x \\pm t_{1-\\alpha/2,\\,n-1}\\, s / \\sqrt n ,

  where :math:`s` is the sample standard deviation (``ddof=1``).  At 5 replicates
  :math:`t_{0.975,4} = 2.776`, 42% wider than the normal 1.96 (the normal interval is about
  30% too narrow).
* :func:`difference` — a difference of means in the metric's own units, *paired* by replicate
  when the arms ran the same seeds (common random numbers: the t-interval of the mean paired
  difference) or Welch's two-sample interval otherwise (Welch–Satterthwaite degrees of
  freedom).  A standardised effect (Hedges' g) comes second and is labelled *standardised by
  replicate noise*: it divides by how much replicates of the same scenario vary, which in a
  simulation is a property of the model's randomness, not of the world, so a large g can
  mean small noise as much as a large effect.

**Bounded metrics.**  Most metrics are shares or 1 − TV distances in [0, 1]; a t-interval
near a bound can cross it (reach 0.991–1.003).  Intervals are *clipped* to the metric's range
``(lower, upper)`` (and a difference's to ``(lower − upper, upper − lower)``).  Clipping is
chosen over a logit-scale interval because (i) the true mean lies inside the range, so
intersecting the interval with the range never removes a value the mean can take — the
coverage probability is exactly that of the t-interval; (ii) a logit interval is an interval
for the mean of logit(x), a different quantity, and fails at replicates exactly 0 or 1 (common
for shares such as ``turnover``); (iii) clipped limits stay in the metric's own units and agree
with the unclipped ones away from the bounds.  A clipped interval says so in its ``note``.

**Undefined intervals are explained in words**: with one replicate there is no estimate of
spread, so the limits are NaN and ``note`` reads "one replicate: no interval (needs ≥ 2)";
with no finite value, "no finite values".

References
----------
Student (1908), The probable error of a mean, *Biometrika* 6:1–25.  Welch, B. L. (1947),
*Biometrika* 34:28–35.  Hedges, L. V. (1981), *J. Educ. Stat.* 6:107–128 (g and its
small-sample correction J).  Law, A. M. (2015), *Simulation Modeling and Analysis*, 5th ed.,
§9.4 (replicate intervals) and §10.2 (common random numbers, paired-t).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = [
    "G_NOISE_FLOOR",
    "Difference",
    "Interval",
    "difference",
    "format_interval",
    "hedges_g",
    "mean_ci",
    "mean_interval",
    "ratio_difference",
    "ratio_interval",
]

#: Hedges' g is not reported when the pooled replicate sd is below this fraction of the scale
#: (the metric's range, or max(1, |mean|) for unbounded metrics): replicates are then
#: practically identical and any g is a division by noise near zero.
G_NOISE_FLOOR = 1e-9

NO_VALUES = "no finite values"
ONE_REPLICATE = "one replicate: no interval (needs ≥ 2)"


def _finite(x: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(x, float).ravel()
    return v[np.isfinite(v)]


@dataclass(frozen=True)
class Interval:
    """A mean over replicates and its t-interval.

    ``low``/``high`` are NaN when undefined (n < 2), and ``note`` says why in words; ``note``
    also says when the interval was clipped to the metric's range or the replicates were
    identical.  ``conf`` is the confidence level.
    """

    mean: float
    sd: float
    low: float
    high: float
    n: int
    conf: float = 0.95
    note: str = ""

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN when undefined)."""
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        """Whether the interval has finite limits."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    def as_dict(self) -> dict[str, float | int | str]:
        """Fields as a plain dict (one table row)."""
        return asdict(self)


def _clip(mean: float, low: float, high: float, bounds: tuple[float, float] | None,
          notes: list[str]) -> tuple[float, float]:
    """Clip ``(low, high)`` to ``bounds`` (either end may be ±inf or None), noting it."""
    if bounds is None:
        return low, high
    lo_b = -math.inf if bounds[0] is None else float(bounds[0])
    hi_b = math.inf if bounds[1] is None else float(bounds[1])
    if low < lo_b:
        low = lo_b
        notes.append(f"clipped at the lower bound {lo_b:g}")
    if high > hi_b:
        high = hi_b
        notes.append(f"clipped at the upper bound {hi_b:g}")
    return low, high


def mean_interval(x: Sequence[float] | np.ndarray, conf: float = 0.95,
                  bounds: tuple[float | None, float | None] | None = None) -> Interval:
    """The mean of the finite values of ``x`` and its Student-t interval.

    Parameters
    ----------
    x : sequence of float
        One value per independent replicate (NaN and inf are ignored).
    conf : float
        Confidence level, in (0, 1).
    bounds : (lower, upper), optional
        The metric's range; the interval is clipped to it (see the module docstring).

    Returns
    -------
    Interval

    Examples
    --------
    >>> iv = mean_interval([1.0, 2.0, 3.0, 4.0])
    >>> round(iv.mean, 3), round(iv.low, 4), round(iv.high, 4)
    (2.5, 0.4457, 4.5543)
    >>> mean_interval([0.4]).note
    'one replicate: no interval (needs ≥ 2)'
    """
    if not 0 < conf < 1:
        raise ValueError(f"conf must be in (0, 1), got {conf}")
    v = _finite(x)
    n = int(v.size)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, np.nan, 0, conf, NO_VALUES)
    mean = float(v.mean())
    if n == 1:
        return Interval(mean, np.nan, np.nan, np.nan, 1, conf, ONE_REPLICATE)
    sd = float(v.std(ddof=1))
    notes: list[str] = []
    if sd == 0:
        notes.append("replicates identical: zero width")
        low = high = mean
    else:
        low, high = (float(e) for e in stats.t.interval(conf, n - 1, loc=mean,
                                                        scale=sd / math.sqrt(n)))
    low, high = _clip(mean, low, high, bounds, notes)
    return Interval(mean, sd, low, high, n, conf, "; ".join(notes))


def ratio_interval(num: Sequence[float] | np.ndarray, den: Sequence[float] | np.ndarray,
                   conf: float = 0.95, *, min_den: float = 0.0, n_boot: int = 2000,
                   seed: int = 0) -> Interval:
    r"""Ratio of means across replicates, :math:`\bar x / \bar y`, with a percentile
    bootstrap interval (replicates resampled in pairs).

    Decision skill across replicates is the mean gain over the mean span,
    :math:`\sum_r (R_r - R_{0r}) / \sum_r (R_{1r} - R_{0r})`, not the mean of per-replicate
    ratios, which a replicate with a near-zero span can dominate (issue 18).  The ratio is NaN
    (``note`` says "not interpretable") when the mean of ``den`` is below ``min_den``; a
    bootstrap resample whose mean ``den`` falls below ``min_den`` counts as undefined, and
    the interval is NaN if more than 5% of them are.  The generator is seeded (``seed``), so
    the same replicates give the same interval.

    Examples
    --------
    >>> iv = ratio_interval([0.5, 0.7, 0.6], [1.0, 1.0, 1.0])
    >>> round(iv.mean, 6), iv.n
    (0.6, 3)
    >>> ratio_interval([0.1], [0.001], min_den=0.01).note
    'not interpretable: mean span 0.001 below 0.01'
    """
    x, y = np.asarray(num, float), np.asarray(den, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, np.nan, 0, conf, NO_VALUES)
    my = float(y.mean())
    if my < min_den:
        return Interval(np.nan, np.nan, np.nan, np.nan, n, conf,
                        f"not interpretable: mean span {my:.3g} below {min_den:.3g}")
    ratio = float(x.mean() / my)
    if n == 1:
        return Interval(ratio, np.nan, np.nan, np.nan, 1, conf, ONE_REPLICATE)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    bx, by = x[idx].mean(axis=1), y[idx].mean(axis=1)
    good = by >= max(min_den, np.finfo(float).tiny)
    if good.mean() < 0.95:
        return Interval(ratio, np.nan, np.nan, np.nan, n, conf,
                        "span too often below the threshold in resamples: no interval")
    boot = bx[good] / by[good]
    low, high = (float(v) for v in np.quantile(boot, [(1 - conf) / 2, (1 + conf) / 2]))
    return Interval(ratio, float(boot.std(ddof=1)), low, high, n, conf,
                    "ratio of means; bootstrap percentile interval")


def ratio_difference(num_x: Sequence[float], den_x: Sequence[float], num_y: Sequence[float],
                     den_y: Sequence[float], conf: float = 0.95, *, min_den: float = 0.0,
                     n_boot: int = 2000, seed: int = 0) -> Difference:
    r"""Difference of two ratios of means, :math:`\bar a_x/\bar b_x - \bar a_y/\bar b_y`, over
    paired replicates (common random numbers), with a paired percentile bootstrap interval
    (replicate pairs resampled together).  NaN with a note when either mean span is below
    ``min_den`` (not interpretable).  Decision skill of two arms is compared this way
    (:func:`ratio_interval`).

    Examples
    --------
    >>> d = ratio_difference([0.6, 0.8], [1.0, 1.0], [0.4, 0.6], [1.0, 1.0])
    >>> round(d.diff, 6), d.method
    (0.2, 'paired bootstrap of ratios')
    """
    arrays = [np.asarray(a, float) for a in (num_x, den_x, num_y, den_y)]
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    ax, bx, ay, by = (a[ok] for a in arrays)
    n = int(ax.size)
    method = "paired bootstrap of ratios"
    if n == 0:
        return Difference(np.nan, np.nan, np.nan, 0, method, conf, NO_VALUES)
    if min(bx.mean(), by.mean()) < min_den:
        return Difference(np.nan, np.nan, np.nan, n, method, conf,
                          f"not interpretable: a mean span below {min_den:.3g}")
    diff = float(ax.mean() / bx.mean() - ay.mean() / by.mean())
    if n == 1:
        return Difference(diff, np.nan, np.nan, 1, method, conf, ONE_REPLICATE)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    mbx, mby = bx[idx].mean(axis=1), by[idx].mean(axis=1)
    good = (mbx >= max(min_den, np.finfo(float).tiny)) & (mby >= max(min_den, np.finfo(float).tiny))
    if good.mean() < 0.95:
        return Difference(diff, np.nan, np.nan, n, method, conf,
                          "span too often below the threshold in resamples: no interval")
    boot = ax[idx].mean(axis=1)[good] / mbx[good] - ay[idx].mean(axis=1)[good] / mby[good]
    low, high = (float(v) for v in np.quantile(boot, [(1 - conf) / 2, (1 + conf) / 2]))
    return Difference(diff, low, high, n, method, conf, "ratio of mean gain over mean span")


def mean_ci(x: Sequence[float], conf: float = 0.95) -> tuple[float, float, float, float, int]:
    """``(mean, sd, low, high, n)`` of :func:`mean_interval` (unbounded), as a tuple."""
    iv = mean_interval(x, conf)
    return (iv.mean, iv.sd, iv.low, iv.high, iv.n)


def hedges_g(x: Sequence[float], y: Sequence[float]) -> float:
    r"""Hedges' g of ``x`` relative to ``y``, standardised by replicate noise.

    .. math:: g = J\,\frac{\bar x - \bar y}{s_p}, \quad
        s_p^2 = \frac{(n_1-1)s_1^2 + (n_2-1)s_2^2}{n_1+n_2-2}, \quad
        J = 1 - \frac{3}{4(n_1+n_2)-9}

    NaN with fewer than two finite values on either side; ±inf (0 for equal means) when the
    pooled sd is 0.
    """
    a, b = _finite(x), _finite(y)
    n1, n2 = a.size, b.size
    if n1 < 2 or n2 < 2:
        return np.nan
    diff = float(a.mean() - b.mean())
    pooled = _pooled_sd(a, b)
    if pooled == 0:
        return 0.0 if diff == 0 else float(np.copysign(np.inf, diff))
    return diff / pooled * (1 - 3 / (4 * (n1 + n2) - 9))


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    n1, n2 = a.size, b.size
    return math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))


@dataclass(frozen=True)
class Difference:
    """A difference of means x − y in the metric's own units, its t-interval, and Hedges' g.

    ``method`` is ``paired`` (by replicate, common random numbers) or ``welch``.  ``g`` is
    Hedges' g *standardised by replicate noise* (NaN with ``g_note`` saying why when it is
    not reported); ``noise_sd`` is the pooled replicate sd it divides by.
    """

    diff: float
    low: float
    high: float
    n: int
    method: str
    conf: float = 0.95
    note: str = ""
    g: float = np.nan
    noise_sd: float = np.nan
    g_note: str = ""

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN when undefined)."""
        return (self.high - self.low) / 2

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval is defined and lies entirely on one side of 0."""
        return bool(np.isfinite(self.low) and np.isfinite(self.high)
                    and (self.low > 0 or self.high < 0))


def _welch(a: np.ndarray, b: np.ndarray, conf: float) -> tuple[float, float, float]:
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    low, high = stats.t.interval(conf, df, loc=diff, scale=se)
    return diff, float(low), float(high)


def difference(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *,
               paired: bool, conf: float = 0.95,
               bounds: tuple[float | None, float | None] | None = None) -> Difference:
    """The difference of means x − y with its t-interval, then Hedges' g.

    Parameters
    ----------
    x, y : sequences of float
        Replicate values of the two arms.  When ``paired``, ``x[i]`` and ``y[i]`` share a
        seed; pairs with a non-finite value on either side are dropped.
    paired : bool
        Paired (t-interval of the mean of x − y) or Welch's two-sample interval.
    conf : float
        Confidence level.
    bounds : (lower, upper), optional
        The metric's range; the difference's interval is clipped to
        ``(lower − upper, upper − lower)``.

    Returns
    -------
    Difference
        ``g`` is left NaN (with ``g_note``) when the pooled replicate sd is below
        :data:`G_NOISE_FLOOR` of the scale, and annotated when |g| > 10 (the replicate
        noise is small next to the difference; read the difference, not g).
    """
    a, b = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    dbounds = None
    width = math.inf
    if bounds is not None and bounds[0] is not None and bounds[1] is not None:
        width = float(bounds[1]) - float(bounds[0])
        dbounds = (-width, width)
    notes: list[str] = []
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired difference needs equal lengths, got {a.size} and {b.size}")
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        iv = mean_interval(a - b, conf, dbounds)
        diff, low, high, n, method = iv.mean, iv.low, iv.high, iv.n, "paired"
        if iv.note:
            notes.append(iv.note)
    else:
        a, b = _finite(a), _finite(b)
        n = int(min(a.size, b.size))
        method = "welch"
        if a.size == 0 or b.size == 0:
            return Difference(np.nan, np.nan, np.nan, n, method, conf, NO_VALUES,
                              g_note=NO_VALUES)
        if a.size < 2 or b.size < 2:
            return Difference(float(a.mean() - b.mean()), np.nan, np.nan, n, method, conf,
                              "one replicate on a side: no interval (needs ≥ 2 each)",
                              g_note="needs ≥ 2 replicates each")
        diff, low, high = _welch(a, b, conf)
        if low == high:
            notes.append("replicates identical: zero width")
        low, high = _clip(diff, low, high, dbounds, notes)
    if a.size < 2 or b.size < 2:
        return Difference(diff, low, high, n, method, conf, "; ".join(notes),
                          g_note="needs ≥ 2 replicates each")
    noise = _pooled_sd(a, b)
    scale = width if math.isfinite(width) and width > 0 else max(1.0, abs(a.mean()), abs(b.mean()))
    if noise <= G_NOISE_FLOOR * scale:
        return Difference(diff, low, high, n, method, conf, "; ".join(notes), np.nan, noise,
                          "not reported: replicates practically identical (sd ≈ 0)")
    g = hedges_g(a, b)
    g_note = ("|g| > 10: replicate noise is small next to the difference; read the difference"
              if abs(g) > 10 else "")
    return Difference(diff, low, high, n, method, conf, "; ".join(notes), g, noise, g_note)


def format_interval(low: float, high: float, note: str = "", digits: int = 3) -> str:
    """``"low – high"`` (fixed significant digits), or the note when the interval is undefined."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return note or "undefined"
    return f"{_fmt(low, digits)} – {_fmt(high, digits)}"


def _fmt(v: float, digits: int = 3) -> str:
    """A number for tables: ``digits`` decimals below 1000, thousands separators above."""
    if not np.isfinite(v):
        return "–"
    return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"

"""Opinion- and knowledge-exchange rules on arbitrary weighted networks.

Free functions implementing classical update rules of opinion dynamics and
innovation diffusion on a weighted, possibly asymmetric network given as a
``scipy.sparse`` matrix ``W`` (``W[i, j]`` is the weight with which agent ``i``
listens to agent ``j``).  The module is independent of the commissioning model
and can be used on any network.

The state ``x`` is a float array of shape ``(N,)`` (scalar opinions) or
``(N, K)`` (one row per agent, e.g. a probability distribution over ``K``
categories).  Every function returns a new array and never modifies its
inputs.  Randomness is drawn only from an explicitly passed
:class:`numpy.random.Generator`.

Each vectorised kernel has a plain-Python reference implementation with the
suffix ``_loop`` that iterates over agents and their CSR neighbour lists; the
two return identical results (up to floating-point rounding) for the same
inputs and random draws.

Every public function validates its input and raises ``ValueError`` naming the argument
and the allowed range: finite states (NaN and inf are refused, never propagated), parameters
in their documented range, integer pair indices, boolean adoption states.  The simulation's
per-step loop calls the unchecked kernels of the same name with a leading underscore
(``_degroot_step`` ...), which do the same arithmetic without the checks: its inputs are
valid by construction (the scenario schema bounds every parameter).

Conventions shared by all rules:

* ``W`` is converted to CSR, duplicate entries are summed and explicit zeros
  are dropped; ``W`` must be square with finite, non-negative weights.  A row
  without positive weights is an agent with no neighbours.
* ``What`` denotes :func:`row_normalise` ``(W)``.
* Diagonal entries of ``W`` (self-loops) are ordinary weights for DeGroot,
  Friedkin–Johnsen and Bass; Hegselmann–Krause uses them as the self weight.
"""

__all__ = [
    "bass_adoption_step",
    "bass_adoption_step_loop",
    "deffuant_step",
    "deffuant_step_loop",
    "degroot_step",
    "degroot_step_loop",
    "degroot_trust_step_loop",
    "distance",
    "friedkin_johnsen_equilibrium",
    "friedkin_johnsen_step",
    "friedkin_johnsen_step_loop",
    "hegselmann_krause_step",
    "hegselmann_krause_step_loop",
    "row_normalise",
    "sample_disjoint_pairs",
    "sample_disjoint_pairs_loop",
]

import warnings

import numpy as np
from scipy import sparse
from scipy.sparse import _sparsetools  # scipy's own CSR x dense loops (_csr_times)
from scipy.sparse import linalg as sparse_linalg

# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _canonical(W):
    """Return ``W`` as a float64 CSR array with summed duplicates and no explicit zeros.

    No value checks (the unchecked kernels use this); the result may share memory with
    ``W`` and callers must not modify it.
    """
    if not sparse.issparse(W):
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2:
            raise ValueError(f"W must be two-dimensional, got shape {W.shape}")
    if isinstance(W, sparse.csr_array) and W.dtype == np.float64:
        A = W  # keep the object: scipy caches its canonical-format flag on it
    else:
        A = sparse.csr_array(W, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {A.shape}")
    if A.nnz and (A.data.min() == 0 or not A.has_canonical_format):
        A = A.copy()
        A.sum_duplicates()
        A.eliminate_zeros()
    return A


def _as_csr(W, check_finite=True):
    """Return ``W`` as a canonical float64 CSR array without explicit zeros.

    Raises ``ValueError`` for a non-square matrix and for negative, NaN or (with
    ``check_finite``) infinite weights.  With ``check_finite=False`` the caller must check
    that its row sums are finite.  The result may share memory with ``W``; callers must not
    modify it.
    """
    if sparse.issparse(W) and W.dtype.kind not in "fiub":
        raise ValueError(f"W must have real numeric weights, got dtype {W.dtype}")
    A = _canonical(W)
    if A.nnz:
        lo = A.data.min()
        if not (lo >= 0 and (not check_finite or A.data.max() < np.inf)):  # also rejects NaN
            raise ValueError("W must have finite, non-negative weights "
                             f"(found min {lo}, max {A.data.max()})")
    return A


def _check_finite(x, name):
    """Raise ``ValueError`` naming ``name`` if the float array ``x`` holds NaN or inf."""
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))
        raise ValueError(f"{name} must be finite (no NaN or inf): {len(bad)} non-finite "
                         f"value(s), the first {x[tuple(bad[0])]} at index {tuple(bad[0].tolist())}")
    return x


def _float_array(x, name):
    """``np.asarray(x, float64)`` with a message naming ``name`` for non-numeric input."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _row_sums(A):
    """Row sums of a canonical CSR array and the mask of non-empty rows."""
    has = np.diff(A.indptr) > 0
    sums = A @ np.ones(A.shape[1]) if A.nnz else np.zeros(A.shape[0])
    return sums, has


def _neighbour_mean(A, x):
    """Weighted neighbour average ``sum_j A_ij x_j / sum_j A_ij``.

    Rows without neighbours get ``x_i``.  Also returns the non-empty mask.
    """
    sums, has = _row_sums(A)
    agg = A @ x
    agg /= _column(np.where(has, sums, 1.0), x)
    agg[~has] = x[~has]
    return agg, has


def _state(x, n, name="x"):
    """Return ``x`` as a finite float64 array of shape ``(n,)`` or ``(n, K)``."""
    x = _float_array(x, name)
    if x.ndim not in (1, 2) or x.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, K), got {x.shape}")
    return _check_finite(x, name)


def _any_state(x):
    """Return ``x`` as a finite float64 array of shape ``(N,)`` or ``(N, K)``."""
    x = _float_array(x, "x")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (N,) or (N, K), got {x.shape}")
    return _check_finite(x, "x")


def _range_text(lo, hi, lo_open):
    return f"{'(' if lo_open else '['}{lo:g}, {'inf)' if hi == np.inf else f'{hi:g}]'}"


def _scalar(value, name, *, lo=0.0, hi=1.0, lo_open=False):
    """Return ``value`` as a float after checking that it is a finite number in the range
    ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); booleans are refused."""
    allowed = f"a finite number in {_range_text(lo, hi, lo_open)}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be {allowed}, got the boolean {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {allowed}, got {value!r}") from None
    if not (np.isfinite(v) and (lo < v if lo_open else lo <= v) and v <= hi):
        raise ValueError(f"{name} must be {allowed}, got {v}")
    return v


def _per_agent(value, n, name, *, lo=0.0, hi=1.0):
    """Broadcast a scalar or ``(n,)`` parameter to ``(n,)`` and check that every entry is a
    finite number in ``[lo, hi]``."""
    v = _float_array(value, name)
    if v.ndim == 0:
        v = np.full(n, float(v))
    elif v.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {v.shape}")
    bad = ~(np.isfinite(v) & (v >= lo) & (v <= hi))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{name} must be finite and lie in {_range_text(lo, hi, False)}: "
                         f"{int(bad.sum())} value(s) outside, the first {v[k]} at index {k}")
    return v


def _index_array(v, name):
    """A 1-D integer index array; floats and booleans are refused (an empty list is fine)."""
    a = np.asarray(v)
    if a.size == 0 and a.dtype.kind in "fiu":
        return a.astype(np.intp).reshape(-1) if a.ndim <= 1 else a.astype(np.intp)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an array of integers, got dtype {a.dtype} "
                         "(float or boolean indices are not truncated or masked here)")
    return a.astype(np.intp, copy=False)


def _generator(rng):
    """``numpy.random.default_rng(rng)`` for a non-negative integer seed, else ``rng`` itself
    (a :class:`numpy.random.Generator`, or a stand-in with its methods); ``None``, numbers,
    strings and the global ``numpy.random`` module are refused (no hidden global state)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng as an integer seed must be non-negative, got {rng}")
        return np.random.default_rng(int(rng))
    if rng is None or isinstance(rng, (bool, np.bool_, float, str, bytes, type(np.random))):
        raise ValueError(f"rng must be a numpy.random.Generator or a non-negative integer seed, "
                         f"got {type(rng).__name__}")
    return rng  # a Generator, or a stand-in with its methods (tests)


def _column(v, x):
    """Reshape a per-agent vector so that it broadcasts against ``x``."""
    return v if x.ndim == 1 else v[:, None]


def _row_ids(A):
    """Row index of every stored entry of the CSR array ``A``."""
    return np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------


def row_normalise(W):
    """Divide every row of a weight matrix by its sum.

    Parameters
    ----------
    W : scipy.sparse matrix or array, shape (N, N)
        Non-negative weights; ``W[i, j]`` is the weight with which ``i``
        listens to ``j``.  Duplicate entries are summed, explicit zeros are
        dropped.

    Returns
    -------
    scipy.sparse.csr_array, shape (N, N)
        Row-stochastic matrix ``What`` with ``What[i, j] = W[i, j] / sum_k
        W[i, k]``.  Rows of ``W`` without positive weights stay empty (zero).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0.0, 2.0, 2.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]))
    >>> row_normalise(W).toarray()
    array([[0.  , 0.5 , 0.5 ],
           [0.25, 0.  , 0.75],
           [0.  , 0.  , 0.  ]])
    """
    A = _as_csr(W)
    sums, _ = _row_sums(A)
    data = A.data / np.repeat(sums, np.diff(A.indptr))
    return sparse.csr_array((data, A.indices.copy(), A.indptr.copy()), shape=A.shape)


def distance(a, b):
    """Row-wise distance between two states.

    Parameters
    ----------
    a, b : array_like, shape (M,) or (M, K)
        Scalar opinions (1-D) or row vectors such as probability
        distributions (2-D).

    Returns
    -------
    numpy.ndarray, shape (M,)
        ``|a - b|`` for 1-D input; the total-variation distance
        ``0.5 * sum_k |a_k - b_k|`` of every pair of rows for 2-D input.

    Examples
    --------
    >>> distance([0.1, 0.5], [0.4, 0.5])
    array([0.3, 0. ])
    >>> distance([[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]])
    array([0.5, 0. ])
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a and b must have equal shape (M,) or (M, K), got {a.shape}, {b.shape}")
    if a.ndim == 1:
        return np.abs(a - b)
    acc = np.zeros(a.shape[0])
    for k in range(a.shape[1]):  # left-to-right over categories, as the loop references
        acc += np.abs(a[:, k] - b[:, k])
    return 0.5 * acc


def _edge_distance(x, A):
    """``distance(x[i], x[j])`` for every stored entry ``(i, j)`` of the CSR array ``A``.

    Same arithmetic as :func:`distance`, one category at a time (small temporaries);
    the row side is a ``repeat`` rather than a gather.
    """
    counts = np.diff(A.indptr)
    if x.ndim == 1:
        return np.abs(np.repeat(x, counts) - np.take(x, A.indices))
    acc = np.zeros(A.indices.size)
    tmp = np.empty(A.indices.size)
    for k in range(x.shape[1]):
        col = np.ascontiguousarray(x[:, k])
        diff = np.repeat(col, counts)
        diff -= np.take(col, A.indices, out=tmp)
        acc += np.abs(diff, out=diff)
    return 0.5 * acc


def _distance_pair(xi, xj):
    """Distance between two single agent states (loop references)."""
    if isinstance(xi, float):
        return abs(xi - xj)
    total = 0.0
    for a, b in zip(xi.tolist(), xj.tolist(), strict=True):
        total += abs(a - b)
    return 0.5 * total


def _rows(x):
    """Agent states as a list of Python floats (1-D) or of row arrays (2-D)."""
    return x.tolist() if x.ndim == 1 else [row for row in x]


# ---------------------------------------------------------------------------
# DeGroot
# ---------------------------------------------------------------------------


def degroot_step(x, W, rate=None):
    r"""One synchronous DeGroot (weighted-averaging) update.

    Parameters
    ----------
    x : array_like, shape (N,) or (N, K)
        Current state.
    W : scipy.sparse matrix, shape (N, N)
        Non-negative weights, ``W[i, j]`` = weight with which ``i`` listens to
        ``j``.  Rows need not sum to one; they are normalised.
    rate : float or array_like of shape (N,), optional
        Adoption rate ``r_i`` in [0, 1].  The default (``None``) is 1, the
        pure DeGroot model ``x' = What x``.

    Returns
    -------
    numpy.ndarray
        New state, same shape as ``x``.

    See Also
    --------
    degroot_step_loop : plain-loop reference.

    Notes
    -----
    With :math:`\hat W` = :func:`row_normalise` ``(W)``,

    .. math::

        x_i' = (1 - r_i)\, x_i + r_i \sum_j \hat W_{ij} x_j .

    Agents without neighbours (empty row) keep their state.  If ``x`` rows are
    probability distributions, so are the rows of ``x'``.  Iterating with
    ``r = 1`` on a strongly connected aperiodic network converges to the
    consensus :math:`\pi^\top x(0)`, :math:`\pi` the stationary distribution
    of :math:`\hat W` [1]_.

    References
    ----------
    .. [1] M. H. DeGroot, "Reaching a consensus", Journal of the American
       Statistical Association 69(345):118-121, 1974.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 1.0, 0.0]]))
    >>> x = np.array([0.0, 0.4, 1.0])
    >>> degroot_step(x, W)
    array([0.4 , 0.75, 0.4 ])
    >>> degroot_step(x, W, rate=0.5)
    array([0.2  , 0.575, 0.7  ])
    """
    A = _as_csr(W, check_finite=False)
    n = A.shape[0]
    x = _state(x, n)
    r = _per_agent(1.0 if rate is None else rate, n, "rate")
    return _degroot_step(x, A, r)


def _degroot_step(x, W, rate=None):
    """Unchecked kernel of :func:`degroot_step` for the model's per-step loop.

    The caller guarantees what :func:`degroot_step` checks: non-negative weights, a finite
    float state of matching shape and rates in [0, 1].  Infinite weights are still refused
    (from the row sums).  Same arithmetic and result (:func:`_degroot_core`).
    """
    A = _canonical(W)
    x = np.asarray(x, dtype=np.float64)
    n = A.shape[0]
    r = np.ones(n) if rate is None else np.broadcast_to(np.asarray(rate, dtype=np.float64), (n,))
    with np.errstate(invalid="ignore", over="ignore"):  # an infinite weight: refused below
        (out,), sums = _degroot_core(A, [x[:, None] if x.ndim == 1 else x], [r])
    if not np.isfinite(sums).all():  # NaN and negatives were rejected
        raise ValueError("W must have finite, non-negative weights (found an infinite weight)")
    return out[:, 0] if x.ndim == 1 else out


def _degroot_steps(A, states, rates, trust=None):
    r"""DeGroot steps of several states on one matrix (unchecked).

    ``A`` must be a canonical float64 CSR array without explicit zeros and with finite
    non-negative weights; ``states`` are ``(N, K_i)`` arrays, ``rates`` the matching ``(N,)``
    rates in [0, 1].  The row sums come from one sparse product with ones, each state from
    its own product, so every update works on contiguous arrays (stacking the states into
    one product was twice as slow at England: the updates then read strided columns).  The
    result equals ``[degroot_step(x_i, A, r_i) for …]`` bit for bit: the sparse product
    accumulates each column in the same entry order, and ``r·[has]`` reproduces the
    rows without neighbours exactly as ``where(has, 1 - r, 1)`` and ``where(has, r / s, 0)``
    would (``1 - r·1 = 1 - r``, ``1 - r·0 = 1``, ``0 / 1 = 0``).

    ``trust``, if given, is each agent's total trust over the ties in ``A`` *before* the
    entries were discounted (by source relevance, :func:`simulation.knowledge_flows.tie_relevance`):
    the neighbours' weights are then normalised by it rather than by their own sum, and the
    discounted mass stays on the agent's own view,

    .. math:: x'_i = \Bigl(1 - r_i \frac{\sum_j A_{ij}}{T_i}\Bigr) x_i
        + \frac{r_i}{T_i} \sum_j A_{ij} x_j ,

    so a discounted tie moves its agent by the discount times what the full tie would, however
    few other ties the agent has (with no discount, :math:`T_i = \sum_j A_{ij}` and this is
    the plain step).  Reference: :func:`degroot_trust_step_loop`.
    """
    return _degroot_core(A, states, rates, trust)[0]


def _csr_times(indptr, indices, data, x):
    """``A @ x`` for a square float64 CSR ``A`` given by its arrays: the C loop scipy runs
    for it (``csr_matvec`` for a vector, ``csr_matvecs`` for a matrix, into zeros) without
    its dispatch, so the same bits (as ``simulation._numeric.csr_product``)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    n = indptr.size - 1
    if x.ndim == 1:
        out = np.zeros(n)
        _sparsetools.csr_matvec(n, x.shape[0], indptr, indices, data, x, out)
    else:
        out = np.zeros((n, x.shape[1]))
        _sparsetools.csr_matvecs(n, x.shape[0], x.shape[1], indptr, indices, data, x.ravel(),
                                 out.ravel())
    return out


def _degroot_core(A, states, rates, trust=None):
    """:func:`_degroot_steps` and the row sums of ``A``."""
    n = A.shape[0]
    has = np.diff(A.indptr) > 0
    # A's products by scipy's own loop without its dispatch (_csr_times: the same bits)
    indptr, indices, data = A.indptr, A.indices, A.data
    sums = np.where(has, _csr_times(indptr, indices, data, np.ones(n)), 1.0) if A.nnz \
        else np.ones(n)
    denom, kept = sums, None
    if trust is not None:
        denom = np.where(has & (trust > 0), trust, 1.0)
        kept = np.where(has, sums, 0.0) / denom
    out = []
    for x, r in zip(states, rates, strict=True):
        r = r * has
        new = _csr_times(indptr, indices, data, x)
        new *= (r / denom)[:, None]
        new += ((1.0 - r) if kept is None else (1.0 - r * kept))[:, None] * x
        out.append(new)
    return out, sums


def degroot_trust_step_loop(x, A, rate, trust):
    """Plain-loop reference of :func:`_degroot_steps` with ``trust`` (one state)."""
    A = _as_csr(A)
    n = A.shape[0]
    x = np.asarray(x, float)
    out = x.copy()
    for i in range(n):
        lo, hi = A.indptr[i], A.indptr[i + 1]
        if lo == hi:
            continue
        t = float(trust[i]) if trust[i] > 0 else 1.0
        acc = np.zeros(x.shape[1])
        kept = 0.0
        for e in range(lo, hi):
            acc += A.data[e] * x[A.indices[e]]
            kept += A.data[e]
        out[i] = (1.0 - rate[i] * kept / t) * x[i] + rate[i] / t * acc
    return out


def degroot_step_loop(x, W, rate=None):
    """Plain-loop reference of :func:`degroot_step` (same signature and result)."""
    A = _as_csr(W)
    n = A.shape[0]
    x = _state(x, n)
    r = _per_agent(1.0 if rate is None else rate, n, "rate").tolist()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    xs = _rows(x)
    out = np.empty_like(x)
    for i in range(n):
        lo, hi = indptr[i], indptr[i + 1]
        if lo == hi:
            out[i] = xs[i]
            continue
        total = 0.0
        for p in range(lo, hi):
            total += data[p]
        acc = 0.0
        for p in range(lo, hi):
            acc = acc + data[p] * xs[indices[p]]
        out[i] = (1.0 - r[i]) * xs[i] + r[i] * (acc / total)
    return out


# ---------------------------------------------------------------------------
# Friedkin-Johnsen
# ---------------------------------------------------------------------------


def friedkin_johnsen_step(x, W, anchor, stubbornness):
    r"""One synchronous Friedkin–Johnsen update (DeGroot with anchoring).

    Parameters
    ----------
    x : array_like, shape (N,) or (N, K)
        Current state.
    W : scipy.sparse matrix, shape (N, N)
        Non-negative weights, ``W[i, j]`` = weight with which ``i`` listens to
        ``j``; rows are normalised.
    anchor : array_like, same shape as `x`
        Prejudices / initial positions ``u`` the agents are attached to.
    stubbornness : float or array_like of shape (N,)
        Attachment ``s_i`` in [0, 1] to the anchor (``s = 0`` is DeGroot).

    Returns
    -------
    numpy.ndarray
        New state, same shape as ``x``.

    See Also
    --------
    friedkin_johnsen_equilibrium : fixed point of the iteration.
    friedkin_johnsen_step_loop : plain-loop reference.

    Notes
    -----
    With :math:`\hat W` = :func:`row_normalise` ``(W)`` and :math:`u` the
    anchor [1]_,

    .. math::

        x_i' = s_i u_i + (1 - s_i) \sum_j \hat W_{ij} x_j .

    An agent without neighbours listens to itself:
    :math:`x_i' = s_i u_i + (1 - s_i) x_i`.

    References
    ----------
    .. [1] N. E. Friedkin and E. C. Johnsen, "Social influence and opinions",
       Journal of Mathematical Sociology 15(3-4):193-206, 1990.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 1.0, 0.0]]))
    >>> x = np.array([0.0, 0.4, 1.0])
    >>> friedkin_johnsen_step(x, W, anchor=x, stubbornness=[0.5, 0.0, 0.2])
    array([0.2 , 0.75, 0.52])
    """
    A = _as_csr(W)
    n = A.shape[0]
    x = _state(x, n)
    u = _state(anchor, n, "anchor")
    if u.shape != x.shape:
        raise ValueError(f"anchor must have the shape of x {x.shape}, got {u.shape}")
    s = _per_agent(stubbornness, n, "stubbornness")
    return _friedkin_johnsen_step(x, A, u, s)


def _friedkin_johnsen_step(x, W, anchor, stubbornness):
    """Unchecked kernel of :func:`friedkin_johnsen_step` for the model's per-step loop.

    The caller guarantees finite non-negative weights, finite float ``x`` and ``anchor`` of
    equal shape and ``stubbornness`` of shape ``(N,)`` in [0, 1].  Same result.
    """
    A = _canonical(W)
    x = np.asarray(x, dtype=np.float64)
    s = _column(np.asarray(stubbornness, dtype=np.float64), x)
    agg, _ = _neighbour_mean(A, x)
    return s * anchor + (1.0 - s) * agg


def friedkin_johnsen_step_loop(x, W, anchor, stubbornness):
    """Plain-loop reference of :func:`friedkin_johnsen_step` (same result)."""
    A = _as_csr(W)
    n = A.shape[0]
    x = _state(x, n)
    u = _state(anchor, n, "anchor")
    if u.shape != x.shape:
        raise ValueError(f"anchor must have the shape of x {x.shape}, got {u.shape}")
    s = _per_agent(stubbornness, n, "stubbornness").tolist()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    xs, us = _rows(x), _rows(u)
    out = np.empty_like(x)
    for i in range(n):
        lo, hi = indptr[i], indptr[i + 1]
        if lo == hi:
            agg = xs[i]
        else:
            total = 0.0
            for p in range(lo, hi):
                total += data[p]
            acc = 0.0
            for p in range(lo, hi):
                acc = acc + data[p] * xs[indices[p]]
            agg = acc / total
        out[i] = s[i] * us[i] + (1.0 - s[i]) * agg
    return out


def friedkin_johnsen_equilibrium(W, anchor, stubbornness):
    r"""Closed-form fixed point of the Friedkin–Johnsen iteration.

    Parameters
    ----------
    W : scipy.sparse matrix, shape (N, N)
        Non-negative weights (rows are normalised).
    anchor : array_like, shape (N,) or (N, K)
        Prejudices ``u``.
    stubbornness : float or array_like of shape (N,)
        Attachment ``s_i`` in [0, 1] to the anchor.

    Returns
    -------
    numpy.ndarray
        Equilibrium ``x*``, same shape as `anchor`.

    Raises
    ------
    ValueError
        If ``I - (I - S) P`` is singular, i.e. some group of agents is not
        influenced, directly or indirectly, by any agent with ``s_i > 0``.

    Notes
    -----
    Let :math:`P` be :func:`row_normalise` ``(W)`` with a 1 on the diagonal of
    every empty row (such agents listen to themselves, as in
    :func:`friedkin_johnsen_step`) and :math:`S = \operatorname{diag}(s)`.
    The fixed point of :math:`x = S u + (I - S) P x` is [1]_

    .. math::

        x^* = \bigl(I - (I - S) P\bigr)^{-1} S u ,

    computed with :func:`scipy.sparse.linalg.spsolve`.

    References
    ----------
    .. [1] N. E. Friedkin and E. C. Johnsen, "Social influence and opinions",
       Journal of Mathematical Sociology 15(3-4):193-206, 1990.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> friedkin_johnsen_equilibrium(W, anchor=[1.0, 0.0], stubbornness=[0.5, 0.25])
    array([0.8, 0.6])
    """
    A = _as_csr(W)
    n = A.shape[0]
    u = _state(anchor, n, "anchor")
    s = _per_agent(stubbornness, n, "stubbornness")
    empty = (np.diff(A.indptr) == 0).astype(np.float64)
    P = row_normalise(A) + sparse.diags_array(empty, format="csr")
    M = sparse.eye_array(n, format="csr") - sparse.diags_array(1.0 - s) @ P
    rhs = _column(s, u) * u
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sparse_linalg.MatrixRankWarning)
        try:
            sol = sparse_linalg.spsolve(sparse.csc_array(M), rhs)
        except RuntimeError as err:  # exactly singular factor
            raise ValueError("I - (I - S) P is singular: no unique equilibrium") from err
    sol = np.asarray(sol, dtype=np.float64).reshape(u.shape)
    if not np.isfinite(sol).all():
        raise ValueError("I - (I - S) P is singular: no unique equilibrium")
    return sol


# ---------------------------------------------------------------------------
# Deffuant-Weisbuch
# ---------------------------------------------------------------------------


def _check_candidates(src, dst, n_pairs, rng, weight):
    """Validate the arguments of :func:`sample_disjoint_pairs` (returns them converted)."""
    src = _index_array(src, "src")
    dst = _index_array(dst, "dst")
    if src.ndim != 1 or src.shape != dst.shape:
        raise ValueError("src and dst must be 1-D arrays of equal length")
    for name, a in (("src", src), ("dst", dst)):
        if a.size and a.min() < 0:
            raise ValueError(f"{name} must hold node ids >= 0, got {int(a.min())} (negative ids "
                             "would index from the end of the node arrays)")
    if isinstance(n_pairs, (bool, np.bool_)) or not isinstance(n_pairs, (int, np.integer)):
        raise ValueError(f"n_pairs must be a non-negative integer, got {n_pairs!r}")
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be a non-negative integer, got {n_pairs}")
    m = src.size
    if m == 0 and n_pairs:
        raise ValueError("cannot draw pairs from an empty edge list")
    if weight is not None:
        w = _float_array(weight, "weight")
        if w.shape != (m,) or not (np.isfinite(w).all() and (w >= 0).all()) or (m and w.sum() <= 0):
            raise ValueError("weight must be finite, non-negative, of shape (len(src),), sum > 0")
        weight = w
    return src, dst, int(n_pairs), _generator(rng), weight


def _draw_candidates(src, dst, n_pairs, rng, weight):
    """Draw ``n_pairs`` edge indices with probability proportional to weight (unchecked)."""
    src = np.asarray(src)
    dst = np.asarray(dst)
    m = src.size
    if m == 0:
        return src[:0], dst[:0]
    p = None
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        p = w / w.sum()
    k = rng.choice(m, size=int(n_pairs), p=p)
    return src[k], dst[k]


def sample_disjoint_pairs(src, dst, n_pairs, rng, weight=None):
    """Sample node-disjoint interaction pairs from an edge list.

    Parameters
    ----------
    src, dst : array_like of int, shape (M,)
        Edge list; edge ``e`` joins ``src[e]`` and ``dst[e]``.  For
        :func:`deffuant_step` the orientation is irrelevant.
    n_pairs : int
        Number of candidate edges to draw (with replacement).
    rng : numpy.random.Generator or int
        Source of randomness (exactly one call to ``rng.choice``); an integer is a seed
        for :func:`numpy.random.default_rng`.
    weight : array_like of float, shape (M,), optional
        Non-negative edge weights; candidates are drawn with probability
        proportional to ``weight`` (uniformly if ``None``).

    Returns
    -------
    i, j : numpy.ndarray of int
        Endpoints of the kept pairs, in draw order.  No node occurs twice in
        ``concatenate([i, j])``.

    See Also
    --------
    sample_disjoint_pairs_loop : sequential reference (same draws, same result).

    Notes
    -----
    The candidates are scanned in draw order and a candidate is kept when
    neither endpoint is used by an earlier *kept* pair (greedy matching);
    self-loops (``src == dst``) are never kept.  Because the kept pairs are
    disjoint, applying them sequentially or simultaneously gives the same
    result.  The greedy scan is vectorised by rounds: a candidate that is the
    earliest undecided candidate at both of its endpoints is kept, and every
    undecided candidate touching a newly kept pair is discarded.  This
    reproduces the sequential scan exactly and needs few rounds.

    Examples
    --------
    >>> import numpy as np
    >>> src, dst = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 0])
    >>> i, j = sample_disjoint_pairs(src, dst, 10, np.random.default_rng(1))
    >>> len(np.unique(np.concatenate([i, j]))) == 2 * len(i)
    True
    """
    return _sample_disjoint_pairs(*_check_candidates(src, dst, n_pairs, rng, weight))


def _sample_disjoint_pairs(src, dst, n_pairs, rng, weight=None):
    """Unchecked kernel of :func:`sample_disjoint_pairs` for the model's per-step loop (the
    caller guarantees integer edge arrays, ``n_pairs >= 0``, a Generator and valid weights)."""
    a, b = _draw_candidates(src, dst, n_pairs, rng, weight)
    return _greedy_disjoint(a, b)


def _greedy_disjoint(a, b):
    """Vectorised greedy disjoint filter of candidate pairs in order."""
    n = a.size
    if n == 0:
        return a.copy(), b.copy()
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ea, eb = inv[:n], inv[n:]
    status = np.where(ea == eb, -1, 0)  # 0 undecided, 1 kept, -1 discarded
    used = np.zeros(nodes.size, dtype=bool)
    while True:
        und = np.flatnonzero(status == 0)
        if und.size == 0:
            break
        ua, ub = ea[und], eb[und]
        first = np.full(nodes.size, n, dtype=np.int64)
        np.minimum.at(first, ua, und)
        np.minimum.at(first, ub, und)
        win = (first[ua] == und) & (first[ub] == und)
        status[und[win]] = 1
        used[ua[win]] = True
        used[ub[win]] = True
        lose = ~win & (used[ua] | used[ub])
        status[und[lose]] = -1
    keep = status == 1
    return a[keep], b[keep]


def sample_disjoint_pairs_loop(src, dst, n_pairs, rng, weight=None):
    """Sequential reference of :func:`sample_disjoint_pairs` (same result)."""
    a, b = _draw_candidates(*_check_candidates(src, dst, n_pairs, rng, weight))
    used = set()
    keep = []
    for k, (u, v) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        if u == v or u in used or v in used:
            continue
        used.add(u)
        used.add(v)
        keep.append(k)
    keep = np.asarray(keep, dtype=np.intp)
    return a[keep], b[keep]


def _check_pairs(i, j, n):
    """Pair indices as intp arrays: integer dtype, in range, node-disjoint."""
    i = _index_array(i, "i")
    j = _index_array(j, "j")
    if i.ndim != 1 or i.shape != j.shape:
        raise ValueError("i and j must be 1-D integer arrays of equal length")
    both = np.concatenate([i, j])
    if both.size and (both.min() < 0 or both.max() >= n):
        raise ValueError("pair index out of range")
    if np.unique(both).size != both.size:
        raise ValueError("pairs must be node-disjoint (use sample_disjoint_pairs)")
    return i, j


def deffuant_step(x, i, j, threshold, mu=0.5):
    r"""Bounded-confidence pairwise compromise (Deffuant–Weisbuch).

    Parameters
    ----------
    x : array_like, shape (N,) or (N, K)
        Current state.
    i, j : array_like of int, shape (P,)
        Interacting pairs ``(i[k], j[k])``; all ``2P`` indices must be
        distinct (see :func:`sample_disjoint_pairs`).  Integer arrays only: float or
        boolean arrays are refused rather than truncated.
    threshold : float
        Confidence bound ``d >= 0`` (finite): a pair interacts only if its distance
        (see :func:`distance`) is strictly below ``d``.
    mu : float, default 0.5
        Convergence parameter in (0, 0.5] (0.5 = meet in the middle), the range of
        Deffuant et al.: 0 would be no interaction and above 0.5 the pair overshoots.

    Returns
    -------
    numpy.ndarray
        New state, same shape as ``x``.

    See Also
    --------
    deffuant_step_loop : plain-loop reference.

    Notes
    -----
    For every pair with :math:`\operatorname{dist}(x_i, x_j) < d` [1]_,

    .. math::

        x_i' = x_i + \mu (x_j - x_i), \qquad x_j' = x_j + \mu (x_i - x_j).

    The distance is :math:`|x_i - x_j|` for scalar opinions and the
    total-variation distance :math:`\tfrac12 \sum_k |x_{ik} - x_{jk}|` for
    rows.  With :math:`\mu \in (0, 1/2]` the update is a convex combination,
    so distributions stay distributions.  On complete mixing with uniform
    initial opinions the number of final major clusters is about
    :math:`\lfloor 1 / (2d) \rfloor`.

    References
    ----------
    .. [1] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs
       among interacting agents", Advances in Complex Systems 3:87-98, 2000.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([0.1, 0.3, 0.9, 0.5])
    >>> deffuant_step(x, i=[0, 2], j=[1, 3], threshold=0.3)
    array([0.2, 0.2, 0.9, 0.5])
    """
    x = _any_state(x)
    i, j = _check_pairs(i, j, x.shape[0])
    mu = _scalar(mu, "mu", hi=0.5, lo_open=True)
    threshold = _scalar(threshold, "threshold", hi=np.inf)
    return _deffuant_step(x, i, j, threshold, mu)


def _deffuant_step(x, i, j, threshold, mu=0.5):
    """Unchecked kernel of :func:`deffuant_step` for the model's per-step loop (the caller
    guarantees a finite float state, disjoint in-range integer pairs and valid parameters)."""
    x = np.asarray(x, dtype=np.float64)
    xi, xj = x[i], x[j]
    m = distance(xi, xj) < threshold
    out = x.copy()
    out[i[m]] = xi[m] + mu * (xj[m] - xi[m])
    out[j[m]] = xj[m] + mu * (xi[m] - xj[m])
    return out


def deffuant_step_loop(x, i, j, threshold, mu=0.5):
    """Plain-loop reference of :func:`deffuant_step` (same result)."""
    x = _any_state(x)
    i, j = _check_pairs(i, j, x.shape[0])
    mu = _scalar(mu, "mu", hi=0.5, lo_open=True)
    threshold = _scalar(threshold, "threshold", hi=np.inf)
    xs = _rows(x)
    out = np.array(x, copy=True)
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        xa, xb = xs[a], xs[b]
        if _distance_pair(xa, xb) < threshold:
            out[a] = xa + mu * (xb - xa)
            out[b] = xb + mu * (xa - xb)
    return out


# ---------------------------------------------------------------------------
# Hegselmann-Krause
# ---------------------------------------------------------------------------


def _hk_parts(A):
    """Off-diagonal part of ``A`` (CSR) and the Hegselmann–Krause self weights."""
    n = A.shape[0]
    rows = _row_ids(A)
    off = A.indices != rows
    diag = np.zeros(n)
    if off.all():
        B = A
    else:
        diag[rows[~off]] = A.data[~off]
        rows = rows[off]
        counts = np.bincount(rows, minlength=n)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(A.indptr.dtype)
        B = sparse.csr_array((A.data[off], A.indices[off], indptr), shape=A.shape)
    nonempty = np.diff(B.indptr) > 0
    rowmax = np.ones(n)
    if B.nnz:
        rowmax[nonempty] = np.maximum.reduceat(B.data, B.indptr[:-1][nonempty])
    self_w = np.where(diag > 0, diag, rowmax)
    return B, rows, self_w


def hegselmann_krause_step(x, W, epsilon):
    r"""One synchronous Hegselmann–Krause bounded-confidence update.

    Parameters
    ----------
    x : array_like, shape (N,) or (N, K)
        Current state.
    W : scipy.sparse matrix, shape (N, N)
        Non-negative weights, ``W[i, j]`` = weight with which ``i`` listens to
        ``j``.  The diagonal, if present, is the self weight (see Notes).
    epsilon : float or array_like of shape (N,)
        Finite confidence bound(s) ``eps_i >= 0``; neighbours at distance
        (see :func:`distance`) ``<= eps_i`` are averaged.

    Returns
    -------
    numpy.ndarray
        New state, same shape as ``x``.

    See Also
    --------
    hegselmann_krause_step_loop : plain-loop reference.

    Notes
    -----
    With :math:`I_i = \{i\} \cup \{j \ne i : W_{ij} > 0,\
    \operatorname{dist}(x_i, x_j) \le \varepsilon_i\}` [1]_,

    .. math::

        x_i' = \frac{\sum_{j \in I_i} w_{ij} x_j}{\sum_{j \in I_i} w_{ij}},
        \qquad w_{ij} = W_{ij}\ (j \ne i), \quad
        w_{ii} = \begin{cases} W_{ii} & W_{ii} > 0 \\
        \max_{j \ne i} W_{ij} & \text{otherwise} \end{cases}

    and :math:`w_{ii} = 1` for an agent without neighbours (it keeps its
    state).  The default self weight (the largest neighbour weight) makes an
    agent trust itself as much as its most trusted neighbour; for an
    unweighted graph (all weights 1) it gives the original unweighted HK
    average.  The update is synchronous and vectorised over the CSR entries
    (the only Python loop runs over the ``K`` columns when computing
    distances).  A NaN state is refused (``ValueError``) rather than propagated: one NaN
    would enter every neighbour's sum through the sparse product and turn them all NaN.

    References
    ----------
    .. [1] R. Hegselmann and U. Krause, "Opinion dynamics and bounded
       confidence: models, analysis and simulation", Journal of Artificial
       Societies and Social Simulation 5(3), 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 1.0, 0.0]]))
    >>> x = np.array([0.0, 0.4, 1.0])
    >>> hegselmann_krause_step(x, W, epsilon=0.5)
    array([0.2, 0.3, 1. ])
    """
    A = _as_csr(W)
    n = A.shape[0]
    x = _state(x, n)
    eps = _per_agent(epsilon, n, "epsilon", hi=np.inf)
    return _hegselmann_krause_step(x, A, eps)


def _hegselmann_krause_step(x, W, epsilon):
    """Unchecked kernel of :func:`hegselmann_krause_step` for the model's per-step loop (the
    caller guarantees finite non-negative weights, a finite float state and ``epsilon >= 0``,
    a scalar or of shape ``(N,)``).  Same result."""
    A = _canonical(W)
    n = A.shape[0]
    x = np.asarray(x, dtype=np.float64)
    eps = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (n,))
    B, rows, self_w = _hk_parts(A)
    close = _edge_distance(x, B) <= np.take(eps, rows)
    wdata = np.where(close, B.data, 0.0)
    M = sparse.csr_array((wdata, B.indices, B.indptr), shape=B.shape)
    num = M @ x + _column(self_w, x) * x
    den = np.bincount(rows, weights=wdata, minlength=n) + self_w
    return num / _column(den, x)


def hegselmann_krause_step_loop(x, W, epsilon):
    """Plain-loop reference of :func:`hegselmann_krause_step` (same result)."""
    A = _as_csr(W)
    n = A.shape[0]
    x = _state(x, n)
    eps = _per_agent(epsilon, n, "epsilon", hi=np.inf).tolist()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    xs = _rows(x)
    out = np.empty_like(x)
    for i in range(n):
        self_w = 0.0
        row_max = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            if indices[p] == i:
                self_w = data[p]
            else:
                row_max = max(row_max, data[p])
        if self_w == 0.0:
            self_w = row_max if row_max > 0.0 else 1.0
        num = self_w * xs[i]
        den = self_w
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j != i and _distance_pair(xs[i], xs[j]) <= eps[i]:
                num = num + data[p] * xs[j]
                den += data[p]
        out[i] = num / den
    return out


# ---------------------------------------------------------------------------
# Bass diffusion
# ---------------------------------------------------------------------------


def _adopters(adopted, n):
    """``adopted`` as a boolean ``(n,)`` array: booleans, or integers that are all 0 or 1."""
    a = np.asarray(adopted)
    if a.shape != (n,):
        raise ValueError(f"adopted must have shape ({n},), got {a.shape}")
    if a.dtype == bool:
        return a
    if a.dtype.kind in "iu" and ((a == 0) | (a == 1)).all():
        return a.astype(bool)
    if a.dtype.kind in "iu":
        raise ValueError("adopted must be boolean or integers 0/1, got the value "
                         f"{a[(a != 0) & (a != 1)][0]}")
    raise ValueError(f"adopted must be boolean or integers 0/1, got dtype {a.dtype} "
                     "(a fraction or NaN is not an adoption state)")


def bass_adoption_step(adopted, W, p, q, rng):
    r"""One synchronous step of network Bass diffusion.

    Parameters
    ----------
    adopted : array_like of bool, shape (N,)
        Current adopters; booleans, or integers 0/1 (floats such as 0.5 or NaN are refused).
    W : scipy.sparse matrix, shape (N, N)
        Non-negative weights; rows are normalised.
    p : float
        Innovation (external influence) probability per step, in [0, 1].
    q : float
        Imitation coefficient, in [0, 1].
    rng : numpy.random.Generator or int
        Source of randomness; exactly ``rng.random(N)`` is drawn, one uniform
        per agent whether or not it has adopted.  An integer is a seed for
        :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray of bool, shape (N,)
        Adopters after the step.

    See Also
    --------
    bass_adoption_step_loop : plain-loop reference (same draws, same result).

    Notes
    -----
    A non-adopter :math:`i` adopts with probability [1]_

    .. math::

        P_i = p + q \sum_j \hat W_{ij} a_j ,

    :math:`a` the adoption indicator and :math:`\hat W` =
    :func:`row_normalise` ``(W)``; adopters stay adopters.  On the complete
    graph the expected adopted fraction follows, for large :math:`N`, the
    discrete Bass recursion :math:`F_{t+1} = F_t + (p + q F_t)(1 - F_t)`.

    References
    ----------
    .. [1] F. M. Bass, "A new product growth for model consumer durables",
       Management Science 15(5):215-227, 1969.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> W = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    >>> a = np.array([True, False, False])
    >>> bass_adoption_step(a, W, p=1.0, q=0.0, rng=np.random.default_rng(0))
    array([ True,  True,  True])
    """
    A = _as_csr(W)
    a = _adopters(adopted, A.shape[0])
    return _bass_adoption_step(a, A, _scalar(p, "p"), _scalar(q, "q"), _generator(rng))


def _bass_adoption_step(adopted, W, p, q, rng):
    """Unchecked kernel of :func:`bass_adoption_step` for the model's per-step loop (the
    caller guarantees finite non-negative weights, a boolean ``adopted`` of shape ``(N,)``,
    ``p, q`` in [0, 1] and a Generator).  Same draws and result."""
    A = _canonical(W)
    a = np.asarray(adopted, dtype=bool)
    u = rng.random(A.shape[0])
    frac, _ = _neighbour_mean(A, a.astype(np.float64))
    prob = p + q * frac
    return a | (u < prob)


def bass_adoption_step_loop(adopted, W, p, q, rng):
    """Plain-loop reference of :func:`bass_adoption_step` (same draws, same result)."""
    A = _as_csr(W)
    n = A.shape[0]
    a = _adopters(adopted, n)
    p = _scalar(p, "p")
    q = _scalar(q, "q")
    u = _generator(rng).random(n).tolist()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    al = a.tolist()
    out = np.empty(n, dtype=bool)
    for i in range(n):
        if al[i]:
            out[i] = True
            continue
        lo, hi = indptr[i], indptr[i + 1]
        total = 0.0
        for k in range(lo, hi):
            total += data[k]
        acc = 0.0
        for k in range(lo, hi):
            if al[indices[k]]:
                acc += data[k]
        frac = acc / total if hi > lo else 0.0
        out[i] = u[i] < p + q * frac
    return out

"""Null models of the network: degree-preserving rewiring that keeps groups and localities
(``rewire_pairs`` with ``group`` / ``locality``; the ``rewire`` event's ``preserve``)."""

import numpy as np
import pytest

from simulation.tie_dynamics import rewire_pairs, rewire_pairs_loop, tie_blocks

# six agents: 0-2 in group 0 (localities 0, 0, 1), 3-4 in group 1 (locality 2), 5 a provider
GROUP = np.array([0, 0, 0, 1, 1, -1])
AREA = np.array([0, 0, 1, 2, 2, -1])
SRC = np.array([0, 0, 1, 3, 2, 5, 1])
DST = np.array([1, 2, 2, 4, 3, 0, 0])


def test_tie_blocks_by_hand():
    # ties 0-1, 0-2, 1-2, 1-0 inside group 0; 3-4 inside group 1; 2-3 across; 5-0 provider
    assert tie_blocks(SRC, DST, GROUP).tolist() == [0, 0, 0, 1, -1, -1, 0]
    # with localities: 0-1 and 1-0 inside locality 0 -> block 2 + 0; 3-4 in locality 2 -> 4
    assert tie_blocks(SRC, DST, GROUP, AREA).tolist() == [2, 0, 0, 4, -1, -1, 2]


def test_forced_matchings_by_hand():
    """Blocks whose stubs can only pair one way: group 1's single tie 3-4 stays 3-4 (in some
    order), and the cross-group and provider ties are returned untouched, last."""
    rng = np.random.default_rng(0)
    a, b, old = rewire_pairs(SRC, DST, rng, group=GROUP)
    assert old.tolist() == [0, 1, 2, 6, 3, 4, 5]
    assert sorted([a[4], b[4]]) == [3, 4]
    assert (a[5], b[5]) == (2, 3) and (a[6], b[6]) == (5, 0)
    # group 0's four ties keep group 0's stubs: 0 x3, 1 x3, 2 x2
    assert sorted(np.concatenate([a[:4], b[:4]]).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2]


def _random_case(seed, n=300, m=2000):
    rng = np.random.default_rng(seed)
    group = rng.integers(-1, 4, n)  # -1: provider / local-authority staff
    area = np.where(group >= 0, group * 3 + rng.integers(0, 3, n), -1)
    area[rng.random(n) < 0.1] = -1  # some group-level agents have no locality
    # mostly within-group ties, some across
    src = rng.integers(0, n, m)
    dst = np.where(rng.random(m) < 0.8,
                   [rng.choice(np.flatnonzero(group == group[s])) for s in src],
                   rng.integers(0, n, m))
    return src, dst, group, area


@pytest.mark.parametrize("mode", ["none", "group", "locality"])
def test_degrees_groups_and_localities_preserved(mode):
    src, dst, group, area = _random_case(1)
    g = None if mode == "none" else group
    loc = area if mode == "locality" else None
    a, b, old = rewire_pairs(src, dst, np.random.default_rng(2), group=g, locality=loc)
    n = group.size
    deg = np.bincount(np.concatenate([src, dst]), minlength=n)
    np.testing.assert_array_equal(np.bincount(np.concatenate([a, b]), minlength=n), deg)
    assert sorted(old.tolist()) == list(range(src.size))  # every old weight used once
    if mode == "none":
        return
    blocks = tie_blocks(src, dst, group, loc)
    # the block of each new tie's ends is the old tie's block (group or locality kept)...
    new_blocks = tie_blocks(a, b, group, loc)
    rewired = blocks[old] >= 0
    np.testing.assert_array_equal(group[a[rewired]], group[b[rewired]])
    np.testing.assert_array_equal(group[a[rewired]], group[src[old[rewired]]])
    if loc is not None:
        in_loc = blocks[old] >= group.max() + 1
        np.testing.assert_array_equal(area[a[in_loc]], area[src[old[in_loc]]])
        np.testing.assert_array_equal(area[b[in_loc]], area[src[old[in_loc]]])
    # ...and each agent keeps its number of within-group (within-locality) tie ends
    for key in np.unique(blocks[blocks >= 0]):
        before = np.bincount(np.concatenate([src[blocks == key], dst[blocks == key]]), minlength=n)
        after = np.bincount(np.concatenate([a[blocks[old] == key], b[blocks[old] == key]]),
                            minlength=n)
        np.testing.assert_array_equal(before, after)
    # the kept ties are exactly the cross-group ones
    kept = ~rewired
    np.testing.assert_array_equal(a[kept], src[old[kept]])
    np.testing.assert_array_equal(b[kept], dst[old[kept]])
    assert (new_blocks[rewired] >= 0).all()


@pytest.mark.parametrize("mode", ["group", "locality"])
def test_matches_the_plain_loop_reference(mode):
    src, dst, group, area = _random_case(3, n=80, m=300)
    loc = area if mode == "locality" else None
    a, b, old = rewire_pairs(src, dst, np.random.default_rng(4), group=group, locality=loc)
    n_stubs = 2 * int((tie_blocks(src, dst, group, loc) >= 0).sum())
    u = np.random.default_rng(4).random(n_stubs)  # the draws rewire_pairs made
    ra, rb, rold = rewire_pairs_loop(src, dst, u, group, loc)
    np.testing.assert_array_equal(a, ra)
    np.testing.assert_array_equal(b, rb)
    np.testing.assert_array_equal(old, rold)


def test_whole_model_mode_is_unchanged():
    """``preserve: none`` keeps today's draws: the stub permutation of the whole model."""
    src, dst, *_ = _random_case(5, n=50, m=100)
    a, b, old = rewire_pairs(src, dst, np.random.default_rng(6))
    stubs = np.concatenate([src, dst])[np.random.default_rng(6).permutation(200)]
    np.testing.assert_array_equal(a, stubs[0::2])
    np.testing.assert_array_equal(b, stubs[1::2])
    np.testing.assert_array_equal(old, np.arange(100))


@pytest.mark.parametrize("preserve", ["group", "locality", "none"])
def test_rewire_event_modes_in_the_model(preserve):
    from pathlib import Path

    from simulation.loader import load_scenario
    from simulation.model import CommissioningModel

    s = load_scenario(Path(__file__).parents[1] / "scenarios/east_of_england_2013.yaml",
                      ["scale=0.1", "burn_in=2",
                       f"events=[{{type: rewire, step: 1, preserve: {preserve}}}]"])
    m = CommissioningModel(s, seed=1, collect=False)
    g = m.pop.group
    cross0 = int(((g[m.ties.src] != g[m.ties.dst])).sum())
    m.month = 1
    m.fire_events()
    cross1 = int(((g[m.ties.src] != g[m.ties.dst])).sum())
    if preserve == "none":
        assert cross1 > cross0
    else:
        assert cross1 == cross0  # no new tie across groups

"""The classroom game's Python API (simulation.classroom.session): hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.classroom import ChoiceError, ClassroomModel, Session, SessionClosed
from simulation.classroom.session import SeatTaken, SessionFull
from simulation.loader import load_scenario
from simulation.model import CommissioningModel

TEACHING = "scenarios/teaching.yaml"


@pytest.fixture(scope="module")
def spec():
    return load_scenario(TEACHING)


def _board_seat(s: Session, token: str):
    seat = s.seat(token)
    assert s.model.on_board[seat.slot]
    return seat


def test_classroom_model_without_choices_is_the_model(spec):
    a = ClassroomModel(spec, 3, collect=False)
    b = CommissioningModel(spec, 3, collect=False)
    for _ in range(7):
        a.step()
        b.step()
    assert np.array_equal(a.belief, b.belief)
    assert np.array_equal(a.objective, b.objective)
    assert np.array_equal(a.engagement, b.engagement)
    assert np.array_equal(a.budget.board, b.budget.board)


def test_undecided_seats_act_as_their_agents(spec, tmp_path):
    s = Session(spec, seed=11, seats=6, folder=tmp_path)
    for name in ("Ada", "Bob", "Cy"):
        s.join(name)
    for _ in range(4):
        s.advance()
    # nobody decided: the run is the all-simulated reference, bit for bit
    assert np.array_equal(s.model.belief, s.reference.belief)
    assert np.array_equal(s.model.budget.board, s.reference.budget.board)
    h = s.state()["history"]
    assert [r["skill"] for r in h] == [r["skill_reference"] for r in h]
    log = pd.read_parquet(tmp_path / "decisions.parquet")
    assert len(log) == 3 * 4 and not log["decided"].any()
    assert {"saw_observation", "saw_belief", "saw_allocation", "effort", "ties"} <= set(log.columns)


def _play_to_decision(s: Session, token: str, **choices):
    """Advance to the month before a board decision, then submit ``choices``."""
    while not s.entitled(s.seat(token).slot)["decision_month"]:
        s.advance()
    return s.submit(token, **choices)


def test_disengaged_absent_board_member_has_no_influence(spec):
    """A board member with effort 0 who skips both meetings: what they believe and want
    does not reach the board's meeting view, priorities or allocation that month."""
    out = []
    for perturb in (False, True):
        s = Session(spec, seed=5, seats=4)
        tok = s.join("Ada")
        seat = _board_seat(s, tok)
        _play_to_decision(s, tok, effort=0.0, attend_locality=False, attend_board=False)
        if perturb:  # the same month with a very different agent in the seat
            s.model.belief[seat.slot] = np.eye(s.model.n_services)[2]
            s.model.objective[seat.slot] = np.eye(s.model.n_services)[2]
        s.advance()
        m = s.model
        assert not m.active[seat.slot] and not m.board_attended[seat.slot]
        out.append((m.meeting_view.copy(), m.meeting_objective.copy(), m.budget.board.copy()))
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


def test_engaged_attending_board_member_does_influence(spec):
    out = []
    for perturb in (False, True):
        s = Session(spec, seed=5, seats=4)
        tok = s.join("Ada")
        seat = _board_seat(s, tok)
        _play_to_decision(s, tok, effort=1.0, attend_board=True)
        if perturb:
            s.model.belief[seat.slot] = np.eye(s.model.n_services)[2]
        s.advance()
        assert s.model.active[seat.slot] and s.model.board_attended[seat.slot]
        out.append(s.model.meeting_view.copy())
    assert np.abs(out[0] - out[1]).max() > 1e-4


def test_vote_becomes_the_members_priorities(spec):
    views = []
    for vote in (None, ["mental_health"]):
        s = Session(spec, seed=5, seats=4)
        tok = s.join("Ada")
        _play_to_decision(s, tok, effort=1.0, attend_board=True, vote=vote)
        s.advance()
        views.append(s.model.meeting_objective[0, 2])
    assert views[1] > views[0] + 1e-3  # the board's pooled priority for mental health rose
    s = Session(spec, seed=5, seats=4)
    tok = s.join("Ada")
    assert s.submit(tok, vote=[1, 1, 0, 0, 0, 0])["vote"] == [0.5, 0.5, 0, 0, 0, 0]


def test_effort_sets_engagement_and_participation(spec):
    s = Session(spec, seed=2, seats=4)
    tok = s.join("Ada")
    slot = s.seat(tok).slot
    s.submit(tok, effort=0.0)
    s.advance()
    assert not s.model.active[slot]
    s.submit(tok, effort=1.0)
    s.advance()
    assert s.model.active[slot]
    log = s.log
    assert [r["effort"] for r in log] == [0.0, 1.0] and all(r["decided"] for r in log)


def test_chosen_tie_is_made_and_used(spec):
    s = Session(spec, seed=2, seats=4)
    tok = s.join("Ada")
    slot = s.seat(tok).slot
    t = s.model.ties
    idx = t.incident(np.array([slot]))
    nbrs = set(np.where(t.src[idx] == slot, t.dst[idx], t.src[idx]).tolist())
    new = next(c for c in s.candidates(slot) if c not in nbrs)
    s.model.engagement[new] = 1.0  # the peer takes part this month
    s.submit(tok, effort=1.0, ties=[new])
    s.advance()
    key = min(slot, new) * s.model.n_agents + max(slot, new)
    assert key in set(s.model.ties.keys().tolist())
    assert new in [q["id"] for q in s.state(tok)["heard"]]


def test_choices_are_validated(spec):
    s = Session(spec, seed=2, seats=12)
    board = s.join("Ada")  # the first seats are formal-role GPs
    names = [f"S{i}" for i in range(11)]
    toks = [s.join(n) for n in names]
    plain = next(t for t in toks if not s.model.on_board[s.seat(t).slot]
                 and s.model.front_line[s.seat(t).slot])
    for bad in ({"effort": 1.5}, {"effort": float("nan")}, {"effort": True}, {"effort": "1"},
                {"attend_board": True}, {"attend_locality": 1}, {"vote": ["mental_health"]},
                {"ties": [10**6]}, {"ties": [1, 2, 3, 4]}, {"bogus": 1}, {"ties": "3"}):
        with pytest.raises(ChoiceError):
            s.submit(plain, **bad)
    for bad in ({"vote": [1, 2]}, {"vote": ["nothing"]}, {"vote": [0] * 6}, {"vote": [-1] + [1] * 5}):
        with pytest.raises(ChoiceError):
            s.submit(board, **bad)
    with pytest.raises(PermissionError):
        s.submit("forged-token", effort=0.5)
    assert s.submit(plain, effort=0.5) == {"effort": 0.5}


def test_join_leave_rejoin_and_codes(spec):
    s = Session(spec, seed=2, seats=2, code="abc234")
    assert s.code == "ABC234"
    with pytest.raises(PermissionError):
        s.join("Ada", code="WRONG1")
    with pytest.raises(ChoiceError):
        s.join("   ")
    a = s.join("Ada", code="abc234")
    seat = s.seat(a)
    s.submit(a, effort=0.2)
    with pytest.raises(SeatTaken):
        s.join("ada")  # names are case-insensitive; Ada is connected
    s.join("Bob")
    with pytest.raises(SessionFull):
        s.join("Cy")
    s.leave(a)
    assert not seat.playing()
    with pytest.raises(PermissionError):
        s.state(a)  # the old token is dead
    s.advance()  # the seat acts as its model agent while Ada is away
    assert s.log[-2]["playing"] is False and not s.log[-2]["decided"]
    a2 = s.join("ADA")
    assert a2 != a and s.seat(a2) is seat and seat.playing()


def test_rejoin_keeps_this_months_choices(spec):
    s = Session(spec, seed=2, seats=2)
    a = s.join("Ada")
    s.submit(a, effort=0.3)
    s.leave(a)
    a2 = s.join("Ada")
    assert s.state(a2)["choices"] == {"effort": 0.3}
    s.advance()
    assert s.log[-1]["decided"] and s.log[-1]["effort"] == 0.3


def test_idle_seat_returns_to_the_model_and_comes_back(spec):
    s = Session(spec, seed=2, seats=2)
    a = s.join("Ada")
    seat = s.seat(a)
    seat.last_seen -= 100
    assert s.drop_idle(30) == [seat.index]
    assert not seat.playing()
    s.state(a)  # the student's next request
    assert seat.playing()


def test_lesson_ends(spec):
    s = Session(spec, seed=2, seats=2, months=2)
    a = s.join("Ada")
    s.advance()
    s.advance()
    assert s.finished and s.state()["finished"]
    with pytest.raises(SessionClosed):
        s.advance()
    with pytest.raises(SessionClosed):
        s.submit(a, effort=0.5)


def test_student_and_hub_views(spec):
    s = Session(spec, seed=2, seats=3)
    a = s.join("Ada")
    s.submit(a, effort=0.8, attend_locality=True)
    s.advance()
    v = s.state(a)
    k = s.model.n_services
    assert len(v["observation"]) == k and len(v["services"]) == k
    assert v["seat"]["titles"] == ["locality lead", "board member"]
    assert v["locality_meeting"]["attended"] is True
    hub = s.state()
    assert hub["board"]["need"] is None
    s.reveal()
    assert len(s.state()["board"]["need"]) == k
    net = s.network()
    assert len(net["nodes"]) == s.model.n_agents
    assert sum(n["student"] for n in net["nodes"]) == 1
    assert "Ada" not in str(net)  # the network names no student
    import json

    for view in (s.state(), s.state(a), net):  # strict JSON: no NaN reaches a screen
        json.dumps(view, allow_nan=False)
    from simulation.classroom.session import _num

    assert _num(float("nan")) is None and _num(np.float64(0.5)) == 0.5


def test_a_dropped_student_takes_the_seat_back_from_a_silent_device(spec):
    s = Session(spec, seed=2, seats=2)
    a = s.join("Ada")
    seat = s.seat(a)
    s.submit(a, effort=0.4)
    with pytest.raises(SeatTaken):
        s.join("Ada")  # the first device is active
    seat.last_seen -= s.rejoin_grace + 1  # it went silent (the phone lost its connection)
    a2 = s.join("Ada")
    assert s.seat(a2) is seat and s.state(a2)["choices"] == {"effort": 0.4}
    with pytest.raises(PermissionError):
        s.seat(a)  # the silent device's token no longer acts for the seat


def test_behaviour_is_the_class_rates():
    from simulation.classroom.debrief import behaviour

    rows = []
    for month, (e_gp, e_pm, loc) in enumerate([(0.2, 0.9, True), (0.4, 0.7, False)], 1):
        for kind, eff in (("gp", e_gp), ("manager", e_pm)):
            rows.append({"month": month, "name": kind, "kind": kind, "decided": True,
                         "effort": eff, "attend_locality": loc, "attend_board": None,
                         "entitled_locality": True, "locality_meets": True,
                         "entitled_board": False, "decision_month": False, "ties": [1],
                         "vote": []})
    rows.append({**rows[0], "decided": False, "effort": float("nan")})  # the model played
    over, summary = behaviour(pd.DataFrame(rows))
    assert over == {"engagement.gp.mean": 0.3, "engagement.manager.mean": 0.8,
                    "localities.attendance": 0.5}
    assert summary["decisions"] == 4 and summary["ties_per_decision"] == 1


def test_debrief_writes_scenario_and_report(tmp_path):
    from simulation.classroom.debrief import debrief

    s = Session(TEACHING, seed=4, seats=4, folder=tmp_path, months=3)
    toks = [s.join(n) for n in ("Ada", "Bob", "Cy")]
    for _ in range(3):
        for t in toks:
            s.submit(t, effort=0.1)
        s.advance()
    res = debrief(tmp_path, replicates=2, steps=4, executor="serial")
    assert res.overrides["engagement.gp.mean"] == 0.1
    spec = load_scenario(res.scenario)
    assert spec.engagement.gp.mean == 0.1
    text = res.report.read_text()
    assert "if everyone behaved as this class did" in text and "Decision skill" in text
    assert (tmp_path / "debrief" / "compare" / "compare.csv").exists()


def test_debrief_refuses_a_folder_without_decisions(tmp_path):
    from simulation.classroom.debrief import debrief
    from simulation.loader import ScenarioError

    with pytest.raises(ScenarioError):
        debrief(tmp_path)
    s = Session(TEACHING, seed=4, seats=2, folder=tmp_path, months=1)
    s.join("Ada")
    s.advance()  # nobody decided
    with pytest.raises(ScenarioError):
        debrief(tmp_path)


def test_an_undecided_student_still_hears_their_ties(spec):
    s = Session(spec, seed=2, seats=4)
    tok = s.join("Ada")
    slot = s.seat(tok).slot
    for _ in range(6):
        s.advance()
        if s.model.active[slot]:
            break
    assert s.model.active[slot]
    heard = s.state(tok)["heard"]  # Ada decided nothing, yet sees who she talked with
    assert heard and all(h["id"] in s.model.heard[slot][i][0:1] for i, h in enumerate(heard))
    assert np.array_equal(s.model.belief, s.reference.belief)  # watching changes nothing


@pytest.mark.slow
def test_cli_debrief(tmp_path):
    from typer.testing import CliRunner

    from simulation.cli import app

    s = Session(TEACHING, seed=4, seats=2, folder=tmp_path / "lesson", months=2)
    tok = s.join("Ada")
    for _ in range(2):
        s.submit(tok, effort=0.9)
        s.advance()
    res = CliRunner().invoke(app, ["classroom", "debrief", str(tmp_path / "lesson"),
                                   "--replicates", "2", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "if everyone behaved as this class did" in res.output
    assert (tmp_path / "lesson" / "debrief" / "class_behaviour.yaml").exists()

"""A lesson's shared run: students take seats of the model and decide for their agents.

:class:`Session` is the Python API of the game (the server of :mod:`.server` is a thin layer
over it)::

    s = Session("scenarios/teaching.yaml", seed=42, seats=12)
    token = s.join("Ada")                       # a seat: a GP, manager, provider, ...
    s.state(token)                              # what Ada's agent sees
    s.submit(token, effort=0.8, attend_locality=True, ties=[17])
    s.advance()                                 # one month of the model
    s.state()                                   # the facilitator's aggregates

**No second model.**  The run is a :class:`ClassroomModel`, a
:class:`~simulation.model.CommissioningModel` whose phases take the students' choices as
inputs to the model's own kernels, and do nothing else (without choices it is the model bit
for bit; tested):

* *effort* sets the agent's ``engagement`` before ``draw_attendance`` (so it drives
  observation noise and rates, exchange rates and meeting weights as engagement does), and
  the agent takes part this month (``active``) iff the effort is above 0;
* *attend_locality* forces the agent in or out of this month's locality meeting (the model's
  :meth:`~simulation.model.CommissioningModel.locality_attendance` hook), *attend_board* in
  or out of the board meeting (``active`` for the meeting only);
* *ties* (at most :data:`MAX_TIES` neighbours or same-locality peers): a peer not yet tied
  becomes a tie (at the scenario's ``ties.new_tie_weight``); the chosen ties carry full trust
  (weight 1) in this month's exchange, so the seat hears them and they hear it more than
  its other ties (then their weights are restored and they are reinforced as used ties are);
* *vote* (board members, decision months): the agent's objective row becomes the vote before
  the board meeting pools its members' priorities.

A seat whose student has not decided, has left, or is away acts as its model agent.  Every
month every student seat's decision is logged (seat, month, what the student saw, the
choices) to ``decisions.parquet`` in the session folder.  A second, plain model with the
same seed and every seat simulated runs alongside: the hub's reference lines.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..model import CommissioningModel
from ..population import (
    GP,
    LOCAL_AUTHORITY,
    MANAGER,
    PATIENT,
    PROVIDER,
    R_GP,
    R_LA,
    R_PM,
    R_PPG,
    R_PROV,
    ROLES,
)
from ..scenario import STAKEHOLDER_TYPES, Scenario

__all__ = ["CHOICES", "MAX_TIES", "ChoiceError", "ClassroomModel", "SeatTaken", "Session",
           "SessionClosed", "SessionFull"]

#: At most this many ties a student may pick in a month.
MAX_TIES = 3
#: The choices a student can make (keyword arguments of :meth:`Session.submit`).
CHOICES = ("effort", "attend_locality", "attend_board", "ties", "vote")
#: A name whose seat's student sent nothing for this long (seconds) may take the seat back
#: from another device (a dropped connection); a live screen asks at least every 20 s.
REJOIN_GRACE = 25.0
#: Display names are 1..MAX_NAME characters.
MAX_NAME = 40
#: Join codes: six characters without look-alikes (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

SERVICE_LABELS = {
    "urgent_emergency": "Urgent & emergency",
    "planned_care": "Planned care",
    "mental_health": "Mental health",
    "long_term_community": "Long-term & community",
    "maternity_children": "Maternity & children",
    "prevention_primary": "Prevention & primary care",
}
ROLE_LABELS = {R_GP: "GP", R_PM: "practice manager", R_PROV: "provider",
               R_LA: "council officer", R_PPG: "patient representative"}


class ChoiceError(ValueError):
    """A choice that is not allowed (bad value, not entitled, unknown tie)."""


class SessionClosed(RuntimeError):
    """The lesson is over (every month played)."""


class SessionFull(RuntimeError):
    """Every seat is taken."""


class SeatTaken(PermissionError):
    """The name holds a seat whose student is connected (rejoin needs them to have left)."""


# ====================================================================== the model
class ClassroomModel(CommissioningModel):
    """The model with the students' choices as inputs to its phases (module docstring).

    ``choices`` maps slot → choices for the month about to run (set by :class:`Session`
    before each step, empty otherwise: then every phase is the model's own).  ``watch``
    lists the slots whose month is recorded (the students' seats): after each month
    ``heard`` maps each to the neighbours whose ties it used, with what they believed before
    the exchange; ``locality_attended`` and ``board_attended`` say who attended.
    """

    def _choices(self) -> dict[int, dict[str, Any]]:
        return self.__dict__.get("choices") or {}

    def draw_attendance(self) -> None:
        """The model's draw, after the students' efforts set their engagement; a student
        takes part iff their effort is above 0."""
        ch = self._choices()
        for slot, c in ch.items():
            if "effort" in c:
                self.engagement[slot] = c["effort"]
        super().draw_attendance()
        for slot, c in ch.items():
            if "effort" in c:
                self.active[slot] = bool(c["effort"] > 0) and bool(self.present[slot])

    def exchange_knowledge(self) -> None:
        """The model's exchange with the students' chosen ties made (if new) and at full
        trust this month; records what each student heard."""
        ch = self._choices()
        picks = [(slot, peer) for slot, c in ch.items() for peer in c.get("ties", ())]
        boosted = saved = None
        if picks:
            a = np.array([x for x, _ in picks], np.int64)
            b = np.array([y for _, y in picks], np.int64)
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            keys = self.ties.keys()
            want = lo * self.n_agents + hi
            new = ~np.isin(want, keys)
            if new.any():
                self.ties = self.ties.add(lo[new], hi[new], self.spec.ties.new_tie_weight)
                keys = self.ties.keys()
            boosted = np.searchsorted(keys, want)
            saved = self.ties.weight[boosted].copy()
            self.ties.weight[boosted] = 1.0
        watch = sorted(set(self.__dict__.get("watch") or ()) | set(ch))
        before = self.belief.copy() if watch else None
        super().exchange_knowledge()
        if boosted is not None:
            self.ties.weight[boosted] = np.maximum(saved, 0.0)
        self.heard = {}
        if watch:
            t = self.ties
            for slot in watch:
                idx = t.incident(np.array([slot]))
                idx = idx[self.used[idx]]
                peers = np.where(t.src[idx] == slot, t.dst[idx], t.src[idx])
                self.heard[int(slot)] = [(int(p), before[p].copy()) for p in peers]

    def locality_attendance(self, attend: np.ndarray) -> np.ndarray:
        """The model's draw of attendees with the students' choices forced in or out."""
        ch = self._choices()
        forced = [(s, bool(c["attend_locality"])) for s, c in ch.items() if "attend_locality" in c]
        if forced:
            attend = attend.copy()
            for slot, go in forced:
                attend[slot] = go and bool(self.present[slot])
        self.locality_attended = attend.copy()
        return attend

    def hold_board_meeting(self) -> None:
        """The model's board meeting after the votes replaced the voters' priorities, with
        the students' attendance choices (for the meeting only)."""
        ch = self._choices()
        for slot, c in ch.items():
            if "vote" in c and self.on_board[slot]:
                self.objective[slot] = c["vote"]
        forced = [(s, bool(c["attend_board"])) for s, c in ch.items() if "attend_board" in c]
        saved = None
        if forced:
            saved = self.active.copy()
            for slot, go in forced:
                self.active[slot] = go and bool(self.present[slot])
        self.board_attended = self.active & self.on_board
        super().hold_board_meeting()
        if saved is not None:
            self.active = saved


# ====================================================================== seats
@dataclass
class Seat:
    """A seat students can take: one slot of the model."""

    index: int
    slot: int
    kind: str
    role: str
    titles: list[str]
    name: str | None = None
    token: str | None = None
    left: bool = False  # the student left (or was dropped): the seat is the model's
    last_seen: float = 0.0
    choices: dict[str, Any] = field(default_factory=dict)
    choices_month: int | None = None  # the month the pending choices are for

    @property
    def title(self) -> str:
        return self.role + (f" ({', '.join(self.titles)})" if self.titles else "")

    def playing(self) -> bool:
        return self.name is not None and not self.left


def _code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def _norm_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ChoiceError("the name must be text")
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= MAX_NAME or not clean.isprintable():
        raise ChoiceError(f"a name is 1 to {MAX_NAME} printable characters")
    return clean


def _num(x: Any) -> float | None:
    """A finite float, or None (JSON has no NaN: a skill is NaN while floor and ceiling meet)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _floats(v: np.ndarray) -> list[float]:
    return [round(float(x), 5) if np.isfinite(x) else None for x in np.ravel(v)]


# ====================================================================== the session
class Session:
    """One lesson: a shared :class:`ClassroomModel` run and its seats (module docstring).

    Parameters
    ----------
    scenario : Scenario, or path of a scenario YAML
    seed : int, optional
        The run's seed (default: the scenario's).  The reference run uses the same seed.
    seats : int
        Seats offered to students (at most the eligible agents: GPs, practice managers,
        provider staff, council officers and patient representatives).
    folder : path, optional
        The session folder: ``session.json``, ``scenario.yaml`` (when given a path),
        ``decisions.parquet`` and ``history.parquet``.  Without it nothing is written.
    months : int, optional
        Months in the lesson (default: the scenario's ``steps``).
    code : str, optional
        The join code (default: six random characters).
    """

    def __init__(self, scenario: Scenario | str | os.PathLike[str], seed: int | None = None,
                 seats: int = 30, *, folder: str | os.PathLike[str] | None = None,
                 months: int | None = None, code: str | None = None):
        from ..loader import load_scenario

        source = None
        if not isinstance(scenario, Scenario):
            source = Path(scenario)
            scenario = load_scenario(source)
        self.spec = scenario
        self.seed = int(scenario.seed if seed is None else seed)
        self.model = ClassroomModel(scenario, self.seed, collect=False)
        self.reference = CommissioningModel(scenario, self.seed, collect=False)
        self.months = int(months or scenario.steps)
        if self.months < 1:
            raise ValueError("months must be at least 1")
        self.code = (code or _code()).upper()
        self.lock = threading.RLock()
        self.rejoin_grace = REJOIN_GRACE
        self.version = 0  # bumped by every change a screen shows
        self.seats = self._plan(int(seats))
        self._by_token: dict[str, Seat] = {}
        self._by_name: dict[str, Seat] = {}
        self.log: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.revealed = False
        self.services = list(scenario.services)
        self.folder = Path(folder) if folder is not None else None
        self._layout: dict[str, Any] | None = None
        self._record()
        if self.folder is not None:
            import pandas  # noqa: F401  imported now, not in the first month's write
            import pyarrow.parquet  # noqa: F401

            self.folder.mkdir(parents=True, exist_ok=True)
            meta = {"scenario": scenario.name, "source": str(source.resolve()) if source else None,
                    "seed": self.seed, "seats": len(self.seats), "months": self.months,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            if source is not None:
                (self.folder / "scenario.yaml").write_text(source.read_text())
            (self.folder / "session.json").write_text(json.dumps(meta, indent=2))

    # ------------------------------------------------------------------ seats
    def _plan(self, n: int) -> list[Seat]:
        """The seats in the order students take them, so that any class gets a mix: formal-role
        GPs (locality leads first, then board GPs) interleaved with GPs (one per practice
        before a second), practice managers, patient representatives, provider staff and
        council officers."""
        m, p = self.model, self.model.pop
        role = p.role
        formal_gp = np.flatnonzero((role == R_GP) & m.formal_role)
        formal_gp = np.concatenate([formal_gp[p.locality_lead[formal_gp]],
                                    formal_gp[~p.locality_lead[formal_gp]]])
        queues = {
            "gp": list(np.flatnonzero((role == R_GP) & ~m.formal_role)),
            "pm": list(np.flatnonzero(role == R_PM)),
            "patient": list(np.flatnonzero(role == R_PPG)),
            "provider": list(np.flatnonzero(role == R_PROV)),
            "council": list(np.flatnonzero(role == R_LA)),
        }
        # spread the ordinary GPs over practices: one per practice before a second
        gps = queues["gp"]
        rank = {}
        order = []
        for s in gps:
            k = rank.get(int(p.practice[s]), 0)
            rank[int(p.practice[s])] = k + 1
            order.append((k, s))
        queues["gp"] = [s for _, s in sorted(order)]
        queues["formal"] = [int(s) for s in formal_gp]
        pattern = ["formal", "gp", "pm", "formal", "patient", "gp", "formal", "provider", "gp",
                   "council"]
        slots: list[int] = []
        while len(slots) < n and any(queues.values()):
            for q in pattern:
                if queues[q] and len(slots) < n:
                    slots.append(int(queues[q].pop(0)))
        slots = slots[:n]
        return [Seat(i, s, STAKEHOLDER_TYPES[int(p.kind[s])], ROLE_LABELS[int(role[s])],
                     self._titles(s)) for i, s in enumerate(slots)]

    def _titles(self, slot: int) -> list[str]:
        p, m = self.model.pop, self.model
        out = []
        if p.locality_lead[slot]:
            out.append("locality lead")
        if m.on_board[slot]:
            out.append("board member")
        return out

    def join(self, name: str, code: str | None = None) -> str:
        """Take a seat, or take back the seat of this name (case-insensitive) when its
        student left or was silent for :attr:`rejoin_grace` seconds (a dropped connection).

        Returns the seat's new token (any earlier token of the seat stops working).  With
        ``code`` (the server always passes it) the join code must match.  Raises
        :class:`SessionFull`, :class:`SeatTaken` (the name's student is still active),
        :class:`ChoiceError` (bad name) or :class:`PermissionError` (wrong code)."""
        if code is not None and not secrets.compare_digest(
                str(code).strip().upper().encode(), self.code.encode()):
            raise PermissionError("wrong join code")
        clean = _norm_name(name)
        key = clean.casefold()
        with self.lock:
            seat = self._by_name.get(key)
            if (seat is not None and not seat.left
                    and time.monotonic() - seat.last_seen < self.rejoin_grace):
                raise SeatTaken(f"{clean!r} is playing on another device: choose another "
                                "name, leave there first, or wait half a minute")
            if seat is None:
                free = [s for s in self.seats if s.name is None]
                if not free:
                    raise SessionFull("every seat is taken")
                seat = free[0]
                seat.name = clean
                self._by_name[key] = seat
            if seat.token is not None:
                self._by_token.pop(seat.token, None)
            seat.token = secrets.token_urlsafe(18)
            seat.left = False
            seat.last_seen = time.monotonic()
            self._by_token[seat.token] = seat
            self.version += 1
            return seat.token

    def leave(self, token: str) -> None:
        """The student leaves: the seat returns to the model (its name keeps it for a rejoin,
        its pending choices for this month are kept but not applied)."""
        with self.lock:
            seat = self.seat(token)
            self._by_token.pop(seat.token, None)
            seat.token = None
            seat.left = True
            self.version += 1

    def free(self, index: Any) -> None:
        """The facilitator frees a seat (a wrong name, a student gone for good): its token
        and name no longer hold it, the model plays it, and the next student to join may take
        it.  Its logged decisions stay."""
        if isinstance(index, bool) or not isinstance(index, int) \
                or not 0 <= index < len(self.seats):
            raise ChoiceError("no such seat")
        with self.lock:
            seat = self.seats[index]
            if seat.name is None:
                return
            self._by_token.pop(seat.token or "", None)
            self._by_name.pop(seat.name.casefold(), None)
            seat.name = seat.token = None
            seat.left = False
            seat.choices, seat.choices_month = {}, None
            self.version += 1

    def drop_idle(self, seconds: float) -> list[int]:
        """Seats whose student sent nothing for ``seconds`` return to the model (their token
        still works: the next request brings the student back); returns their indices."""
        now = time.monotonic()
        out = []
        with self.lock:
            for s in self.seats:
                if s.playing() and now - s.last_seen > seconds:
                    s.left = True
                    out.append(s.index)
            if out:
                self.version += 1
        return out

    def seat(self, token: Any) -> Seat:
        """The seat of a token (:class:`PermissionError` if none); marks it seen."""
        if not isinstance(token, str) or not token:
            raise PermissionError("no seat token")
        with self.lock:
            seat = self._by_token.get(token)
            if seat is None:
                raise PermissionError("unknown seat token")
            seat.last_seen = time.monotonic()
            if seat.left:  # dropped for idling, back now
                seat.left = False
                self.version += 1
            return seat

    # ------------------------------------------------------------------ the month
    @property
    def month(self) -> int:
        """Months played so far (0 before the first)."""
        return int(self.model.month)

    @property
    def finished(self) -> bool:
        """Whether every month of the lesson has been played."""
        return self.month >= self.months

    def entitled(self, slot: int) -> dict[str, bool]:
        """Which meetings the agent of ``slot`` may attend, and whether it votes."""
        m, p = self.model, self.model.pop
        nxt = self.month + 1
        loc = m.spec.localities
        locality = bool(loc.enabled and m.front_line[slot] and p.area[slot] >= 0)
        board = bool(m.on_board[slot])
        return {"locality": locality,
                "locality_meets": bool(locality and nxt % loc.meeting_interval == 0),
                "board": board,
                "decision_month": bool(nxt % m.spec.decisions.interval == 0),
                "vote": board}

    def candidates(self, slot: int) -> list[int]:
        """Agents the seat may pick as ties: its neighbours, and its same-locality front-line
        peers (same organisation for provider and council staff)."""
        m, p = self.model, self.model.pop
        t = m.ties
        idx = t.incident(np.array([slot]))
        nbrs = set(np.where(t.src[idx] == slot, t.dst[idx], t.src[idx]).tolist())
        if p.area[slot] >= 0:
            peers = np.flatnonzero((p.area == p.area[slot]) & m.front_line & m.present)
        elif p.org[slot] >= 0:
            peers = np.flatnonzero((p.org == p.org[slot]) & (p.kind == p.kind[slot]) & m.present)
        else:
            peers = np.empty(0, np.int64)
        out = (nbrs | set(peers.tolist())) - {slot}
        return sorted(int(x) for x in out)

    def submit(self, token: str, /, **choices: Any) -> dict[str, Any]:
        """Record the seat's choices for the coming month (merged with any given before).

        ``effort`` (0..1), ``attend_locality`` / ``attend_board`` (bool, only if entitled),
        ``ties`` (up to :data:`MAX_TIES` agent ids from :meth:`candidates`), ``vote`` (board
        members in a decision month: K non-negative weights, or a list of service names).
        Raises :class:`ChoiceError` for anything else; returns the month's choices."""
        with self.lock:
            seat = self.seat(token)
            if self.finished:
                raise SessionClosed("the lesson is over")
            clean = self._validate(seat, choices)
            if seat.choices_month != self.month:
                seat.choices = {}
                seat.choices_month = self.month
            seat.choices.update(clean)
            self.version += 1
            return dict(seat.choices)

    def _validate(self, seat: Seat, choices: dict[str, Any]) -> dict[str, Any]:
        ent = self.entitled(seat.slot)
        out: dict[str, Any] = {}
        for key, v in choices.items():
            if key not in CHOICES:
                raise ChoiceError(f"unknown choice {key!r}; choices: {', '.join(CHOICES)}")
            if v is None:
                continue
            if key == "effort":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                        or not 0.0 <= v <= 1.0:
                    raise ChoiceError("effort is a number from 0 to 1")
                out[key] = float(v)
            elif key in ("attend_locality", "attend_board"):
                if not isinstance(v, bool):
                    raise ChoiceError(f"{key} is true or false")
                what = "locality" if key == "attend_locality" else "board"
                if v and not ent[what]:
                    raise ChoiceError(f"this seat does not sit on a {what} meeting")
                out[key] = v
            elif key == "ties":
                if not isinstance(v, (list, tuple)) or len(v) > MAX_TIES or not all(
                        isinstance(x, int) and not isinstance(x, bool) for x in v):
                    raise ChoiceError(f"ties is a list of at most {MAX_TIES} agent ids")
                allowed = set(self.candidates(seat.slot))
                bad = [x for x in v if x not in allowed]
                if bad:
                    raise ChoiceError(f"not a neighbour or peer of this seat: {bad}")
                out[key] = sorted(set(v))
            elif key == "vote":
                if not ent["vote"]:
                    raise ChoiceError("only board members vote")
                out[key] = self._vote(v).tolist()
        return out

    def _vote(self, v: Any) -> np.ndarray:
        k = len(self.services)
        if not isinstance(v, (list, tuple)) or not v:
            raise ChoiceError("a vote is a list of services or of weights")
        if all(isinstance(x, str) for x in v):
            if not set(v) <= set(self.services):
                raise ChoiceError(f"services are {', '.join(self.services)}")
            w = np.array([float(s in v) for s in self.services])
        elif len(v) == k and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                 for x in v):
            w = np.asarray(v, float)
            if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
                raise ChoiceError("vote weights are non-negative and not all 0")
        else:
            raise ChoiceError(f"a vote is a list of service names or {k} weights")
        return w / w.sum()

    def advance(self, write: bool = True) -> dict[str, Any]:
        """Play one month: the playing students' choices enter the model's phases, every
        other seat acts as its model agent; the reference run advances too.  Returns the
        facilitator's view.  With ``write=False`` the log is not written (the server writes
        it with :meth:`write` after the screens have the new month)."""
        with self.lock:
            if self.finished:
                raise SessionClosed("the lesson is over")
            month = self.month
            views = {s.index: self._seen(s.slot) for s in self.seats if s.name is not None}
            playing = {s.slot: dict(s.choices) for s in self.seats
                       if s.playing() and s.choices_month == month and s.choices}
            self.model.choices = playing
            self.model.watch = [s.slot for s in self.seats if s.name is not None]
            self.model.locality_attended = None
            self.model.board_attended = None
            try:
                self.model.step()
            finally:
                self.model.choices = {}
            self.reference.step()
            m = self.model
            for s in self.seats:
                if s.name is None:
                    continue
                c = playing.get(s.slot, {})
                seen = views[s.index]
                la, ba = m.locality_attended, m.board_attended
                self.log.append({
                    "month": month + 1, "seat": s.index, "slot": s.slot, "kind": s.kind,
                    "role": s.role, "titles": ", ".join(s.titles), "name": s.name,
                    "playing": s.playing(), "decided": bool(c),
                    "effort": c.get("effort", np.nan),
                    "attend_locality": c.get("attend_locality"),
                    "attend_board": c.get("attend_board"),
                    "ties": list(c.get("ties", [])), "vote": list(c.get("vote", [])),
                    "entitled_locality": seen["entitled"]["locality"],
                    "locality_meets": seen["entitled"]["locality_meets"],
                    "entitled_board": seen["entitled"]["board"],
                    "decision_month": seen["entitled"]["decision_month"],
                    "saw_observation": seen["observation"], "saw_belief": seen["belief"],
                    "saw_priorities": seen["priorities"], "saw_allocation": seen["allocation"],
                    "saw_reflection": seen["reflection"], "saw_engagement": seen["engagement"],
                    "active": bool(m.active[s.slot]),
                    "attended_locality": None if la is None else bool(la[s.slot]),
                    "attended_board": None if ba is None else bool(ba[s.slot]),
                    "engagement_after": float(m.engagement[s.slot]),
                })
                if s.choices_month == month:
                    s.choices, s.choices_month = {}, None
            self._record()
            self.version += 1
            if write:
                self.write()
            return self.state()

    def reveal(self, on: bool = True) -> None:
        """Show (or hide) true need on the hub."""
        with self.lock:
            self.revealed = bool(on)
            self.version += 1

    # ------------------------------------------------------------------ records
    def _seen(self, slot: int) -> dict[str, Any]:
        m = self.model
        refl = float(m.reflect[slot])
        return {"observation": _floats(m.private[slot]), "belief": _floats(m.belief[slot]),
                "priorities": _floats(m.objective[slot]),
                "allocation": _floats(m.allocation_seen()[slot]),
                "reflection": refl if np.isfinite(refl) else None,
                "engagement": float(m.engagement[slot]), "entitled": self.entitled(slot)}

    def _record(self) -> None:
        from ..reporters import misallocated_per_head, relevance_skill

        m, r = self.model, self.reference
        gp = m.pop.kind == GP
        student = np.zeros(m.n_agents, bool)
        student[[s.slot for s in self.seats if s.name is not None]] = True
        self.history.append({
            "month": self.month,
            "skill": _num(relevance_skill(m)[-1]), "skill_reference": _num(relevance_skill(r)[-1]),
            "misallocated": _num(misallocated_per_head(m)[-1]),
            "misallocated_reference": _num(misallocated_per_head(r)[-1]),
            "engagement": _num(m.engagement[m.present].mean()),
            "engagement_reference": _num(r.engagement[r.present].mean()),
            "engagement_gp": _num(m.engagement[gp & m.present].mean()) if (gp & m.present).any()
            else None,
            "engagement_students": _num(m.engagement[student].mean()) if student.any() else None,
            "students": int(sum(s.playing() for s in self.seats)),
            "decided": int(sum(1 for row in self.log if row["month"] == self.month
                               and row["decided"])),
        })

    def write(self) -> None:
        """Write ``decisions.parquet`` and ``history.parquet`` to the session folder (if any)."""
        if self.folder is None:
            return
        import pandas as pd

        with self.lock:
            log, history = list(self.log), list(self.history)

        tmp = self.folder / "decisions.parquet.tmp"
        pd.DataFrame(log).to_parquet(tmp, index=False)
        tmp.replace(self.folder / "decisions.parquet")
        tmp = self.folder / "history.parquet.tmp"
        pd.DataFrame(history).to_parquet(tmp, index=False)
        tmp.replace(self.folder / "history.parquet")

    # ------------------------------------------------------------------ views
    def label(self, slot: int) -> str:
        """A readable name of an agent: role, practice and locality (no student names)."""
        labels = self.__dict__.get("_labels")
        if labels is None:  # a slot keeps its role, practice and organisation
            labels = self._labels = [self._label(i) for i in range(self.model.n_agents)]
        return labels[slot]

    def _label(self, slot: int) -> str:
        p = self.model.pop
        r = int(p.role[slot])
        role = ROLE_LABELS.get(r, ROLES[r].replace("_", " "))
        if p.practice[slot] >= 0:
            return f"{role}, practice {int(p.practice[slot]) + 1} ({self.locality_name(p.area[slot])})"
        if r == R_PROV:
            return f"{role}, {self.spec.providers[int(p.org[slot])].name}"
        if r == R_LA:
            return f"{role}, {self.spec.local_authorities[int(p.org[slot])].name}"
        return f"{role}, {self.spec.groups[int(p.group[slot])].name}"

    @staticmethod
    def locality_name(area: int) -> str:
        """``locality A``, ``locality B``, ... for area 0, 1, ..."""
        return f"locality {chr(ord('A') + int(area) % 26)}" if area >= 0 else "no locality"

    def state(self, token: str | None = None) -> dict[str, Any]:
        """A student's view (with their token) or the facilitator's aggregates (without)."""
        with self.lock:
            if token is None:
                return self._hub()
            return self._student(self.seat(token))

    def _student(self, seat: Seat) -> dict[str, Any]:
        m, p = self.model, self.model.pop
        slot = seat.slot
        seen = self._seen(slot)
        g = int(p.group[slot]) if p.group[slot] >= 0 else 0
        heard = (getattr(m, "heard", None) or {}).get(slot, [])
        threshold = m.spec.decisions.reflect_threshold
        last = self.log[-1]["month"] if self.log else None
        mine = [row for row in self.log if row["seat"] == seat.index]
        la = getattr(m, "locality_attended", None)
        ba = getattr(m, "board_attended", None)
        area = int(p.area[slot])
        loc_view = m.locality_view[area] if area >= 0 else None
        return {
            "role": "student", "version": self.version, "name": seat.name,
            "seat": {"index": seat.index, "id": slot, "kind": seat.kind, "role": seat.role,
                     "titles": seat.titles, "title": seat.title, "label": self.label(slot),
                     "locality": self.locality_name(area)},
            "month": self.month, "months": self.months, "finished": self.finished,
            "services": [SERVICE_LABELS.get(s, s.replace("_", " ")) for s in self.services],
            "service_keys": self.services,
            "entitled": seen["entitled"],
            "observation": seen["observation"], "belief": seen["belief"],
            "priorities": seen["priorities"], "engagement": seen["engagement"],
            "heard": [{"id": q, "label": self.label(q), "belief": _floats(b)} for q, b in heard],
            "locality_meeting": None if loc_view is None or not np.isfinite(loc_view).all() else {
                "view": _floats(loc_view),
                "attended": None if la is None or last is None else bool(la[slot])},
            "board_meeting": {"view": _floats(getattr(m, "meeting_view", m.board_view)[g]),
                              "attended": None if ba is None else bool(ba[slot])}
            if m.on_board[slot] else None,
            "decision": {"allocation": seen["allocation"], "reflection": seen["reflection"],
                         "reflected": None if seen["reflection"] is None
                         else bool(seen["reflection"] >= threshold),
                         "decisions_made": int(m.decisions_made)},
            "candidates": self._candidate_list(slot),
            "choices": dict(seat.choices) if seat.choices_month == self.month else {},
            "decided_months": sum(1 for row in mine if row["decided"]),
        }

    def _candidate_list(self, slot: int) -> list[dict[str, Any]]:
        """The seat's possible ties, current ties first (``tied``), with their labels."""
        t = self.model.ties
        idx = t.incident(np.array([slot]))
        tied = set(np.where(t.src[idx] == slot, t.dst[idx], t.src[idx]).tolist())
        out = [{"id": q, "label": self.label(q), "tied": q in tied} for q in self.candidates(slot)]
        return sorted(out, key=lambda c: (not c["tied"], c["id"]))

    def _hub(self) -> dict[str, Any]:
        m = self.model
        g = 0
        return {
            "role": "facilitator", "version": self.version, "code": self.code,
            "month": self.month, "months": self.months, "finished": self.finished,
            "scenario": self.spec.name, "seed": self.seed,
            "services": [SERVICE_LABELS.get(s, s.replace("_", " ")) for s in self.services],
            "students": [{"seat": s.index, "id": s.slot, "name": s.name, "title": s.title,
                          "kind": s.kind, "playing": s.playing(),
                          "decided": bool(s.playing() and s.choices_month == self.month
                                          and s.choices)}
                         for s in self.seats if s.name is not None],
            "seats": len(self.seats),
            "free_seats": sum(1 for s in self.seats if s.name is None),
            "board": {"group": self.spec.groups[g].name,
                      "view": _floats(m.board_view[g]),
                      "allocation": _floats(m.group_alloc[g]),
                      "need": _floats(m.group_need[g] / m.group_need[g].sum())
                      if self.revealed else None},
            "revealed": self.revealed,
            "history": self.history,
        }

    def network(self) -> dict[str, Any]:
        """Nodes (with fixed positions), ties and the student seats, for the hub's drawing."""
        with self.lock:
            m, p = self.model, self.model.pop
            if self._layout is None:
                self._layout = _layout(p)
            students = {s.slot: s.index for s in self.seats if s.playing()}
            t = m.ties
            pos = self._layout
            nodes = [{"id": i, "x": pos["x"][i], "y": pos["y"][i],
                      "kind": STAKEHOLDER_TYPES[int(p.kind[i])],
                      "board": bool(m.on_board[i]), "lead": bool(p.locality_lead[i]),
                      "student": i in students, "engagement": round(float(m.engagement[i]), 3)}
                     for i in range(m.n_agents)]
            edges = [[int(a), int(b), round(float(w), 3)]
                     for a, b, w in zip(t.src, t.dst, t.weight, strict=True)]
            return {"nodes": nodes, "edges": edges, "version": self.version}


def _layout(p) -> dict[str, list[float]]:
    """Fixed positions: practices on a ring grouped by locality (their staff around them),
    group-level staff in the middle, providers and councils on an outer arc."""
    n = p.n
    x, y = np.zeros(n), np.zeros(n)
    order = np.lexsort((np.arange(p.n_practices), p.practice_area))
    angle = np.empty(p.n_practices)
    angle[order] = 2 * np.pi * np.arange(p.n_practices) / max(p.n_practices, 1)
    rng = np.random.default_rng(0)
    for i in range(n):
        if p.practice[i] >= 0:
            a = angle[p.practice[i]]
            r = 0.62 + 0.12 * rng.random()
            da = (rng.random() - 0.5) * (2 * np.pi / max(p.n_practices, 1)) * 0.8
            x[i], y[i] = r * np.cos(a + da), r * np.sin(a + da)
    mid = np.flatnonzero((p.practice < 0) & (p.group >= 0))
    for j, i in enumerate(mid):
        a = 2 * np.pi * j / max(mid.size, 1)
        x[i], y[i] = 0.22 * np.cos(a), 0.22 * np.sin(a)
    out = np.flatnonzero(p.group < 0)
    for j, i in enumerate(out):
        x[i], y[i] = -0.95 + 1.9 * j / max(out.size - 1, 1), 0.97
    return {"x": [round(float(v), 4) for v in x], "y": [round(float(v), 4) for v in y]}


# keep the type codes importable for callers building their own seat filters
KINDS = {"gp": GP, "manager": MANAGER, "provider": PROVIDER, "patient": PATIENT,
         "local_authority": LOCAL_AUTHORITY}

"""The Info text of the app (NetLogo's Info tab: what it is, how it works, how to use it)."""

__all__ = ["INFO_MARKDOWN"]

INFO_MARKDOWN = """
## What is it?

**commnet** is an agent-based model of an NHS *commissioning network*: the GPs, practice and
commissioning managers, providers, patient representatives and local authorities who decide,
through a clinical commissioning group's (CCG's) board, which services a population gets.
It grows out of a mixed-methods study of **six CCGs in the East of England** (1,662,000 people,
208 practices) by Warwick Business School (*BMJ Open* 2013;3:e002112), which found that
good commissioning is a network problem: leaders must manage **knowledge flows**, network
**coherence** and network **stability**; **locality** sub-groups link decisions to patient
needs; and **lack of GP engagement** makes decisions less relevant.

## How it works

One step is one month. Every agent holds a *belief* about patient need over six service areas,
*objectives* (its priorities) and an *engagement* level between 0 and 1. Each month:

1. need drifts (and scheduled events fire);
2. agents **observe** need — the more engaged, the more often and the more accurately: GPs,
   practice managers and patient representatives see their own practice now; commissioning
   managers, providers and councils see the whole population, but through activity data that
   are six months old and lean toward what is already commissioned;
3. engaged agents **exchange** beliefs and priorities with their network neighbours (the
   exchange rule: DeGroot averaging, Friedkin–Johnsen, Deffuant or Hegselmann–Krause);
4. **locality meetings** pool what their attendees know; the locality lead carries it to the
   board. Every quarter the **board** meets: it knows only what its attending members know;
5. the board moves the budget a little toward what it believes (budgets are incremental;
   localities may hold a share). *Decision skill* scores this between the same decisions made
   knowing nothing local (0) and knowing true need (1);
6. engagement follows outcomes — agents who see their priorities reflected engage more, others
   less, and disengaged agents leave more often; newcomers know only the national picture and
   take their engagement partly from their colleagues';
7. ties that are used strengthen, unused ones fade, triads close, and the leadership levers
   broker new ties, hold joint forums or maintain ties.

## How to use it

* The page opens on a comparison, **GP engagement high (0.8) vs low (0.2)**: press **▶** to
  run it. The four charts show **decision skill**, **£ misallocated** per head, **board
  knowledge** and **GP engagement** for A (blue) and B (orange); the big numbers above each
  chart are A's and B's values this month.
* Pick a **scenario** at the top of the left panel (files in `scenarios/`).
* Move the **controls** (engagement per stakeholder type, localities, relationship mode, the
  three leadership levers, exchange rule, seed), then press **Reset**: settings take effect on
  Reset. Until then a yellow line above the charts names the settings not applied yet.
  Controls left where they are keep the scenario file's values.
* **Step** advances one month (or *Steps per update* months, under *Playback*); **▶** plays,
  **❚❚** pauses.
* **Side by side** runs two copies of the scenario with one setting changed — same seed, same
  starting network — stepped together; A is drawn in blue, B in orange.
* *Show the network and all seven charts* adds the network view and the other charts
  (coherence, stability, relevance, knowledge flow). The network view colours agents by
  **stakeholder type**, **locality** or **belief accuracy**; squares are board members,
  triangles locality leads; thicker, darker lines are stronger ties. The layout is fixed:
  nodes never move, ties come and go.

## Things to notice

* How board accuracy and *reach* (practices whose knowledge gets within two ties of the board)
  follow GP engagement.
* Whether decision skill — how much of the way from deciding with no local knowledge (0) to
  deciding on true need (1) the board gets — tracks what the board knows, with a lag of a
  quarter.
* Ties thinning out where engagement is low, and engagement feeding back on itself (virtuous
  and vicious cycles).
* The gap between external coherence (board vs providers, councils and national priorities) in
  networked and transactional relationships.

## Things to try

* Side by side, **GP engagement high vs low**: watch decision skill and the £ misallocated
  part.
* Switch **localities off** (or compare on vs off): what happens to locality relevance?
* Compare **transactional** and **networked** relationships and watch external coherence.
* Turn on the three **leadership levers** one at a time: which helps stability, which coherence?
* Change the **seed**: which differences survive a different random network?
* Colour by **belief accuracy** and find where ignorance collects.

## References

* Warwick Business School study of six CCGs in the East of England: *BMJ Open*
  2013;3(2):e002112, doi:10.1136/bmjopen-2012-002112.
* Dhanaraj C, Parkhe A. Orchestrating innovation networks. *Academy of Management Review*
  2006;31:659–669.
* Miller et al., *J Health Serv Res Policy* 2016;21:213 — virtuous and vicious cycles of GP
  engagement in commissioning.
* Moran et al., *BMJ Open* 2017;7:e015464 — the 2015 national survey of GPs' views of their
  CCG (formal roles and influence).
* DeGroot MH (1974), Friedkin NE & Johnsen EC (1990), Deffuant G et al. (2000), Hegselmann R &
  Krause U (2002): the exchange rules.
* The model in full: `docs/ODD.md`; every parameter: `docs/parameters.md`.
* Built with Mesa (mesa.readthedocs.io) and Solara; the Info tab follows NetLogo's.
"""

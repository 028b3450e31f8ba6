"""Parameter provenance: where every scenario parameter's value comes from.

Every leaf field of :class:`~simulation.scenario.Scenario` (dotted path, list items as
``groups[].population``) has one :class:`Entry` in :data:`REGISTRY` with its basis:

* ``data`` -- taken from a published figure; the justification names the source (the facts
  of ``../shared/design/calibration.md`` and the documents they cite);
* ``assumed`` -- chosen, not measured; the justification says why;
* ``fitted`` -- estimated from published figures; ``target`` must name them.  Nothing is
  fitted yet: parameters waiting for a fit are ``assumed`` with the figures they are to be
  fitted to in ``target``;
* ``structural`` -- names, switches, run settings and scenario content (what-if inputs such as
  ``events``), not quantities with a true value.

Uncertain continuous parameters carry ``plausible = (low, high)``, the range a robustness
Latin hypercube varies (:func:`uncertain_parameters`).  Unless the justification says more,
a range is a judgement: about a factor of two to four either side of the default, narrowed
by the schema's bounds.  Parameters of switched-off features (rules other than the default
DeGroot, leadership levers, the innovation pathway) and of the scenario's geography carry no
range.  ``tests/test_provenance.py`` checks that the registry covers the schema exactly and
that every range lies inside the schema's bounds and contains the default.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .scenario import STAKEHOLDER_TYPES, Scenario

__all__ = [
    "CONTENT",
    "PENDING",
    "REGISTRY",
    "Entry",
    "justification_table",
    "provenance",
    "schema_leaves",
    "uncertain_parameters",
]

Basis = Literal["data", "assumed", "fitted", "structural"]

#: The 2015 national GP survey (calibration.md), the target of the planned fit (issue 9).
GP_SURVEY_2015 = (
    "2015 GP survey, Moran et al. BMJ Open 2017;7:e015464: 'decisions reflect my views' "
    "0.72 with a formal CCG role vs 0.14 without"
)

#: The six survey proportions of calibration/gp_survey_2015.yaml (the v3 refit fits the first
#: four and predicts "informed", held out).
GP_SURVEY_TARGETS = (
    "2015 GP survey (Moran et al. BMJ Open 2017;7:e015464), formal CCG role vs none: "
    "decisions reflect my views 0.72/0.14; I can influence the CCG 0.80/0.40; I am informed "
    "about what the CCG is trying to achieve 0.87/0.55"
)


@dataclass(frozen=True)
class Entry:
    """Provenance of one parameter.

    Attributes
    ----------
    basis : {"data", "assumed", "fitted", "structural"}
        Where the value comes from (module docstring).
    why : str
        One line: the source (data), the reason (assumed), the role (structural).
    plausible : tuple of float or None
        Range for robustness analysis; set only for uncertain parameters.
    integer : bool
        The field is an integer: round values drawn from ``plausible``.
    target : str or None
        The published figures it is fitted to (required for ``fitted``) or is to be fitted to.
    """

    basis: Basis
    why: str
    plausible: tuple[float, float] | None = None
    integer: bool = False
    target: str | None = None


def _data(why: str) -> Entry:
    return Entry("data", why)


def _assumed(why: str, lo: float | None = None, hi: float | None = None, *,
             integer: bool = False, target: str | None = None) -> Entry:
    plausible = None if lo is None or hi is None else (lo, hi)
    return Entry("assumed", why, plausible, integer, target)


def _structural(why: str) -> Entry:
    return Entry("structural", why)


_NO_LEVELS = "no measured levels (the study reports none); ordering across types assumed"
_ENGAGEMENT_MEAN = {  # plausible range of each type's mean engagement
    "gp": (0.3, 0.8), "manager": (0.5, 0.9), "provider": (0.3, 0.7),
    "patient": (0.2, 0.6), "local_authority": (0.3, 0.7),
}
_NOISE_BY_TYPE = {
    "gp": _structural("reference level: observation.noise is the GP's noise"),
    "manager": _assumed("activity data are a noisier view of need than a GP's first-hand one",
                        1.0, 2.5),
    "provider": _assumed("providers see need through demand for their own services", 1.0, 2.5),
    "patient": _assumed("first-hand experience, but of one person and their contacts", 0.8, 2.0),
    "local_authority": _assumed("population-level view from the JSNA", 0.7, 2.0),
}

#: Path prefixes of scenario content: every field below them shares the prefix's entry.
CONTENT = ("events[]", "structure")

#: Registry entries for fields not yet in the schema (tolerated by the tests; empty it as the
#: fields land -- a test fails while a field listed here already exists).
PENDING: frozenset[str] = frozenset()

REGISTRY: dict[str, Entry] = {
    # ---------------------------------------------------------------- run
    "name": _structural("label of the run"),
    "description": _structural("free text"),
    "seed": _structural("root random seed; results are reported over replicates spawned from it"),
    "steps": _structural("run length: 60 months = April 2013 to March 2018"),
    "start": _structural("calendar month of month 0 (YYYY-MM; optional): labels the outputs' "
                         "date column and lets events be given by date"),
    "burn_in": _assumed("spin-up before measurement from a start where nobody knows local "
                        "need: 120 months, the shortest whole number of years after which the "
                        "slow variables drift < 0.005 a year over the next 5 and 20 years "
                        "(benchmarks/steady_state.py; ODD 9)", integer=True),
    "scale": _structural("computational shortcut: shrinks populations and practice counts"),
    "services": _structural("K = 6 service areas (calibration.md 'Service areas')"),
    "national_priorities": _assumed("default uniform; scenarios use an assumed reading of the "
                                    "2013 Mandate's emphasis on mental health, LTCs, prevention"),
    # ---------------------------------------------------------------- generated England
    "generate.groups": _data("211 CCGs at 1 April 2013 (NHS England; ONS mid-2012 geography)"),
    "generate.population.median": _data("median CCG population 221,000 (ONS mid-2012)"),
    "generate.population.mean": _data("mean CCG population ≈ 255,000 = 53.9m / 211 (calibration.md: "
                                      "about 260,000); as the log-normal mean it sets the spread"),
    "generate.population.min": _data("smallest CCG, Corby, 63,100 (ONS mid-2012)"),
    "generate.population.max": _data("largest CCG, NEW Devon, 869,400 (ONS mid-2012)"),
    "generate.population.total": _data("England ≈ 53.9 million people, the population behind the "
                                       "2013/14 allocations (£63.4bn ≈ £1,150 per head)"),
    "generate.mean_list_size": _data("mean practice list ≈ 6,700-7,000 in 2013 (calibration.md, "
                                     "derived from ~8,000 practices)"),
    "generate.gps_per_practice_min": _data("about 4-6 GPs per practice (calibration.md, local)"),
    "generate.gps_per_practice_max": _data("about 4-6 GPs per practice (calibration.md, local)"),
    "generate.people_per_locality": _assumed("calibration.md assumption: one locality per "
                                             "40k-100k people; 70k is the middle"),
    "generate.localities_min": _assumed("no national figure; Oxfordshire 6, Cambridgeshire & "
                                        "Peterborough 8; calibration.md assumes 3-8"),
    "generate.localities_max": _assumed("no national figure; Oxfordshire 6, Cambridgeshire & "
                                        "Peterborough 8; calibration.md assumes 3-8"),
    "generate.commissioning_managers_per_100k": _assumed("no source: about 7 for a median CCG, "
                                                         "like the hand-built sites"),
    "generate.acute_span_max": _assumed("1-2 acute trusts per CCG, often shared between "
                                        "neighbours (calibration.md); runs of 1-3 CCGs"),
    "generate.community_span": _assumed("one community provider per CCG (calibration.md); "
                                        "sharing by 3 CCGs has no source"),
    "generate.mental_health_span": _assumed("one mental-health trust per CCG (calibration.md); "
                                            "sharing by 5 CCGs has no source"),
    "generate.independent_span": _assumed("independent providers around each CCG "
                                          "(calibration.md); sharing by 10 has no source"),
    "generate.la_max_span": _assumed("1-2 LAs per CCG, often shared (calibration.md, Pulse "
                                     "2012); runs of 1-3 CCGs have no source"),
    "generate.provider_staff": _assumed("as providers[].staff"),
    "generate.la_staff": _assumed("as local_authorities[].staff"),
    # ---------------------------------------------------------------- practice registers
    "practices_from.file": _structural("scenario input: the practice register file read"),
    "practices_from.format": _structural("file layout: NHS Digital or plain CSV"),
    "practices_from.map_file": _structural("scenario input: NHS Digital practice-to-PCN map"),
    "practices_from.groups": _structural("scenario input: which commissioning bodies to take"),
    "practices_from.group_column": _structural("file layout: CCG_CODE before July 2022, "
                                               "SUB_ICB_LOCATION_CODE after (NHS Digital)"),
    "practices_from.locality": _structural("model choice: localities from PCNs, a column or "
                                           "the rules"),
    "practices_from.group_names": _structural("labels of the groups: codes or the map's names"),
    "practices_from.min_list_size": _data("functioning practices have lists of about 1,000 or "
                                          "more (1,002-84,724 in the BMJ Open Quality "
                                          "snapshot, calibration.md); NHS Digital files also "
                                          "hold dormant practices with 1-4 patients"),
    "practices_from.small_practices": _structural("model choice: keep, exclude or merge the "
                                                  "practices below min_list_size"),
    "practices_from.people_per_locality": _assumed("calibration.md: one locality per 40k-100k "
                                                   "people; 70,000 the middle, as "
                                                   "england_2013.yaml"),
    "practices_from.sized_groups": _structural("record: groups whose localities were sized "
                                               "from population"),
    "practices_from.covariates.file": _structural("scenario input: practice covariate file"),
    "practices_from.covariates.format": _structural("file layout: Fingertips download or plain"),
    "practices_from.covariates.indicator": _structural("Fingertips indicator taken (93553: "
                                                       "deprivation score IMD 2019)"),
    "practices_from.covariates.time_period": _structural("file layout: the period taken"),
    "practices_from.covariates.missing": _structural("model choice: refuse or fill in missing "
                                                     "scores"),
    # ---------------------------------------------------------------- groups (scenario input)
    "groups[].name": _structural("site label (pseudonymous, as in the study)"),
    "groups[].population": _data("per scenario: ONS mid-2012 CCG populations; the study's six "
                                 "sites total 1,662,000 (BMJ Open 2013;3:e002112), split assumed"),
    "groups[].practices.count": _data("per scenario: the study's '208 GPs' read as 208 practices "
                                      "(calibration.md assumption); ~8,000 in England"),
    "groups[].practices.list_size_cv": _assumed("no source: lists ranged 1,002-84,724 (BMJ Open "
                                                "Quality snapshot) but no spread is given"),
    "groups[].practices.min_list_size": _data("smallest list ≈ 1,000 (1,002 in the BMJ Open "
                                              "Quality snapshot, calibration.md)"),
    "groups[].practices.gps_per_practice": _data("about 4-6 GPs per practice (calibration.md)"),
    # explicit practices, read from a practice register by practices_from (simulation.registers)
    "groups[].practices.explicit.code": _structural("practice label from the register (CODE, "
                                                    "PRACTICE_CODE or the plain file's practice)"),
    "groups[].practices.explicit.list_size": _data("registered patients from the register file "
                                                   "(NHS Digital NUMBER_OF_PATIENTS, SEX = AGE "
                                                   "= ALL; or the plain file's list_size)"),
    "groups[].practices.explicit.locality": _data("the practice's PCN from NHS Digital's "
                                                  "practice map (PCN_CODE), or the plain "
                                                  "file's locality"),
    "groups[].practices.explicit.gps": _data("GPs from the plain file's gps column (where "
                                             "given); default gps_per_practice by list size"),
    "groups[].practices.explicit.pcn": _data("the practice's PCN (PCN_CODE of NHS Digital's "
                                             "practice map)"),
    "groups[].practices.explicit.sub_icb": _data("the practice's sub-ICB location or CCG "
                                                 "(NHS Digital's practice map)"),
    "groups[].practices.explicit.icb": _data("the practice's ICB (ICB_CODE of NHS Digital's "
                                             "practice map)"),
    "groups[].practices.explicit.imd": _data("deprivation score (IMD 2019) of the practice "
                                             "population: OHID Fingertips indicator 93553, "
                                             "or the plain covariate file"),
    "groups[].localities.count": _assumed("calibration.md assumption: 3-8 per CCG, one per "
                                          "40k-100k people"),
    "groups[].commissioning_managers": _assumed("no source: CCG/CSU staff who deal with "
                                                "practices; the £25/head running-cost cap bounds "
                                                "all staff, not this count"),
    **{f"groups[].engagement.{t}.{f}": _assumed("per-site override: the study found engagement "
                                                "with providers, patients and LAs varied between "
                                                "CCGs, without levels")
       for t in STAKEHOLDER_TYPES for f in ("mean", "sd")},
    # ---------------------------------------------------------------- providers, LAs
    "providers[].name": _structural("organisation label (pseudonymous)"),
    "providers[].kind": _structural("scenario input: acute, community, mental-health or "
                                    "independent (calibration.md 'Stakeholders')"),
    "providers[].serves": _structural("scenario input: geography (acute trusts are often shared "
                                      "between neighbouring CCGs)"),
    "providers[].capacity": _assumed("default by kind (population.KIND_CAPACITY): an assumed "
                                     "service mix, no source"),
    "providers[].staff": _assumed("no source: the managers and clinicians who deal with "
                                  "commissioners"),
    "providers[].size": _assumed("default by kind (population.KIND_SIZE), from the split of CCG "
                                 "spend between acute, community, mental-health and independent"),
    "local_authorities[].name": _structural("organisation label (pseudonymous)"),
    "local_authorities[].serves": _structural("scenario input: geography (86 CCGs coterminous "
                                              "with one LA, 27 crossing; Pulse 2012)"),
    "local_authorities[].staff": _assumed("no source: public-health and social-care staff who "
                                          "deal with the CCG"),
    # ---------------------------------------------------------------- board
    "board.gps": _data("6-10 GPs, the majority (calibration.md template; SI 2012/1631 reg. 11)"),
    "board.practice_managers": _data("1 in the calibration.md template; study boards included "
                                     "practice managers"),
    "board.nurses": _data("SI 2012/1631 reg. 11: at least one registered nurse"),
    "board.secondary_care_doctors": _data("SI 2012/1631 reg. 11: at least one secondary-care "
                                          "specialist doctor"),
    "board.lay_members": _data("SI 2012/1631 reg. 11: at least two lay members"),
    "board.officers": _data("SI 2012/1631 reg. 11: accountable officer and chief finance officer"),
    "board.local_authority_attendee": _data("LA staff are excluded from membership but often "
                                            "attend without a vote (calibration.md)"),
    "patients_per_practice": _assumed("one patient participation group per practice "
                                      "(calibration.md), one representative each"),
    # ---------------------------------------------------------------- engagement
    **{f"engagement.{t}.mean": _assumed(_NO_LEVELS, *_ENGAGEMENT_MEAN[t]) for t in STAKEHOLDER_TYPES},
    **{f"engagement.{t}.sd": _assumed("spread of engagement between agents; no data", 0.05, 0.2)
       for t in STAKEHOLDER_TYPES},
    # ---------------------------------------------------------------- need
    "need.baseline": _assumed("default uniform; scenarios use shares roughly like 2013/14 "
                              "programme spend (assumption)"),
    "need.locality_concentration": _assumed("variation of need between localities; no data "
                                            "(scenarios use 25)", 15.0, 200.0),
    "need.practice_concentration": _assumed("variation of need between a locality's practices; "
                                            "no data (scenarios use 50)", 30.0, 500.0),
    "need.drift_sd": _assumed("monthly change of need; no data", 0.005, 0.05),
    "need.deprivation.ratios": _assumed(
        "need ratio, most vs least deprived fifth of practices, per service; directions and "
        "rough sizes from published service use by deprivation (docs/ODD.md 'Need and "
        "deprivation'), values judged: urgent_emergency 1.6 (plausible 1.3-2.0; emergency "
        "admissions rise steeply with deprivation, Asaria et al. JECH 2016; Cookson et al. "
        "Fiscal Studies 2016), planned_care 1.0 (0.9-1.2; elective use roughly flat, Cookson "
        "et al. 2016), mental_health 1.8 (1.4-2.5; serious mental illness and common mental "
        "disorders more prevalent with deprivation, QOF registers; APMS 2014), "
        "long_term_community 1.2 (0.9-1.5; multimorbidity 10-15 years earlier, Barnett et al. "
        "Lancet 2012, against older populations in less deprived areas), maternity_children "
        "1.3 (1.0-1.6; younger populations, higher birth rates), prevention_primary 1.15 "
        "(1.0-1.4; GP consultation rates somewhat higher)"),
    # need.deprivation acts only with practice covariates (a switched-off feature otherwise),
    # so its ranges are stated here but not given to the robustness designs
    "need.deprivation.reference_imd": _assumed("about the mean IMD 2019 score of England's "
                                               "areas (MHCLG, English Indices of Deprivation "
                                               "2019), so average practices keep their "
                                               "profile; plausible 15-28"),
    "need.deprivation.imd_span": _assumed("score gap between the mean practices of the least "
                                          "and most deprived fifths; roughly 25-35 points for "
                                          "practice IMD 2019 scores, plausible 20-40 (check "
                                          "with commnet describe on a covariate file)"),
    # ---------------------------------------------------------------- observation
    "observation.noise": _assumed("error of a GP's view of its practice's need; no data", 0.1, 1.0),
    "observation.noise_engagement_factor": _assumed("engaged agents observe more carefully; "
                                                    "no data", 0.5, 4.0),
    "observation.rate": _assumed("how far a month's observation moves a belief; no data", 0.1, 0.6),
    "observation.data_lag": _assumed("activity data and needs assessments (JSNA) lag need; "
                                     "no figure", 2, 12, integer=True),
    "observation.activity_supply_share": _assumed("supply-induced demand: activity data reflect "
                                                  "what was commissioned as well as need",
                                                  0.2, 0.8),
    **{f"observation.noise_by_type.{t}": e for t, e in _NOISE_BY_TYPE.items()},
    # ---------------------------------------------------------------- objectives, exchange
    "objectives.concentration": _assumed("scatter of initial priorities around their base; "
                                         "no data", 10.0, 100.0),
    "objectives.belief_pull": _assumed("priorities follow one's beliefs about need; no data",
                                       0.01, 0.15),
    "exchange.rule": _structural("model choice: DeGroot, the others for sensitivity (brief)"),
    "exchange.rate": _assumed("susceptibility to neighbours' beliefs; no data", 0.1, 0.6),
    "exchange.stubbornness": _assumed("Friedkin-Johnsen rule only; no data"),
    "exchange.threshold": _assumed("Deffuant/HK rules only; HK reaches consensus above about 0.2 "
                                   "(Hegselmann & Krause 2002)"),
    "exchange.mu": _assumed("Deffuant rule only; within the usual (0, 0.5] (Deffuant et al. 2000)"),
    "exchange.pairs_per_agent": _assumed("Deffuant rule only: encounters per month; no data"),
    "exchange.objective_rate": _assumed("how fast priorities follow neighbours'; no data",
                                        0.05, 0.4),
    "exchange.source_relevance": _assumed(
        "what is heard about a population the hearer does not serve counts for less; no data "
        "on how much: a judgement that it counts for a fifth of the same trust inside the group",
        0.0, 0.5),
    "knowledge_routes.observation": _structural("switch: the own-observation route (commnet "
                                                "routes)"),
    "knowledge_routes.activity_data": _structural("switch: the activity-data route (commnet "
                                                  "routes)"),
    "knowledge_routes.informal_ties": _structural("switch: beliefs travel over informal ties "
                                                  "(commnet routes)"),
    "knowledge_routes.locality_meetings": _structural("switch: locality meetings pool beliefs "
                                                      "(commnet routes)"),
    "knowledge_routes.board_gps": _structural("switch: GP board members' beliefs enter the "
                                              "board's view (commnet routes)"),
    "relationships.mode": _structural("scenario switch: transactional vs networked (the study's "
                                      "recommendation)"),
    # ---------------------------------------------------------------- network, ties
    "network.gp_ties_in_locality": _assumed("initial GP ties in a locality; the study's network "
                                            "statistics are not published", 1.0, 6.0),
    "network.gp_ties_across_localities": _assumed("initial GP ties across localities; not "
                                                  "published", 0.1, 1.5),
    "network.manager_ties": _assumed("initial manager ties to practices; not published", 2.0, 8.0),
    "network.initial_weight": _assumed("starting tie strength, then moved by reinforcement and "
                                       "decay"),
    "network.informal": _structural("switch: informal ties exist (the brief's ablation)"),
    # surveyed initial network (simulation.surveyed): data files, not parameters
    "network.survey.format": _structural("input format of a surveyed network: csv, graphml or "
                                         "an ego-survey table (the study's e-survey)"),
    "network.survey.nodes": _structural("input file: surveyed people (csv)"),
    "network.survey.edges": _structural("input file: surveyed ties and their strengths (csv)"),
    "network.survey.file": _structural("input file: surveyed network (GraphML)"),
    "network.survey.table": _structural("input file: ego-network survey, one row per tie"),
    "network.survey.mode": _structural("switch: replace the matched people's ties or the "
                                       "covered groups' whole informal network"),
    "network.survey.groups": _structural("scenario input: the groups the survey covers"),
    "network.survey.scale": _structural("how the survey recorded strength: (0, 1] or 1-5"),
    "network.survey.digest": _structural("record of the survey files' contents (provenance)"),
    "ties.reinforce": _assumed("strengthening of a used tie; no data", 0.03, 0.3),
    "ties.decay": _assumed("weakening of an unused tie; no data", 0.01, 0.1),
    "ties.dissolve_below": _assumed("pruning threshold for weak ties"),
    "ties.triadic_closure": _assumed("introductions through a shared contact; no data",
                                     0.005, 0.05),
    "ties.new_tie_weight": _assumed("a new tie starts weak, between dissolution and the initial "
                                    "weight"),
    "ties.capacity": _assumed("working-relationship and Dunbar-layer literature (layers of about "
                              "15, 50, 150)", 20, 80, integer=True),
    # ---------------------------------------------------------------- localities, decisions
    "localities.enabled": _structural("scenario switch (pattern 2)"),
    "localities.meeting_interval": _assumed("monthly locality meetings; no source", integer=True),
    "localities.pooling_weight": _assumed("how far attendees adopt the pooled view; no data",
                                          0.2, 0.8),
    "localities.attendance": _assumed("practices often sent one representative to locality "
                                      "meetings; no figure (to be fitted, issue 9)",
                                      target=GP_SURVEY_2015),
    "localities.budget_share": _assumed("devolved locality budgets were small; no figure",
                                        0.05, 0.4),
    "decisions.interval": _assumed("boards revise allocations quarterly; not in calibration.md",
                                   integer=True),
    "decisions.pooling_weight": _assumed("how far board members adopt the pooled view; no data",
                                         0.2, 0.8),
    "decisions.objective_weight": _assumed("weight of priorities vs believed need; no data",
                                           0.1, 0.6),
    "decisions.budget_per_head": _data("£63.4bn CCG programme allocations 2013/14 ≈ £1,150 per "
                                       "head (NHS England allocations)"),
    "decisions.max_shift": _assumed("incremental budgeting: one quarterly decision moves little "
                                    "of the budget", 0.0025, 0.04),
    "decisions.influence_threshold": _assumed("midpoint of the engagement scale: agreeing "
                                              "one can influence the CCG = engagement >= 0.5 "
                                              "(a Likert-midpoint convention, not fitted)",
                                              target=GP_SURVEY_2015),
    "decisions.informed_window": _assumed("recall period of 'I am informed about what the "
                                          "CCG is trying to achieve' (to be fitted, issue 9)",
                                          integer=True, target=GP_SURVEY_2015),
    "survey_questions.engaged_high": _assumed(
        "how a survey's 'highly engaged' reads engagement (the chance of taking part in a "
        "month): taking part in most months; a reading, not a fit", 0.6, 0.9),
    "survey_questions.engaged_some": _assumed(
        "how 'at least somewhat engaged' reads engagement: taking part in at least one month "
        "in four; a reading, not a fit", 0.1, 0.4),
    "decisions.min_span": _assumed(
        "a policy judgement, not a quantity with a true value: below 1% of the budget the "
        "difference knowledge can make is too small for a commissioner to act on, and the skill "
        "ratio is dominated by noise (issue 18)"),
    "decisions.reflect_threshold": _assumed("assumed (to be fitted, issue 9): when a GP "
                                            "counts decisions as reflecting its views",
                                            0.85, 0.99, target=GP_SURVEY_2015),
    # ---------------------------------------------------------------- engagement dynamics
    "engagement_dynamics.learning_rate": _assumed("virtuous and vicious cycles (Miller et al. "
                                                  "2016) give the direction, not the size; "
                                                  "range = the v3 calibration prior",
                                                  0.02, 1.0),
    "engagement_dynamics.expectation": _assumed("reflection level people are content with; "
                                                "no data", 0.7, 0.95),
    "engagement_dynamics.regression": _assumed("other demands pull engagement back toward the "
                                               "type's mean; no data", 0.005, 0.05),
    "turnover.annual_rate": _assumed("base leaving rate; no source in calibration.md", 0.03, 0.15),
    "turnover.engagement_sensitivity": _assumed("disengaged people leave more (Miller et al. "
                                                "2016); size not measured", 1.0, 6.0),
    "turnover.newcomer_tie_weight": _assumed("newcomers are weakly tied (brief)", 0.07, 0.3),
    "turnover.newcomer_climate": _assumed("newcomers take on the local climate of engagement; "
                                          "no data", 0.2, 0.8),
    # ---------------------------------------------------------------- levers, pathway, metrics
    **{f"leadership.{lever}.{f}": _structural("policy lever (scenario input)")
       for lever in ("knowledge_brokering", "coherence_building", "stability_management")
       for f in ("enabled", "intensity")},
    "innovation.enabled": _structural("scenario switch: spread of a new pathway"),
    "innovation.start": _structural("scenario input: month the pathway is introduced"),
    "innovation.p": _assumed("Bass (1969) external influence; no data for clinical pathways"),
    "innovation.q": _assumed("Bass (1969) imitation; no data for clinical pathways"),
    "metrics.structure_every": _structural("measurement schedule (cost), not dynamics"),
    "metrics.costly_every": _structural("measurement schedule (cost), not dynamics"),
    "metrics.betweenness_samples": _structural("accuracy of approximate betweenness (cost)"),
    "metrics.stability_window": _structural("definition of tie persistence and retention"),
    # ---------------------------------------------------------------- events
    "events[]": _structural("scenario input: scheduled what-if events"),
    "structure": _structural("scenario input: levels of commissioning above the groups (PCTs, "
                             "ICBs; simulation.places); the basis of each body's board and of "
                             "body_share (ASSUMED in every shipped scenario) is stated in the "
                             "scenario's comments"),
}

#: Parameters fitted by ``commnet calibrate calibration/gp_survey_2015.yaml``.  The model v3
#: refit (issue 19 point 5: full scale, 3 replicates per particle, ABC-SMC 80 particles x 5
#: generations, 1,045 particles; "informed" held out) fits three; the other three keep the
#: values of the model v2 fit (half scale, 1 replicate) and are held fixed in the refit.  The
#: schema defaults are the posterior medians.  Intervals and identification: docs/ODD.md §10.
FITTED = {
    "engagement.gp.mean": "model v2 fit, posterior median 0.426 (90%: 0.32-0.50); held fixed "
                          "in the v3 refit (a ridge with engagement_dynamics.expectation)",
    "engagement_dynamics.expectation": "v3 refit, posterior median 0.928 (90%: 0.86-0.94; "
                                       "partly identified, correlation 0.83 with learning_rate)",
    "engagement_dynamics.learning_rate": "v3 refit, posterior median 0.542 (90%: 0.12-0.94; "
                                         "not identified)",
    "decisions.reflect_threshold": "v3 refit, posterior median 0.969 (90%: 0.963-0.977)",
    "localities.attendance": "model v2 fit, posterior median 0.379 (90%: 0.09-0.88; not "
                             "identified); held fixed in the v3 refit (acts on the held-out "
                             "'informed')",
    "decisions.informed_window": "model v2 fit, posterior median 4.5 months, rounded to 4 (90%: "
                                 "2.3-9.1); held fixed in the v3 refit (acts only on the "
                                 "held-out 'informed')",
}
for _path, _why in FITTED.items():
    _old = REGISTRY[_path]
    REGISTRY[_path] = Entry("fitted", f"fitted to the 2015 GP survey: {_why}", _old.plausible,
                            _old.integer, GP_SURVEY_TARGETS)
del _path, _why, _old


# --------------------------------------------------------------------------- schema walk

_REQUIRED = object()


def _models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (itself, inside a list, Optional or a union)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (list, typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return [annotation] if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else []


def schema_leaves(model: type[BaseModel] = Scenario, prefix: str = "",
                  default: Any = None) -> Iterator[tuple[str, FieldInfo, Any]]:
    """Walk the schema's leaf fields.

    Parameters
    ----------
    model : pydantic model class
        Where to start (default the whole scenario).
    prefix : str
        Dotted path of ``model`` with a trailing dot (list items as ``name[].``).
    default : pydantic model instance, optional
        The default value of ``model`` where its parent sets one, so that nested defaults such
        as ``engagement.gp.mean`` resolve to the parent's value.

    Yields
    ------
    tuple
        ``(path, field_info, default)``; ``default`` is the effective default value, or the
        module's ``_REQUIRED`` sentinel where a value must be given.  Fields below a
        :data:`CONTENT` prefix are yielded once, as the prefix.
    """
    for name, info in model.model_fields.items():
        if default is not None:
            value = getattr(default, name)
        else:
            value = _REQUIRED if info.is_required() else info.get_default(call_default_factory=True)
        nested = _models(info.annotation)
        is_list = nested and typing.get_origin(info.annotation) is list
        path = f"{prefix}{name}{'[]' if is_list else ''}"
        if not nested or path in CONTENT:
            yield path, info, value
            continue
        for sub in dict.fromkeys(nested):
            sub_default = value if isinstance(value, sub) else None
            yield from schema_leaves(sub, path + ".", sub_default)


# --------------------------------------------------------------------------- public API


def _normalise(path: str) -> str:
    """``groups[3].population`` and loader-style ``groups.3.population`` -> ``groups[].population``."""
    path = re.sub(r"\[\d*\]", "[]", path)
    return re.sub(r"\.(\d+)(?=\.|$)", "[]", path)


def provenance(path: str) -> Entry:
    """The provenance entry of one parameter.

    Parameters
    ----------
    path : str
        Dotted path; list items by index (``groups[3].population``, ``groups.3.population``) or
        as ``groups[].population``.  Every field of an event shares the ``events[]`` entry.

    Returns
    -------
    Entry

    Raises
    ------
    KeyError
        If the path names no registered parameter.
    """
    key = _normalise(path)
    if key in REGISTRY:
        return REGISTRY[key]
    for prefix in CONTENT:
        if key.startswith(prefix):
            return REGISTRY[prefix]
    raise KeyError(f"no provenance entry for {path!r} (looked up as {key!r})")


def uncertain_parameters() -> list[tuple[str, float, float]]:
    """The uncertain parameters and their plausible ranges, for a robustness design.

    Only paths that exist in the current schema and lie outside lists are returned, so each
    can be set with the loader's ``--set path=value``.  Round draws for integer fields
    (``provenance(path).integer``), and set a section's parameters together: ``--set
    engagement.gp.mean=0.3`` alone replaces the whole ``engagement.gp`` section, so its ``sd``
    falls back to the class default (0.1) instead of the scenario-wide default (0.15).

    Returns
    -------
    list of tuple
        ``(dotted_path, low, high)`` in schema order.
    """
    out = []
    for path, _, _ in schema_leaves():
        entry = REGISTRY.get(path)
        if entry is not None and entry.plausible is not None and "[]" not in path:
            out.append((path, *entry.plausible))
    return out


def _cell(value: Any) -> str:
    if value is _REQUIRED:
        return "required"
    if hasattr(value, "value"):  # enums
        value = value.value
    text = repr(value)
    return f"`{text}`" if len(text) < 40 else "(see schema)"


def justification_table() -> str:
    """A Markdown table of every schema parameter's provenance, in schema order.

    Returns
    -------
    str
        Columns: parameter, default, basis, justification, plausible range.  A field with no
        entry shows **missing** (``tests/test_provenance.py`` fails on it) rather than raising,
        so the parameter reference can still be generated while the schema changes.
    """
    lines = [
        "| parameter | default | basis | justification | plausible range |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, _, default in schema_leaves():
        entry = REGISTRY.get(path)
        if entry is None:
            lines.append(f"| `{path}` | {_cell(default)} | **missing** |  |  |")
            continue
        basis = entry.basis
        why = entry.why + (f"; target: {entry.target}" if entry.target
                           else "")
        shown = "" if entry.plausible is None else f"{entry.plausible[0]:g}–{entry.plausible[1]:g}"
        lines.append(f"| `{path}` | {_cell(default)} | {basis} | {why} | {shown} |")
    return "\n".join(lines) + "\n"

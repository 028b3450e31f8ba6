"""Schema of the input files a scenario names: register and survey specifications.

The schema layer (above :mod:`simulation.errors` and :mod:`simulation.schema`, below the file
readers): :class:`RegisterSpec` (``practices_from:``), :class:`ExplicitPractice` (a practice of
``groups[].practices.explicit``), :class:`SurveySpec` (``network.survey``) and the validators
that :class:`~simulation.scenario.PracticeRules` and :class:`~simulation.scenario.GroupSpec`
delegate to.  The readers (:mod:`simulation.registers`, :mod:`simulation.surveyed`,
:mod:`simulation.covariates`) import these and re-export them; nothing here reads a file.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .schema import Strict

__all__ = [
    "FILE_FIELDS",
    "MAX_LIST_SIZE",
    "CovariateSpec",
    "DeprivationSpec",
    "ExplicitPractice",
    "RegisterSpec",
    "SurveySpec",
    "check_group",
    "check_rules",
    "group_input",
    "rules_input",
]

#: Largest list size accepted for one practice (the largest English lists are about 100,000).
MAX_LIST_SIZE = 1_000_000

#: Default minimum list size of a register practice (RegisterSpec.min_list_size): the smallest
#: functioning practices in England have about 1,000 patients (calibration.md: a national
#: snapshot of list sizes ranged 1,002-84,724); NHS Digital's files also hold practices with a
#: handful of patients (dormant, closing or merging).
MIN_LIST_SIZE = 1_000
#: Default people per locality when a register gives no localities (calibration.md: one
#: locality per 40k-100k people; 70,000 is the middle, as england_2013.yaml assumes).
PEOPLE_PER_LOCALITY = 70_000

#: Which file fields each survey format uses.
FILE_FIELDS = {"csv": ("nodes", "edges"), "graphml": ("file",), "ego": ("table",)}


class CovariateSpec(Strict):
    """A practice covariate file joined on the practice code (:mod:`simulation.covariates`)."""

    file: str = Field(
        min_length=1,
        description="the CSV (or .csv.gz), relative to the scenario file that names it",
    )
    format: Literal["fingertips", "plain"] = Field(
        "fingertips",
        description="fingertips: an OHID Fingertips download (Area Code = practice code, "
        "Value; rows of other indicators, areas and breakdowns are ignored); plain: columns "
        "practice, imd",
    )
    indicator: str = Field(
        "93553",
        description="fingertips: the Indicator ID taken (93553 = deprivation score, IMD 2019, "
        "of the practice population)",
    )
    time_period: str | None = Field(
        None, description="fingertips: the Time period taken when the file has several")

    @field_validator("indicator", "time_period", mode="before")
    @classmethod
    def _number_as_text(cls, v: Any) -> Any:
        # YAML reads `indicator: 93553` and `time_period: 2019` as integers
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v
    missing: Literal["error", "median"] = Field(
        "error",
        description="a selected practice without a value: error (listing them), or median (the "
        "list-size-weighted median of the others, with a warning)",
    )


#: Default need ratios, most- to least-deprived fifth of practices, over the default services
#: (DeprivationSpec.ratios).  ASSUMED values whose directions and rough sizes come from
#: published evidence (docs/ODD.md "Need and deprivation"; provenance need.deprivation.ratios):
#: emergency admissions and mental illness rise steeply with deprivation, planned care hardly.
DEPRIVATION_RATIOS = {
    "urgent_emergency": 1.6,
    "planned_care": 1.0,
    "mental_health": 1.8,
    "long_term_community": 1.2,
    "maternity_children": 1.3,
    "prevention_primary": 1.15,
}


class DeprivationSpec(Strict):
    """How a practice's deprivation shifts its need profile (practices with an ``imd`` only).

    .. math:: n'_{pk} \\propto n_{pk}\\, r_k^{(d_p - d_0)/\\Delta}

    with :math:`r_k` the ratio of per-head need for service *k* between the most and least
    deprived fifths of practices, :math:`\\Delta` the difference of their mean IMD scores and
    :math:`d_0` the national mean score (so a practice of average deprivation keeps its
    profile).  Only ratios *between* services change a profile (it is renormalised).
    """

    ratios: dict[str, Annotated[float, Field(gt=0.0, le=10.0)]] = Field(
        default_factory=lambda: dict(DEPRIVATION_RATIOS),
        description="per service: need per head in the most deprived fifth of practices over "
        "the least deprived fifth (1 = no gradient; services not named: 1)",
    )
    reference_imd: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        21.7, description="IMD score of a practice of average deprivation (no shift)")
    imd_span: Annotated[float, Field(gt=0.0, le=100.0)] = Field(
        30.0, description="IMD score difference between the mean practices of the most and "
        "least deprived fifths, over which the ratios apply")


class ExplicitPractice(Strict):
    """One practice of a group given explicitly (usually read from a register file)."""

    code: str = Field(min_length=1, description="practice code (NHS Digital CODE / PRACTICE_CODE)")
    list_size: Annotated[int, Field(ge=1, le=MAX_LIST_SIZE)] = Field(
        description="registered patients (NUMBER_OF_PATIENTS / list_size)"
    )
    locality: str | None = Field(
        None,
        description="locality label (the PCN code, or the plain file's locality); every "
        "practice of a group has one or none does (none: localities by the rules)",
    )
    gps: Annotated[int, Field(ge=1, le=200)] | None = Field(
        None,
        description="GPs at the practice, 1 to 200; default gps_per_practice × list size / "
        "the group's mean list size (at least 1)",
    )
    pcn: str | None = Field(None, description="primary care network code (from the map file)")
    sub_icb: str | None = Field(
        None, description="sub-ICB location (or CCG) code (from the map file)")
    icb: str | None = Field(None, description="integrated care board code (from the map file)")
    imd: Annotated[float, Field(ge=0.0, le=100.0)] | None = Field(
        None, description="deprivation score of the practice population (IMD 2019 score, "
        "from practices_from.covariates); shifts its need profile (need.deprivation)")


class RegisterSpec(Strict):
    """Practices read from a register file instead of generated by rules (see
    :mod:`simulation.registers`)."""

    file: str = Field(
        min_length=1,
        description="the register CSV, relative to the scenario file that names it (to the "
        "current directory when given with --set)",
    )
    format: Literal["nhs_digital", "plain"] = Field(
        "nhs_digital",
        description="nhs_digital: NHS Digital gp-reg-pat-prac-all.csv; plain: columns "
        "practice, list_size, group [, locality, gps]",
    )
    map_file: str | None = Field(
        None,
        min_length=1,
        description="NHS Digital gp-reg-pat-prac-map.csv (nhs_digital only): PCNs as "
        "localities, names of the commissioning bodies",
    )
    groups: list[str] | None = Field(
        None,
        min_length=1,
        description="commissioning-body codes to take, in this order; default every code in "
        "the file, in file order (the resolved scenario lists them)",
    )
    group_column: str | None = Field(
        None,
        description="column naming the commissioning body; default SUB_ICB_LOCATION_CODE if "
        "the file has it, else CCG_CODE (nhs_digital), group (plain); the resolved scenario "
        "records the column used",
    )
    locality: Literal["pcn", "column", "rules"] | None = Field(
        None,
        description="localities from the map's PCNs (pcn), the plain file's locality column "
        "(column) or groups[].localities.count by the rules (rules); default pcn with a map, "
        "else column if the file has one, else rules",
    )
    group_names: Literal["code", "name"] = Field(
        "code",
        description="group names: the code, or the map's SUB_ICB_LOCATION_NAME / CCG_NAME; "
        "providers[].serves and local_authorities[].serves must use them",
    )
    min_list_size: Annotated[int, Field(ge=1, le=20_000)] = Field(
        MIN_LIST_SIZE,
        description="practices with fewer registered patients are reported by name with a "
        "warning (dormant, closing or merging practices; functioning English practices have "
        "lists of about 1,000 or more)",
    )
    small_practices: Literal["keep", "exclude", "merge"] = Field(
        "keep",
        description="what happens to practices below min_list_size: keep (as they are, with "
        "the warning); exclude (dropped, their patients shared pro rata among the other "
        "practices of their locality, else of their group); merge (joined to the largest "
        "practice of their locality, else of their group).  Group totals never change",
    )
    people_per_locality: Annotated[int, Field(ge=10_000, le=500_000)] = Field(
        PEOPLE_PER_LOCALITY,
        description="without PCNs or a locality column (locality: rules), each group gets "
        "round(population / people_per_locality) localities (1 to 50, at most one per "
        "practice) unless its groups entry sets localities.count",
    )
    sized_groups: list[str] | None = Field(
        None,
        description="filled in by the loader: the groups whose number of localities was sized "
        "from their population (people_per_locality); describe says so",
    )
    covariates: CovariateSpec | None = Field(
        None,
        description="practice covariates (deprivation) joined on the practice code; "
        "need.deprivation turns them into need (simulation.covariates)",
    )

    @field_validator("groups", mode="before")
    @classmethod
    def _codes_are_text(cls, v: Any) -> Any:
        if isinstance(v, list):
            for item in v:
                if not isinstance(item, str):
                    raise PydanticCustomError(
                        "code_type",
                        "group codes must be text: write {item} in quotes (YAML reads an "
                        "unquoted 00123 as a number)",
                        {"item": repr(item)},
                    )
            if len(set(v)) != len(v):
                dup = sorted({x for x in v if v.count(x) > 1})
                raise PydanticCustomError(
                    "duplicate", "group codes must be unique: {dup}", {"dup": ", ".join(dup)})
        return v

    @model_validator(mode="after")
    def _combinations(self) -> RegisterSpec:
        rules = [
            (self.map_file is not None and self.format != "nhs_digital",
             "map_file goes with format nhs_digital only"),
            (self.locality == "pcn" and self.map_file is None,
             "locality: pcn needs a map_file (gp-reg-pat-prac-map.csv) that gives the PCNs"),
            (self.locality == "column" and self.format != "plain",
             "locality: column needs format plain (a file with a locality column)"),
            (self.group_names == "name" and self.map_file is None,
             "group_names: name needs a map_file that gives the names"),
        ]
        for bad, message in rules:
            if bad:
                raise PydanticCustomError("register_combination", message, {})
        return self


# The validators of PracticeRules and GroupSpec (simulation.scenario) delegate to these.


def rules_input(data: Any) -> Any:
    """Before-validation of ``PracticeRules``: a hint for ``file:``, ``count`` from the list."""
    if not isinstance(data, dict):
        return data
    if "file" in data:
        raise PydanticCustomError(
            "register_hint",
            "practices cannot name a file here; read practices from a register with the "
            "top-level `practices_from:` section (file, format, groups; README 'Your own "
            "practices')",
            {},
        )
    if isinstance(data.get("explicit"), list) and "count" not in data:
        data = {**data, "count": len(data["explicit"])}
    return data


def check_rules(rules: Any) -> None:
    """After-validation of ``PracticeRules`` with an explicit list."""
    ex = rules.explicit
    if ex is None:
        return
    if rules.count != len(ex):
        raise PydanticCustomError(
            "explicit_count", "count is {count} but explicit lists {n} practices (leave count "
            "out)", {"count": rules.count, "n": len(ex)})
    dup = [c for c, n in Counter(p.code for p in ex).items() if n > 1]
    if dup:
        raise PydanticCustomError("duplicate", "practice codes must be unique: {dup}",
                                  {"dup": ", ".join(dup[:10])})
    labelled = [p.locality is not None for p in ex]
    if any(labelled) and not all(labelled):
        i = labelled.index(not labelled[0])
        raise PydanticCustomError(
            "explicit_locality",
            "every practice has a locality or none does: explicit[{i}] ({code}) differs from "
            "explicit[0]", {"i": i, "code": ex[i].code})


def group_input(data: Any) -> Any:
    """Before-validation of ``GroupSpec``: population = sum of an explicit list's sizes."""
    if isinstance(data, dict) and "population" not in data:
        rules = data.get("practices")
        ex = rules.get("explicit") if isinstance(rules, dict) else None
        if isinstance(ex, list):
            try:
                data = {**data, "population": sum(int(p["list_size"]) for p in ex)}
            except (KeyError, TypeError, ValueError):
                pass  # the practice's own validation reports it
    return data


def check_group(group: Any) -> None:
    """After-validation of ``GroupSpec``: population equals the explicit list's total."""
    ex = group.practices.explicit
    if ex is not None and group.population != (total := sum(p.list_size for p in ex)):
        raise PydanticCustomError(
            "explicit_population",
            "population is {pop} but the explicit practices' list sizes sum to {total} (leave "
            "population out)", {"pop": group.population, "total": total})


class SurveySpec(Strict):
    """A surveyed network that replaces generated initial ties (:mod:`simulation.surveyed`).

    Relative file names are resolved against the scenario file that names them.
    """

    format: Literal["csv", "graphml", "ego"] = Field(
        description="csv: node and edge tables; graphml: one GraphML file; ego: an "
        "ego-network survey table (one row per reported tie to a stakeholder type)"
    )
    nodes: str | None = Field(
        None, description="csv: node table (id, type, group, board; optional role, practice)"
    )
    edges: str | None = Field(None, description="csv: edge table (source, target, strength)")
    file: str | None = Field(
        None, description="graphml: the file (node attributes as the csv node table; edge "
        "attribute strength or weight)"
    )
    table: str | None = Field(
        None, description="ego: the survey table (respondent, role, group, alter_type, strength)"
    )
    mode: Literal["match", "replace"] = Field(
        "match",
        description="match: surveyed nodes are matched to generated agents of the same group, "
        "type, role and board membership and only their ties are replaced; replace: every "
        "generated tie of the covered groups is replaced by the survey (csv and graphml)",
    )
    groups: list[str] | None = Field(
        None, min_length=1,
        description="groups the survey covers; default all groups named in it (nodes of other "
        "groups are left out)",
    )
    scale: Literal["unit", "likert5"] = Field(
        "unit", description="strengths: unit = 0 < s <= 1; likert5 = integers 1-5 mapped to "
        "0.2-1.0"
    )
    digest: str | None = Field(
        None, description="SHA-256 (first 16 hex digits) of the survey files; filled in by the "
        "loader so the scenario hash follows the data, checked when given"
    )

    @model_validator(mode="after")
    def _files_for_format(self) -> SurveySpec:
        need = FILE_FIELDS[self.format]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise PydanticCustomError(
                "survey_files", "format {fmt} needs {need} (missing: {missing})",
                {"fmt": self.format, "need": " and ".join(need), "missing": ", ".join(missing)},
            )
        extra = [f for fields in FILE_FIELDS.values() for f in fields
                 if f not in need and getattr(self, f) is not None]
        if extra:
            raise PydanticCustomError(
                "survey_files", "{extra} is not used with format {fmt} (it takes {need})",
                {"extra": ", ".join(extra), "fmt": self.format, "need": " and ".join(need)},
            )
        if self.format == "ego" and self.mode == "replace":
            raise PydanticCustomError(
                "survey_mode", "mode replace needs a whole network (format csv or graphml); an "
                "ego survey always matches respondents to board members (mode match)", {},
            )
        if self.groups is not None and len(set(self.groups)) != len(self.groups):
            raise PydanticCustomError("duplicate", "groups must be unique: {g}", {"g": self.groups})
        return self

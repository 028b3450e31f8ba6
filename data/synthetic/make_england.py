"""Write the SYNTHETIC national register of ``data/synthetic/england/`` (run from the repository root).

    .venv/bin/python data/synthetic/make_england.py

Nothing here is NHS data: the practices, PCNs, sub-ICB locations and ICBs are invented, with
obviously fake codes (practices ``ZE0001``..., PCNs ``ZU0001``..., sub-ICB locations
``ZS001``..., ICBs ``ZQ01``...) and postcodes in the non-geographic ``ZZ99`` district.  Only the
*shape* is England's (NHS Digital "Patients Registered at a GP Practice", 2023-24, and the
ICB/sub-ICB/PCN structure from July 2022): 42 ICBs, 106 sub-ICB locations, about 1,250 PCNs of
30-60k patients, about 6,500 practices and 62.5 million patients; list sizes log-normal
around a median of about 8,000 (mean about 9,600), plus a few dormant or closing practices
with 1-900 patients as real files have.  Deprivation scores (IMD 2019 style, mean about 22,
range about 2-70) vary between ICBs, PCNs and practices.

Files (gzip-compressed CSV; the loader reads ``.csv.gz`` directly):

* ``gp-reg-pat-prac-all.csv.gz``: practice totals, post-2022 layout (``SUB_ICB_LOCATION_CODE``),
  only the ``SEX = ALL, AGE = ALL`` rows (the breakdowns are left out to keep it small);
* ``gp-reg-pat-prac-map.csv.gz``: practice to PCN, sub-ICB location and ICB, with names;
* ``imd_fingertips.csv.gz``: a Fingertips-shaped download of indicator 93553 (deprivation
  score, IMD 2019) for the practices, plus an England row;
* ``../../../scenarios/england_synthetic.yaml``: the scenario that runs it (one acute, one
  community and one mental-health trust and one council per ICB, serving its sub-ICB
  locations).

Seeded (``SEED``): rerunning writes byte-identical files (gzip without timestamps).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

SEED = 20_2024
HERE = Path(__file__).resolve().parent
OUT = HERE / "england"
SCENARIO = HERE.parents[1] / "scenarios" / "england_synthetic.yaml"

N_ICB, N_SUB_ICB = 42, 106
TOTAL = 62_500_000  # registered patients, about England's in 2024
LIST_MEDIAN, LIST_SIGMA = 8_200, 0.6
PCN_TARGET = (34_000, 58_000)  # PCNs reach at least this many patients (most 30-50k)
#: dormant, closing or merging practices (sizes as seen in real files)
TINY = [1, 2, 3, 4, 4, 11, 37, 150, 288, 420, 515, 640, 780, 860, 905]
PUBLICATION, EXTRACT = "GP_PRAC_PAT_LIST", "01APR2024"
#: practice names: SYNTHETIC <place> <kind>, from the practice number (no random draws)
PLACES = ("OAK LANE", "MILL ROAD", "CHURCH STREET", "PARK VIEW", "HIGH STREET", "STATION ROAD",
          "BRIDGE END", "WILLOW", "ASH GROVE", "MARKET SQUARE", "RIVERSIDE", "HILLTOP", "ELM TREE")
KINDS = ("SURGERY", "MEDICAL CENTRE", "HEALTH CENTRE", "MEDICAL PRACTICE", "FAMILY PRACTICE")


def _gz(path: Path, rows: list[list[object]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                filename="") as fh:
        fh.write(buf.getvalue().encode("utf-8"))


def build(rng: np.random.Generator) -> list[dict[str, object]]:
    """The practices, with their PCN, sub-ICB location, ICB and deprivation score."""
    icb_pop = rng.lognormal(0.0, 0.45, N_ICB)
    icb_pop = icb_pop / icb_pop.sum() * TOTAL
    # sub-ICB locations per ICB: at least one, the rest in proportion to population
    subs = np.ones(N_ICB, int)
    extra = N_SUB_ICB - N_ICB
    share = icb_pop / icb_pop.sum() * extra
    subs += np.floor(share).astype(int)
    for i in np.argsort(-(share - np.floor(share)))[: N_SUB_ICB - subs.sum()]:
        subs[i] += 1
    practices: list[dict[str, object]] = []
    n_sub = n_pcn = 0
    icb_imd = np.clip(rng.normal(21.7, 6.0, N_ICB), 8, 40)
    for i in range(N_ICB):
        icb = f"ZQ{i + 1:02d}"
        split = rng.dirichlet(np.full(subs[i], 6.0)) * icb_pop[i]
        for pop in split:
            n_sub += 1
            sub = f"ZS{n_sub:03d}"
            sizes: list[int] = []
            while sum(sizes) < pop:
                sizes.append(int(min(90_000, max(1_000, rng.lognormal(np.log(LIST_MEDIAN),
                                                                       LIST_SIGMA)))))
            if sizes[-1] - (sum(sizes) - pop) >= 1_000:  # trim the last to the sub-ICB's total
                sizes[-1] -= int(sum(sizes) - pop)
            order = rng.permutation(len(sizes))
            pcn_size, pcn_goal, pcn_imd = 0, 0, 0.0
            for k in order:
                if pcn_size >= pcn_goal:
                    n_pcn += 1
                    pcn_size, pcn_goal = 0, rng.integers(*PCN_TARGET)
                    pcn_imd = rng.normal(0.0, 6.0)
                pcn_size += sizes[k]
                practices.append({"icb": icb, "sub": sub, "pcn": f"ZU{n_pcn:04d}",
                                  "size": sizes[k],
                                  "imd": float(np.clip(icb_imd[i] + pcn_imd
                                                       + rng.normal(0.0, 4.0), 2.0, 70.0))})
    # a few dormant or closing practices, each in a random existing PCN
    for size in TINY:
        host = practices[int(rng.integers(len(practices)))]
        practices.append({**host, "size": size,
                          "imd": float(np.clip(host["imd"] + rng.normal(0, 3), 2.0, 70.0))})
    order = sorted(range(len(practices)), key=lambda k: (practices[k]["sub"], rng.random()))
    practices = [practices[k] for k in order]
    for n, p in enumerate(practices, 1):
        p["code"] = f"ZE{n:04d}"
    return practices


def write(practices: list[dict[str, object]]) -> None:
    """Write the three gzip CSV files."""
    OUT.mkdir(exist_ok=True)
    totals = [["PUBLICATION", "EXTRACT_DATE", "TYPE", "SUB_ICB_LOCATION_CODE",
               "ONS_SUB_ICB_LOCATION_CODE", "CODE", "POSTCODE", "SEX", "AGE",
               "NUMBER_OF_PATIENTS"]]
    mapping = [["PUBLICATION", "EXTRACT_DATE", "PRACTICE_CODE", "PRACTICE_NAME",
                "PRACTICE_POSTCODE", "PCN_CODE", "PCN_NAME", "SUB_ICB_LOCATION_CODE",
                "SUB_ICB_LOCATION_NAME", "ICB_CODE", "ICB_NAME"]]
    imd = [["Indicator ID", "Indicator Name", "Area Code", "Area Type", "Sex", "Age",
            "Category Type", "Time period", "Value"]]
    indicator = "Deprivation score (IMD 2019)"
    imd.append(["93553", indicator, "E92000001", "England", "Persons", "All ages", "", "2019",
                "21.7"])
    for p in practices:
        code, sub = p["code"], p["sub"]
        post = f"ZZ99 {int(code[2:]) % 10}{'ABDEFGHJLN'[int(code[2:]) % 10]}Z"
        ons = f"E38999{int(sub[2:]):03d}"
        totals.append([PUBLICATION, EXTRACT, "GP", sub, ons, code, post, "ALL", "ALL", p["size"]])
        n = int(code[2:])
        name = f"SYNTHETIC {PLACES[n % len(PLACES)]} {KINDS[n // len(PLACES) % len(KINDS)]}"
        mapping.append([PUBLICATION, EXTRACT, code, name, post, p["pcn"],
                        f"SYNTHETIC PCN {p['pcn']}", sub, f"NHS SYNTHETIC SUB-ICB {sub}",
                        p["icb"], f"NHS SYNTHETIC ICB {p['icb']}"])
        imd.append(["93553", indicator, code, "GPs", "Persons", "All ages", "", "2019",
                    f"{p['imd']:.1f}"])
    _gz(OUT / "gp-reg-pat-prac-all.csv.gz", totals)
    _gz(OUT / "gp-reg-pat-prac-map.csv.gz", mapping)
    _gz(OUT / "imd_fingertips.csv.gz", imd)


def scenario(practices: list[dict[str, object]]) -> str:
    """The text of scenarios/england_synthetic.yaml."""
    by_icb: dict[str, list[str]] = {}
    for p in practices:
        by_icb.setdefault(str(p["icb"]), [])
        if p["sub"] not in by_icb[str(p["icb"])]:
            by_icb[str(p["icb"])].append(str(p["sub"]))
    n_pcn = len({p["pcn"] for p in practices})
    tiny = sum(int(p["size"]) < 1000 for p in practices)
    lines = [
        "# All of England from files: a SYNTHETIC national register (data/synthetic/england/,",
        "# written by data/synthetic/make_england.py; invented practices, not NHS data) with",
        "# England's shape: 42 ICBs, 106 sub-ICB locations (the commissioning groups),",
        f"# {n_pcn:,} PCNs (the localities), {len(practices):,} practices "
        f"({tiny} of them below 1,000 patients),",
        f"# {sum(int(p['size']) for p in practices):,} patients; practice deprivation "
        "(IMD 2019 style) shifts need.",
        "# Written by make_england.py: edit the script, not this file.",
        "# Everything else is a scenario ASSUMPTION, as in east_of_england_2013.yaml: one acute,",
        "# community and mental-health trust and one council per ICB, serving its sub-ICB",
        "# locations (calibration.md: 1-2 acute trusts per CCG, often shared).",
        "name: england_synthetic",
        "description: >",
        "  England's shape from a synthetic national register: 106 sub-ICB locations in 42",
        "  ICBs, PCNs as localities, need shifted by practice deprivation.",
        "seed: 2024",
        "steps: 60",
        "practices_from:",
        "  file: ../data/synthetic/england/gp-reg-pat-prac-all.csv.gz",
        "  format: nhs_digital",
        "  map_file: ../data/synthetic/england/gp-reg-pat-prac-map.csv.gz",
        "  small_practices: merge        # the dormant practices join their PCN's largest",
        "  covariates:",
        "    file: ../data/synthetic/england/imd_fingertips.csv.gz",
        "    format: fingertips          # indicator 93553, deprivation score (IMD 2019)",
        "need:",
        "  baseline: [0.22, 0.24, 0.13, 0.22, 0.09, 0.10]   # ASSUMPTION, as east_of_england_2013",
        "  locality_concentration: 25",
        "  practice_concentration: 50",
        "national_priorities: [0.18, 0.16, 0.18, 0.20, 0.10, 0.18]",
        "providers:",
    ]
    for icb, subs in by_icb.items():
        serves = ", ".join(subs)
        for kind, label in (("acute", "Acute Trust"), ("community", "Community Services"),
                            ("mental_health", "Mental Health Trust")):
            lines.append(f"  - {{name: {icb} {label}, kind: {kind}, serves: [{serves}]}}")
    lines.append("local_authorities:")
    for icb, subs in by_icb.items():
        lines.append(f"  - {{name: {icb} Council, serves: [{', '.join(subs)}]}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write the files and the scenario; print a summary."""
    practices = build(np.random.default_rng(SEED))
    write(practices)
    SCENARIO.write_text(scenario(practices), encoding="utf-8")
    sizes = np.array([p["size"] for p in practices])
    print(f"{len(practices):,} practices, {len({p['pcn'] for p in practices}):,} PCNs, "
          f"{len({p['sub'] for p in practices})} sub-ICB locations, "
          f"{len({p['icb'] for p in practices})} ICBs, {sizes.sum():,} patients; list sizes "
          f"median {np.median(sizes):,.0f}, mean {sizes.mean():,.0f}, {int((sizes < 1000).sum())} "
          f"below 1,000")


if __name__ == "__main__":
    main()

"""Write the SYNTHETIC practice-register samples of this folder (run from the repository root).

    .venv/bin/python data/synthetic/make_registers.py

The practices are invented, not NHS data.  The codes are obviously fake (commissioning bodies
``Z01``-``Z03`` and ``Z11``/``Z12``, practices ``Z000nn``/``Z100nn``, PCNs ``ZPCNnn``) and the
postcodes are in the non-geographic ``ZZ99`` district.  The files have the layouts of NHS
Digital's "Patients Registered at a GP Practice" releases (``gp-reg-pat-prac-all.csv``, 2013
style with ``CCG_CODE``; ``gp-reg-pat-prac-map.csv``, post-2022 style with sub-ICB locations
and PCNs) and of the model's plain format (``practices_plain.csv``).  The values are written
out below, so the tests can check them by hand.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (practice, list size, PCN) per commissioning body; PCNs interleave so that "localities are
# the distinct PCNs in file order" is visible.
Z01 = [  # 15 practices, 112,270 patients, 3 PCNs
    ("Z00001", 4210, "ZPCN02"), ("Z00002", 7895, "ZPCN01"), ("Z00003", 12034, "ZPCN01"),
    ("Z00004", 2987, "ZPCN02"), ("Z00005", 9650, "ZPCN03"), ("Z00006", 5540, "ZPCN01"),
    ("Z00007", 15872, "ZPCN03"), ("Z00008", 3320, "ZPCN02"), ("Z00009", 6815, "ZPCN03"),
    ("Z00010", 10420, "ZPCN01"), ("Z00011", 1870, "ZPCN02"), ("Z00012", 8233, "ZPCN03"),
    ("Z00013", 4999, "ZPCN02"), ("Z00014", 7120, "ZPCN01"), ("Z00015", 11305, "ZPCN03"),
]
Z02 = [  # 16 practices, 118,015 patients, 4 PCNs
    ("Z00016", 5120, "ZPCN04"), ("Z00017", 9800, "ZPCN05"), ("Z00018", 3410, "ZPCN06"),
    ("Z00019", 14250, "ZPCN07"), ("Z00020", 6600, "ZPCN04"), ("Z00021", 2150, "ZPCN05"),
    ("Z00022", 8720, "ZPCN06"), ("Z00023", 7345, "ZPCN07"), ("Z00024", 12900, "ZPCN04"),
    ("Z00025", 4480, "ZPCN05"), ("Z00026", 1050, "ZPCN06"), ("Z00027", 9175, "ZPCN07"),
    ("Z00028", 5890, "ZPCN04"), ("Z00029", 16420, "ZPCN05"), ("Z00030", 3775, "ZPCN06"),
    ("Z00031", 6930, "ZPCN07"),
]
# Z03 appears in the map only: a national map file goes with a totals file cut to two groups.
Z03 = [("Z00032", "ZPCN08"), ("Z00033", "ZPCN08")]
GROUPS = {"Z01": ("E38999901", "NHS Synthetic North CCG", Z01),
          "Z02": ("E38999902", "NHS Synthetic South CCG", Z02)}
PCN_NAMES = {f"ZPCN0{i}": f"Synthetic PCN {i}" for i in range(1, 9)}
BANDS = ("0_4", "5_9", "10_14")  # quinary age bands of a breakdown


def postcode(code: str) -> str:
    """A fake postcode in the non-geographic ZZ99 district."""
    return f"ZZ99 {int(code[1:]) % 10}{'ABCDEFGHJK'[int(code[1:]) % 10]}Z"


def totals() -> None:
    """Write gp-reg-pat-prac-all.csv: practice totals plus breakdown rows."""
    header = ["PUBLICATION", "EXTRACT_DATE", "TYPE", "CCG_CODE", "ONS_CCG_CODE", "CODE",
              "POSTCODE", "SEX", "AGE", "NUMBER_OF_PATIENTS"]
    rows = []
    for ccg, (ons, _, practices) in GROUPS.items():
        for k, (code, size, _) in enumerate(practices):
            base = ["GP_PRAC_PAT_LIST", "01APR2013", "GP", ccg, ons, code, postcode(code)]
            male = size * 49 // 100
            rows.append([*base, "ALL", "ALL", size])  # the practice total
            rows.append([*base, "MALE", "ALL", male])  # breakdown rows, to be ignored
            rows.append([*base, "FEMALE", "ALL", size - male])
            if k < 2:  # a few age bands for the first practices of each group
                for j, band in enumerate(BANDS):
                    rows.append([*base, "ALL", band, size // (20 + j)])
                rows.append([*base, "MALE", BANDS[0], size // 41])
    with open(HERE / "gp-reg-pat-prac-all.csv", "w", newline="", encoding="ascii") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def mapping() -> None:
    """Write gp-reg-pat-prac-map.csv: practice to PCN and commissioning body."""
    header = ["PRACTICE_CODE", "PRACTICE_NAME", "PRACTICE_POSTCODE", "PCN_CODE", "PCN_NAME",
              "SUB_ICB_LOCATION_CODE", "SUB_ICB_LOCATION_NAME", "ICB_CODE", "ICB_NAME",
              "COMM_REGION_CODE", "COMM_REGION_NAME"]
    rows = []
    entries = [(ccg, name, code, pcn) for ccg, (_, name, ps) in GROUPS.items()
               for code, _, pcn in ps]
    entries += [("Z03", "NHS Synthetic West CCG", code, pcn) for code, pcn in Z03]
    for ccg, name, code, pcn in entries:
        rows.append([code, f"SYNTHETIC PRACTICE {code[1:]}", postcode(code), pcn, PCN_NAMES[pcn],
                     ccg, name, "ZQ1", "NHS Synthetic Integrated Care Board", "Z99",
                     "Synthetic Region"])
    with open(HERE / "gp-reg-pat-prac-map.csv", "w", newline="", encoding="ascii") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


PLAIN = [  # practice, list size, group, locality, gps ('' = the default)
    ("Z10001", 8500, "Z11", "North", 6), ("Z10002", 4200, "Z11", "North", 3),
    ("Z10003", 12600, "Z11", "Coast", 8), ("Z10004", 2300, "Z11", "Coast", ""),
    ("Z10005", 6900, "Z11", "North", 4), ("Z10006", 9800, "Z11", "Town", 7),
    ("Z10007", 3100, "Z11", "Town", 2), ("Z10008", 5400, "Z11", "Coast", ""),
    ("Z10009", 7700, "Z11", "Town", 5), ("Z10010", 10200, "Z11", "North", 7),
    ("Z10011", 6100, "Z12", "Valley", 4), ("Z10012", 11500, "Z12", "Valley", 8),
    ("Z10013", 3900, "Z12", "Hills", ""), ("Z10014", 7300, "Z12", "Hills", 5),
    ("Z10015", 5200, "Z12", "Valley", 3), ("Z10016", 14800, "Z12", "Hills", 9),
    ("Z10017", 2600, "Z12", "Valley", 2), ("Z10018", 8800, "Z12", "Hills", 6),
]


def plain() -> None:
    """Write practices_plain.csv (with # comment lines)."""
    with open(HERE / "practices_plain.csv", "w", newline="", encoding="ascii") as fh:
        fh.write("# SYNTHETIC practice register: invented practices, not NHS data "
                 "(data/README.md).\n")
        fh.write("# Columns: practice, list_size, group [, locality, gps]; an empty gps means "
                 "the default (gps_per_practice scaled by list size).\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["practice", "list_size", "group", "locality", "gps"])
        w.writerows(PLAIN)


if __name__ == "__main__":
    totals()
    mapping()
    plain()

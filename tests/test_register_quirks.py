"""Issue 20: registers as they really are (tiny practices, localities by population, the map's
levels), practice covariates and need by deprivation, and the synthetic national register."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from simulation.cli import app
from simulation.loader import RegisterWarning, ScenarioError, load_scenario
from simulation.model import CommissioningModel
from simulation.needs import deprivation_shift, imd_quintiles
from simulation.population import build_population
from simulation.reporters import METRICS

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
TOTALS, MAP = DATA / "gp-reg-pat-prac-all.csv", DATA / "gp-reg-pat-prac-map.csv"
ENGLAND = ROOT / "scenarios" / "england_synthetic.yaml"

#: a plain register: Z31 with two localities, a 3-patient and a 600-patient practice
PLAIN = """practice,list_size,group,locality
A1,8000,Z31,North
A2,3,Z31,North
A3,2000,Z31,North
A4,30000,Z31,South
A5,600,Z31,South
A6,10000,Z31,South
B1,20000,Z32,East
B2,25000,Z32,East
"""


def register(tmp_path, practices_from: dict, extra: str = "", text: str = PLAIN) -> Path:
    (tmp_path / "reg.csv").write_text(text)
    body = ("name: quirks\nsteps: 3\npractices_from:\n  file: reg.csv\n  format: plain\n"
            + "".join(f"  {k}: {v}\n" for k, v in practices_from.items()) + extra)
    p = tmp_path / "s.yaml"
    p.write_text(body)
    return p


def sizes(s, g=0):
    return {p.code: p.list_size for p in s.groups[g].practices.explicit}


# --------------------------------------------------------------------------- tiny practices


def test_tiny_practices_are_warned_by_name_and_kept_by_default(tmp_path):
    with pytest.warns(RegisterWarning) as rec:
        s = load_scenario(register(tmp_path, {}))
    text = str(rec[0].message)
    assert "2 practice(s) below the minimum list size 1,000" in text
    assert "A2 (3 patients, group Z31, row 3)" in text and "A5 (600 patients" in text
    assert "kept as they are" in text
    assert len(s.groups[0].practices.explicit) == 6


def test_merge_joins_the_largest_practice_of_the_locality(tmp_path):
    with pytest.warns(RegisterWarning, match="merged into the largest practice"):
        s = load_scenario(register(tmp_path, {"small_practices": "merge"}))
    assert sizes(s) == {"A1": 8003, "A3": 2000, "A4": 30600, "A6": 10000}
    assert s.groups[0].population == 50603  # nobody lost


def test_exclude_shares_patients_pro_rata_and_keeps_totals(tmp_path):
    with pytest.warns(RegisterWarning, match="excluded"):
        s = load_scenario(register(tmp_path, {"small_practices": "exclude",
                                              "min_list_size": 2500}))
    got = sizes(s)
    assert set(got) == {"A1", "A4", "A6"}  # A3 (2,000) is below 2,500 too
    assert sum(got.values()) == 50603 == s.groups[0].population
    assert got["A1"] == 8000 + 2003  # North: A2 + A3 to A1, the only one left
    assert got["A4"] + got["A6"] == 40600 and got["A4"] > 30000


def test_a_locality_of_tiny_practices_keeps_its_largest(tmp_path):
    text = "practice,list_size,group,locality\nA1,5,Z31,X\nA2,9,Z31,X\nA3,40000,Z31,Y\n"
    with pytest.warns(RegisterWarning):
        s = load_scenario(register(tmp_path, {"small_practices": "merge"}, text=text))
    assert sizes(s) == {"A2": 14, "A3": 40000}


def test_min_list_size_is_checked(tmp_path):
    with pytest.raises(ScenarioError, match=r"practices_from.min_list_size: .*greater than or "
                                            r"equal to 1"):
        load_scenario(register(tmp_path, {"min_list_size": 0}))


# --------------------------------------------------------------------------- localities


def test_without_map_localities_are_sized_from_population_and_describe_says_so(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: sized\nsteps: 2\npractices_from:\n  file: {TOTALS}\n"
                 "groups:\n  - {name: Z02, localities: {count: 2}}\n")
    s = load_scenario(p)
    assert s.practices_from.locality == "rules" and s.practices_from.sized_groups == ["Z01"]
    assert s.groups[1].localities.count == 2  # Z01: round(112,270 / 70,000)
    r = CliRunner().invoke(app, ["describe", str(p)], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.output.splitlines()
            if line.startswith("│ Z0")}
    assert "population/70k" in rows["Z01"] and "localities.count" in rows["Z02"]


def test_people_per_locality_sets_the_size(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: sized\nsteps: 2\npractices_from:\n  file: {TOTALS}\n"
                 "  people_per_locality: 40000\n")
    s = load_scenario(p)
    assert [g.localities.count for g in s.groups] == [3, 3]


def test_the_map_gives_pcn_sub_icb_and_icb_per_practice():
    s = load_scenario(ROOT / "scenarios" / "register_nhs_digital.yaml")
    pop = build_population(s, np.random.default_rng(0))
    lab = pop.practice_labels
    assert lab["code"][0] == "Z00001" and lab["pcn"][0] == "ZPCN02"
    assert set(lab["sub_icb"]) == {"Z01", "Z02"} and set(lab["icb"]) == {"ZQ1"}
    assert np.isnan(pop.practice_imd).all()


# --------------------------------------------------------------------------- covariates

IMD = "practice,imd\nA1,10\nA2,12\nA3,14\nA4,45.5\nA5,40\nA6,30\nB1,20\nB2,5\n"


def with_imd(tmp_path, text=IMD, fmt="plain", **more):
    (tmp_path / "imd.csv").write_text(text)
    cov = {"file": "imd.csv", "format": fmt, **more}
    return register(tmp_path, {"small_practices": "merge", "covariates": cov})


def test_plain_covariates_are_joined_and_merged_weighted(tmp_path):
    with pytest.warns(RegisterWarning):
        s = load_scenario(with_imd(tmp_path))
    imd = {p.code: p.imd for p in s.groups[0].practices.explicit}
    assert imd["A3"] == 14 and imd["A6"] == 30
    assert imd["A1"] == pytest.approx((10 * 8000 + 12 * 3) / 8003, abs=1e-3)
    assert imd["A4"] == pytest.approx((45.5 * 30000 + 40 * 600) / 30600, abs=1e-3)


@pytest.mark.parametrize("text,where,part", [
    (IMD.replace("B2,5\n", ""), "column practice", "'B2': practice of the register"),
    (IMD + "A1,11\n", "row 10 / column practice", "'A1': practice appears twice (rows 2 and 10)"),
    (IMD.replace("A3,14", "A3,high"), "row 4 / column imd", "'high': not a number; allowed: a "
                                                            "deprivation score"),
    (IMD.replace("A3,14", "A3,140"), "row 4 / column imd", "'140': out of range"),
    ("code,score\nA1,1\n", "row 1 (header)", "missing required column(s) practice, imd"),
])
def test_bad_covariate_files(tmp_path, text, where, part):
    with pytest.raises(ScenarioError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", RegisterWarning)
        load_scenario(with_imd(tmp_path, text))
    msg = str(info.value)
    assert f"imd.csv: {where}: " in msg and part in msg, msg


def test_missing_scores_may_take_the_median(tmp_path):
    with pytest.warns(RegisterWarning) as rec:
        s = load_scenario(with_imd(tmp_path, IMD.replace("B2,5\n", ""), missing="median"))
    assert any("1 of 8 practices have no score" in str(w.message) and "B2" in str(w.message)
               for w in rec)
    assert s.groups[1].practices.explicit[1].imd == 30.0  # weighted: 30,003 < 35,302 < 40,003


FINGERTIPS = ('Indicator ID,Area Code,Area Type,Category Type,Time period,Value\n'
              '93553,E92000001,England,,2019,21.7\n'
              + "".join(f"93553,{c},GPs,,2019,{v}\n" for c, v in
                        [("A1", 10), ("A2", 12), ("A3", 14), ("A4", 45), ("A5", 40), ("A6", 30),
                         ("B1", 20), ("B2", 5)])
              + "93553,A1,GPs,Ethnic groups,2019,99\n"  # a breakdown row: ignored
              + "90453,A1,GPs,,2019,77\n"  # another indicator: ignored
              + "93553,E38000001,Sub-ICB,,2019,25\n93553,E38000001,CCGs,,2019,x\n")  # not joined


def test_fingertips_download_keeps_the_indicator_and_no_breakdown(tmp_path):
    with pytest.warns(RegisterWarning):
        s = load_scenario(with_imd(tmp_path, FINGERTIPS, fmt="fingertips"))
    assert s.groups[1].practices.explicit[0].imd == 20
    with pytest.raises(ScenarioError, match=r"row 15 / column Area Code: value 'B1': practice "
                                            r"appears twice \(rows 9 and 15\).*set covariates.time_period"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RegisterWarning)
        load_scenario(with_imd(tmp_path, FINGERTIPS + "93553,B1,GPs,,2018,21\n",
                               fmt="fingertips"))
    with pytest.raises(ScenarioError, match=r"no row of indicator '93' .*the file has: 90453, "
                                            r"93553"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RegisterWarning)
        load_scenario(with_imd(tmp_path, FINGERTIPS, fmt="fingertips", indicator="93"))


def test_deprivation_shift_follows_the_ratios():
    need = np.full((3, 2), 0.5)
    out = deprivation_shift(need, np.array([21.7, 51.7, np.nan]), np.array([2.0, 1.0]), 21.7, 30)
    assert out[0].tolist() == [0.5, 0.5] and out[2].tolist() == [0.5, 0.5]
    assert out[1, 0] / out[1, 1] == pytest.approx(2.0)  # one span more deprived: ratio 2


def test_quintiles_hold_a_fifth_of_patients_each():
    q = imd_quintiles(np.array([5, 1, 3, 2, 4, 9, 8, 7, 6, 10, np.nan]), np.ones(11))
    assert q.tolist() == [2, 0, 1, 0, 1, 4, 3, 3, 2, 4, -1]


def test_misallocation_by_fifth_is_nan_without_scores_and_set_with_them(tmp_path):
    plain = CommissioningModel(load_scenario(ROOT / "scenarios" / "register_plain.yaml"),
                               collect=False)
    assert all(np.isnan(METRICS[f"misallocated_per_head_imd_q{q}"].reporter(plain)).all()
               for q in range(1, 6))
    with pytest.warns(RegisterWarning):
        s = load_scenario(with_imd(tmp_path))
    # no burn-in: the initial needs of both models come from the same draws; months of
    # dynamics would let the draws diverge (how many leave, and so how much is drawn for
    # newcomers, depends on engagement, which depends on need)
    s = s.model_copy(update={"burn_in": 0})
    m = CommissioningModel(s, collect=False)
    dep = s.need.deprivation
    flat = s.model_copy(update={"need": s.need.model_copy(update={
        "deprivation": dep.model_copy(update={"ratios": {}})})})
    m0 = CommissioningModel(flat, collect=False)  # same draws, no deprivation gradient
    u, pl = s.services.index("urgent_emergency"), s.services.index("planned_care")
    odds = (m.practice_need[:, u] / m.practice_need[:, pl]) / (
        m0.practice_need[:, u] / m0.practice_need[:, pl])
    expected = dep.ratios["urgent_emergency"] ** ((m.pop.practice_imd - 21.7) / 30.0)
    np.testing.assert_allclose(odds, expected, rtol=1e-9)
    assert odds[np.argmax(m.pop.practice_imd)] > 1 > odds[np.argmin(m.pop.practice_imd)]
    m.step()
    values = [METRICS[f"misallocated_per_head_imd_q{q}"].reporter(m)[-1] for q in range(1, 6)]
    assert all(np.isfinite(v) and v >= 0 for v in values), values


def test_deprivation_ratios_must_name_services(tmp_path):
    p = register(tmp_path, {}, "need: {deprivation: {ratios: {urgent: 1.5}}}\n")
    with pytest.raises(ScenarioError, match=r"need.deprivation.ratios: urgent not among the "
                                            r"scenario's services"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RegisterWarning)
        load_scenario(p)


# --------------------------------------------------------------------------- files, England


def test_gzip_registers_are_read_and_truncated_ones_refused(tmp_path):
    raw = gzip.compress(PLAIN.encode(), mtime=0)
    (tmp_path / "reg.csv.gz").write_bytes(raw)
    p = tmp_path / "s.yaml"
    p.write_text("name: gz\nsteps: 2\npractices_from: {file: reg.csv.gz, format: plain}\n")
    with pytest.warns(RegisterWarning):
        assert load_scenario(p).groups[0].population == 50603
    (tmp_path / "reg.csv.gz").write_bytes(raw[:-12])
    with pytest.raises(ScenarioError, match=r"reg.csv.gz: is a truncated gzip file"):
        load_scenario(p)


def test_the_synthetic_national_register_loads_with_englands_shape():
    with pytest.warns(RegisterWarning, match="15 practice"):
        s = load_scenario(ENGLAND)
    pop = build_population(s, np.random.default_rng(0))
    assert len(s.groups) == 106 and pop.n_practices == 6485  # 15 tiny ones merged
    assert int(pop.list_size.sum()) == 62_536_656
    assert len(set(pop.practice_labels["icb"])) == 42
    assert len(set(pop.practice_labels["pcn"])) == pop.n_areas == 1222
    assert 2 <= np.nanmin(pop.practice_imd) and np.nanmax(pop.practice_imd) <= 70


def test_the_cli_reports_a_bad_covariate_file_with_exit_2_and_no_traceback(tmp_path):
    p = with_imd(tmp_path, IMD.replace("A3,14", "A3,n/a"))
    r = CliRunner().invoke(app, ["validate", str(p)])
    assert r.exit_code == 2, r.output
    assert "imd.csv: row 4 / column imd: value 'n/a': not a number" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(app, ["validate", str(with_imd(tmp_path))])
    assert r.exit_code == 0, r.output
    assert "warning: " in r.output and "A2 (3 patients, group Z31, row 3)" in r.output


def test_folding_small_practices_never_loses_a_patient_or_a_locality():
    import random

    from simulation.registers import _fold_small

    r = random.Random(0)
    for _ in range(500):
        labelled = r.random() < 0.5
        ex = [{"code": f"P{i}", "list_size": r.choice([1, 2, 5, 300, 999, 1000, 5000, 20000]),
               **({"locality": r.choice("ab")} if labelled else {})}
              for i in range(r.randint(1, 12))]
        for how in ("merge", "exclude"):
            out = _fold_small(ex, 1000, how)
            assert sum(x["list_size"] for x in out) == sum(x["list_size"] for x in ex)
            assert {x.get("locality") for x in out} == {x.get("locality") for x in ex}
            kept_small = [x for x in out if x["list_size"] < 1000]
            # a small practice survives only as the largest of a locality of small ones
            for x in kept_small:
                assert all(y["list_size"] < 1000 for y in ex if y.get("locality") == x.get("locality"))


# --------------------------------------------------------------------------- encodings
def test_a_byte_that_is_not_utf8_is_refused_with_its_line_and_column(tmp_path):
    """As the survey readers do (issue 23): no silent Latin-1 fallback."""
    path = register(tmp_path, {})
    raw = PLAIN.replace("A3,2000", "A\xe93,2000").encode("latin-1")  # é as one Latin-1 byte
    (tmp_path / "reg.csv").write_bytes(raw)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "line 4, column 2" in text and "0xe9 is not UTF-8" in text, text
    # the same character saved as UTF-8 is read
    (tmp_path / "reg.csv").write_bytes(raw.decode("latin-1").encode("utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegisterWarning)
        assert load_scenario(path).groups[0].name == "Z31"

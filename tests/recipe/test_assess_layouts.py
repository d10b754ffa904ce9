"""``assess`` on every Mantid focused layout: masked and failed groups, files without geometry, TOF, points.

Files are synthetic (tests/io/test_nxprocessed.py::write_focused): Gaussians at silicon's
reflections with Poisson noise, so a correct reading fits every peak where it was put.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.constants import L1_M, REFERENCE_ARC_DEG, REFERENCE_LIN_M
from snapcal_core.errors import GroupMappingError, InvalidOptionsError, MissingGeometryError
from snapcal_core.instrument.geometry import difc_from_geometry
from snapcal_core.instrument.groupings import builtin_grouping
from snapcal_core.io.nxprocessed import read_focused_workspace
from snapcal_core.recipe.assess import GroupOutcome, assess_focused, given_group_parameters, match_groups
from tests.io.test_nxprocessed import TWO_THETA_DEG, column_detectors, log_edges, silicon_counts, write_focused

EDGES = log_edges()
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])


@pytest.fixture(scope="module")
def silicon():
    return calibrant_reflections(load_sample("silicon"))


@pytest.fixture(scope="module")
def column_groups():
    """Column groups (Lite) at the reference state, 2.1 angstrom."""
    return given_group_parameters(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, wavelength_angstrom=2.1,
                                  grouping=builtin_grouping("Column", lite=True))


def _counts(two_theta: tuple[float, ...], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [silicon_counts(CENTRES, two_theta_deg=tt, rng=rng) for tt in two_theta]


def _empty_instrument_file(path, groups, **kw):
    """As SNAPRed saves many spectra: blank instrument, one made-up detector per spectrum, zero positions."""
    values = kw.pop("values", None) or _counts(tuple(g.two_theta_deg for g in groups))
    return write_focused(path, x=kw.pop("x", EDGES), values=values, instrument_name="",
                         detectors=[np.array([i + 1]) for i in range(len(values))], **kw)


def _ppm(result) -> np.ndarray:
    return np.array([g.metrics.relative_strain_ppm_mean for g in result])


def test_all_zero_group_is_masked_and_the_others_are_still_assessed(tmp_path, silicon):
    ids, phys = column_detectors()
    values = _counts(TWO_THETA_DEG)
    values[2] = np.zeros_like(values[2])
    result = assess_focused(write_focused(tmp_path / "z.nxs", x=EDGES, values=values, detectors=ids, physical=phys),
                            reflections=silicon)
    assert [g.outcome for g in result] == [GroupOutcome.ASSESSED] * 2 + [GroupOutcome.NO_COUNTS] + \
        [GroupOutcome.ASSESSED] * 3
    assert "no counts" in result[2].reason and result[2].metrics.n_peaks_fitted == 0
    for g in (result[0], result[1], result[3], result[4], result[5]):
        assert g.metrics.n_peaks_fitted >= 4, g.reason
    assert np.all(np.abs(_ppm(result)[[0, 1, 3, 4, 5]]) < 300)


def test_too_few_peaks_predicted_or_fitted_is_a_group_outcome(tmp_path, silicon):
    ids, phys = column_detectors()
    values = _counts(TWO_THETA_DEG)
    values[1] = np.where((CENTRES > 1.55) & (CENTRES < 1.75), values[1], 0.0)  # only Si (311) is in range
    values[3] = np.random.default_rng(5).poisson(20.0, CENTRES.size).astype(float)  # background, no peak
    result = assess_focused(write_focused(tmp_path / "f.nxs", x=EDGES, values=values, detectors=ids, physical=phys),
                            reflections=silicon)
    assert result[1].outcome is GroupOutcome.TOO_FEW_PREDICTED_PEAKS and "only" in result[1].reason
    assert result[3].outcome is GroupOutcome.TOO_FEW_FITTED_PEAKS and "need 2" in result[3].reason
    assert result[3].peaks and not any(p.accepted for p in result[3].peaks)
    assert all(result[i].assessed for i in (0, 2, 4, 5))


def test_empty_instrument_without_group_geometry_names_the_options(tmp_path, silicon, column_groups):
    path = _empty_instrument_file(tmp_path / "empty.nxs", column_groups)
    with pytest.raises(MissingGeometryError) as info:
        assess_focused(path, reflections=silicon)
    for word in ("empty.nxs", "instrument/name", "physical_detectors", "detector_positions", "dSpacing",
                 "--grouping", "--lite", "--run", "--arc", "--lin", "--state"):
        assert word in str(info.value)


def test_empty_instrument_with_given_groups_fits_every_group(tmp_path, silicon, column_groups):
    result = assess_focused(_empty_instrument_file(tmp_path / "e.nxs", column_groups), reflections=silicon,
                            groups=column_groups)
    assert all(g.assessed for g in result), [g.reason for g in result]
    assert [g.group_id for g in result] == [1, 2, 3, 4, 5, 6]
    assert result[0].geometry_source == "given groups, by spectrum number"
    assert np.all(np.abs(_ppm(result)) < 300)
    np.testing.assert_allclose([g.metrics.two_theta_deg for g in result], [g.two_theta_deg for g in column_groups])


def _file_difc(phys, ids) -> list[float]:
    """Mean geometric DIFC of each spectrum's detectors, as Mantid's SpectrumInfo averages them."""
    index = {int(n): k for k, n in enumerate(phys["detector_number"])}
    out = []
    for members in ids:
        k = [index[int(i)] for i in members]
        out.append(float(np.mean(difc_from_geometry(l_total_m=L1_M + phys["distance"][k],
                                                    two_theta_rad=np.deg2rad(phys["polar_angle"][k])))))
    return out


def test_tof_file_is_converted_with_the_files_calibrated_difc(tmp_path, silicon):
    ids, phys = column_detectors()
    difc = [1.001 * c for c in _file_difc(phys, ids)]  # the calibration moved every DIFC by 1000 ppm
    pmap = "|".join(f"detID:{i};double;DIFC;{difc[s]!r}" for s, members in enumerate(ids) for i in members)
    tof = [c * EDGES for c in difc]
    calibrated = write_focused(tmp_path / "cal.nxs", x=tof, values=_counts(TWO_THETA_DEG), units="TOF",
                               detectors=ids, physical=phys, parameter_map=pmap)
    geometric = write_focused(tmp_path / "geo.nxs", x=tof, values=_counts(TWO_THETA_DEG), units="TOF",
                              detectors=ids, physical=phys)
    assert np.all(np.abs(_ppm(assess_focused(calibrated, reflections=silicon))) < 300)
    assert np.all(np.abs(_ppm(assess_focused(geometric, reflections=silicon)) - 1000) < 300)


def test_tof_file_without_geometry_uses_the_given_groups_difc(tmp_path, silicon, column_groups):
    tof = [g.difc_us_per_angstrom * EDGES for g in column_groups]
    path = _empty_instrument_file(tmp_path / "tof.nxs", column_groups, x=tof, units="TOF")
    result = assess_focused(path, reflections=silicon, groups=column_groups)
    assert all(g.assessed for g in result) and np.all(np.abs(_ppm(result)) < 300)
    with pytest.raises(MissingGeometryError, match="TOF"):
        assess_focused(path, reflections=silicon)


def test_point_data_and_distributions_give_the_same_peaks_as_counts(tmp_path, silicon):
    ids, phys = column_detectors()
    values = _counts(TWO_THETA_DEG)
    counts = assess_focused(write_focused(tmp_path / "c.nxs", x=EDGES, values=values, detectors=ids, physical=phys),
                            reflections=silicon)
    width = np.diff(EDGES)
    dist = assess_focused(write_focused(tmp_path / "d.nxs", x=EDGES, values=[v / width for v in values],
                                        errors=[np.sqrt(v) / width for v in values], distribution=True,
                                        detectors=ids, physical=phys), reflections=silicon)
    points = assess_focused(write_focused(tmp_path / "p.nxs", x=CENTRES, values=values, detectors=ids,
                                          physical=phys), reflections=silicon)
    centres = [[p.centre for p in g.peaks] for g in counts]
    np.testing.assert_allclose([[p.centre for p in g.peaks] for g in dist], centres, rtol=1e-9)
    np.testing.assert_allclose([[p.centre for p in g.peaks] for g in points], centres, rtol=1e-9)


def test_2d_and_ragged_axes_are_assessed_per_spectrum(tmp_path, silicon):
    ids, phys = column_detectors()
    rows = [log_edges(0.35 + 0.05 * i, 4.0 + 0.1 * i) for i in range(6)]  # own bins, different lengths
    rng = np.random.default_rng(3)
    values = [silicon_counts(0.5 * (r[1:] + r[:-1]), two_theta_deg=tt, rng=rng) for r, tt in zip(rows, TWO_THETA_DEG)]
    result = assess_focused(write_focused(tmp_path / "r.nxs", x=rows, values=values, detectors=ids, physical=phys),
                            reflections=silicon)
    assert all(g.assessed for g in result) and np.all(np.abs(_ppm(result)) < 300)


def test_spectra_match_groups_by_number_else_in_order(tmp_path, column_groups):
    def ws(spectra):
        path = write_focused(tmp_path / "m.nxs", x=np.linspace(0.5, 3, 11), values=[np.ones(10)] * len(spectra),
                             spectra=spectra, detectors=[np.array([k]) for k in range(len(spectra))])
        return read_focused_workspace(path)

    matched, how = match_groups(ws([6, 5, 4, 3, 2, 1]), column_groups)
    assert [g.group_id for g in matched] == [6, 5, 4, 3, 2, 1] and how == "by spectrum number"
    matched, how = match_groups(ws([0, 1, 2, 3, 4, 5]), column_groups)
    assert [g.group_id for g in matched] == [1, 2, 3, 4, 5, 6] and how == "in group-id order"
    with pytest.raises(GroupMappingError, match=r"m\.nxs: 5 spectra .* 6 groups"):
        match_groups(ws([1, 2, 3, 4, 5]), column_groups)


# --- command line ---------------------------------------------------------------------------------
def _cli(args):
    from cli import _register_all, app

    _register_all()
    return CliRunner().invoke(app, ["assess", *map(str, args), "--sample", "silicon"])


def test_cli_table_shows_the_masked_groups_reason(tmp_path):
    ids, phys = column_detectors()
    values = _counts(TWO_THETA_DEG)
    values[4] = np.zeros_like(values[4])
    out = _cli([write_focused(tmp_path / "z.nxs", x=EDGES, values=values, detectors=ids, physical=phys)])
    assert out.exit_code == 0, out.output
    assert "no_counts" in out.output and "group 5 (spectrum 5): no_counts: spectrum 5 has no counts" in out.output


def test_cli_empty_instrument_with_grouping_arc_lin_and_logged_wavelength(tmp_path, column_groups):
    path = _empty_instrument_file(tmp_path / "e.nxs", column_groups, logs={"LambdaRequest": 2.1})
    arc, lin = REFERENCE_ARC_DEG, REFERENCE_LIN_M
    out = _cli([path, "--grouping", "Column", "--lite", "--arc", *arc, "--lin", *lin, "--json"])
    assert out.exit_code == 0, out.output
    groups = json.loads(out.output[out.output.index("["):])
    assert [g["outcome"] for g in groups] == ["assessed"] * 6
    assert {"reason", "spectrum_number", "geometry_source", "sigma_mean"} <= set(groups[0])


@pytest.mark.parametrize("args, words", [
    (["--grouping", "Column", "--lite"], ["--run", "--arc", "--lin", "--state"]),
    (["--grouping", "Column", "--arc", "-65.3", "104.95", "--lin", "0.045", "0.043"], ["--lite", "--native"]),
    (["--arc", "-65.3", "104.95"], ["--lin"]),
    (["--run", "1", "--state", "04bd2c53f6bf6754", "--grouping", "Column", "--lite"], ["only one"]),
    (["--grouping", "Column", "--lite", "--arc", "-65.3", "104.95", "--lin", "0.045", "0.043"], ["--wavelength"]),
])
def test_cli_incomplete_or_contradicting_options_are_named(tmp_path, column_groups, args, words):
    out = _cli([_empty_instrument_file(tmp_path / "e.nxs", column_groups), *args])
    assert isinstance(out.exception, InvalidOptionsError), out.output
    assert all(w in str(out.exception) for w in words), str(out.exception)


def test_cli_state_from_a_run_and_from_the_store(tmp_path, settings_env, column_groups, monkeypatch):
    from snapcal_core.constants import REFERENCE_FREQUENCY_HZ, REFERENCE_GUIDE, REFERENCE_STATE_ID
    from snapcal_core.data.locate import raw_file_path
    from snapcal_core.data.nexus import EventFileWriter
    from snapcal_core.data.state import state_logs
    from snapcal_core.models import DetectorState
    from snapcal_core.storage.store import init_state

    state = DetectorState(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, wavelength_angstrom=2.1,
                          frequency_hz=REFERENCE_FREQUENCY_HZ, guide=REFERENCE_GUIDE)
    with EventFileWriter(raw_file_path(settings_env / "data_root", ipts=9, run_number=4242), run_number=4242,
                         title="t", start_time="2026-01-01T00:00:00", duration_s=1.0, proton_charge=1.0,
                         das_logs=state_logs(state)) as writer:
        writer.append(np.arange(10, dtype=np.uint32), np.full(10, 8000.0, np.float32))
    init_state(settings_env / "calibration_home", state)
    path = _empty_instrument_file(tmp_path / "e.nxs", column_groups)
    for args in (["--run", 4242], ["--state", REFERENCE_STATE_ID]):
        out = _cli([path, "--grouping", "Column", "--lite", *args, "--json"])
        assert out.exit_code == 0, out.output
        assert [g["outcome"] for g in json.loads(out.output[out.output.index("["):])] == ["assessed"] * 6


def test_cli_error_is_one_line_and_exit_2(tmp_path, column_groups, monkeypatch, capsys):
    from cli import main

    path = _empty_instrument_file(tmp_path / "empty.nxs", column_groups)
    monkeypatch.setattr(sys, "argv", ["snapcal", "assess", str(path), "--sample", "silicon"])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: MissingGeometryError:") and "--grouping" in err

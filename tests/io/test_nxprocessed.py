"""Reading every layout Mantid's SaveNexusProcessed writes for focused spectra (files made with h5py).

:func:`write_focused` writes what NexusFileIO::writeNexusProcessedData2D,
SaveNexusProcessed::saveSpectraDetectorMapNexus and Instrument::saveNexus write; the assess
tests (tests/recipe/test_assess_layouts.py) build their files with it too.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.errors import CorruptFileError, UnsupportedUnitError
from snapcal_core.io.nxprocessed import read_focused_workspace

#: Column-like groups: 2theta (deg) and L2 (m) of each spectrum's detectors' centre.
TWO_THETA_DEG = (121.0, 104.6, 88.1, 82.7, 66.4, 50.2)
L2_M = 0.70


def _string(group: h5py.Group, name: str, text: str) -> None:
    """NeXus writes a string as a fixed-length byte array of one element; an empty one as a blank."""
    group.create_dataset(name, data=np.array([(text or " ").encode()]))


def _nx(group: h5py.Group, nx_class: str) -> h5py.Group:
    group.attrs["NX_class"] = np.bytes_(nx_class)
    return group


def silicon_counts(d_angstrom: np.ndarray, *, two_theta_deg: float, rng: np.random.Generator, height: float = 5000.0,
                   background: float = 50.0) -> np.ndarray:
    """Poisson counts: Gaussians at silicon's reflections (sigma/d as SNAP measures it) on a flat background."""
    sigma_over_d = 0.0026 * (np.tan(np.deg2rad(60.5)) / np.tan(np.deg2rad(0.5 * two_theta_deg))) ** 0.8
    mean = np.full(d_angstrom.shape, background)
    reflections = calibrant_reflections(load_sample("silicon"))
    strongest = max(r.powder_intensity for r in reflections)
    for r in reflections:
        sigma = sigma_over_d * r.d_angstrom
        mean += height * r.powder_intensity / strongest * np.exp(-0.5 * ((d_angstrom - r.d_angstrom) / sigma) ** 2)
    return rng.poisson(mean).astype(np.float64)


def log_edges(d_min: float = 0.35, d_max: float = 4.5, step: float = 0.0006) -> np.ndarray:
    """Logarithmic bin edges in d (relative step ``step``), as SNAPRed bins its focused spectra."""
    return d_min * (1 + step) ** np.arange(int(np.log(d_max / d_min) / np.log1p(step)) + 1)


def write_focused(
    path: Path, *, x: np.ndarray | list[np.ndarray], values: list[np.ndarray], errors: list[np.ndarray] | None = None,
    units: str | None = "dSpacing", distribution: bool = False, spectra: list[int] | None = None,
    detectors: list[np.ndarray] | None = None, physical: dict[str, np.ndarray] | None = None,
    positions: np.ndarray | None = None, instrument_name: str = "SNAP", parameter_map: str | None = None,
    logs: dict[str, float] | None = None,
) -> Path:
    """A ``mantid_workspace_1`` entry as SaveNexusProcessed writes it.

    ``x``: one array (1-D axis1, common bins) or one per spectrum (2-D axis1; rows of different
    lengths are a ragged workspace, padded with NaN, its values rows with garbage). ``detectors``:
    ids per spectrum (``instrument/detector``; None: no mapping written). ``physical``:
    ``detector_number``, ``polar_angle``, ``distance`` (None: no ``physical_detectors``).
    ``positions``: ``detector_positions`` rows (default zeros: no sample).
    """
    n = len(values)
    errors = [np.sqrt(np.abs(v)) for v in values] if errors is None else errors
    width = max(v.size for v in values)
    with h5py.File(path, "w") as f:
        entry = _nx(f.create_group("mantid_workspace_1"), "NXentry")
        _string(entry, "title", "focused data")
        _string(entry, "workspace_name", "ws")
        _string(entry, "definition", "Mantid Processed Workspace")
        ws = _nx(entry.create_group("workspace"), "NXdata")
        garbage = np.full((n, width), 1e300)
        y, e = garbage.copy(), garbage.copy()
        for i in range(n):
            y[i, :values[i].size], e[i, :values[i].size] = values[i], errors[i]
        dy = ws.create_dataset("values", data=y)
        dy.attrs.update({"signal": np.int32(1), "axes": np.bytes_("axis2,axis1"), "units": np.bytes_("Counts"),
                         "unit_label": np.bytes_("Counts")})
        ws.create_dataset("errors", data=e)
        if isinstance(x, np.ndarray):
            axis = x
        else:
            axis = np.full((n, max(r.size for r in x)), np.nan)
            for i, row in enumerate(x):
                axis[i, :row.size] = row
        dx = ws.create_dataset("axis1", data=axis)
        dx.attrs["distribution"] = np.bytes_("1" if distribution else "0")
        if units is not None:
            dx.attrs["units"] = np.bytes_(units)
        spectra = list(range(1, n + 1)) if spectra is None else spectra
        d2 = ws.create_dataset("axis2", data=np.asarray(spectra, dtype=np.float64))
        d2.attrs.update({"units": np.bytes_("spectraNumber"), "caption": np.bytes_("Spectrum")})
        inst = _nx(entry.create_group("instrument"), "NXinstrument")
        inst.attrs["version"] = np.int32(1)
        _string(inst, "name", instrument_name)
        if physical is not None:
            phys = _nx(inst.create_group("physical_detectors"), "NXdetector")
            phys.create_dataset("number_of_detectors", data=np.array([physical["detector_number"].size], np.uint64))
            phys.create_dataset("detector_number", data=physical["detector_number"].astype(np.int32))
            phys.create_dataset("azimuthal_angle", data=np.zeros(physical["detector_number"].size))
            for name, unit in (("polar_angle", "degree"), ("distance", "metre")):
                if name in physical:
                    phys.create_dataset(name, data=physical[name]).attrs["units"] = np.bytes_(unit)
        if parameter_map is not None:
            note = _nx(inst.create_group("instrument_parameter_map"), "NXnote")
            _string(note, "data", parameter_map)
        if detectors is not None:
            det = _nx(inst.create_group("detector"), "NXdetector")
            det.attrs["version"] = np.int32(1)
            counts = np.array([d.size for d in detectors], np.int32)
            det.create_dataset("detector_index", data=np.r_[0, np.cumsum(counts)[:-1]].astype(np.int32))
            det.create_dataset("detector_count", data=counts)
            det.create_dataset("detector_list", data=np.concatenate(detectors).astype(np.int32))
            rows = np.zeros((counts.sum(), 3)) if positions is None else positions
            det.create_dataset("detector_positions", data=rows)
            det.create_dataset("spectra", data=np.asarray(spectra, np.int32))
        if logs:
            group = _nx(entry.create_group("logs"), "NXgroup")
            for name, value in logs.items():
                log = _nx(group.create_group(name), "NXlog")
                log.create_dataset("value", data=np.array([value, value]))
                log.create_dataset("time", data=np.array([0.0, 10.0]))
    return path


def column_detectors(n_per_spectrum: int = 4, spread_deg: float = 6.0,
                     ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Detector ids per spectrum and ``physical_detectors`` around each group's 2theta (ids 100 apart)."""
    ids = [np.arange(n_per_spectrum) + 100 * k for k in range(len(TWO_THETA_DEG))]
    offsets = np.linspace(-0.5 * spread_deg, 0.5 * spread_deg, n_per_spectrum)
    polar = np.concatenate([tt + offsets for tt in TWO_THETA_DEG])
    return ids, {"detector_number": np.concatenate(ids), "polar_angle": polar,
                 "distance": np.full(polar.size, L2_M)}


def _spectra(n: int = 3, size: int = 50) -> list[np.ndarray]:
    return [np.arange(size, dtype=float) + 10 * i for i in range(n)]


def test_physical_detectors_give_each_spectrums_angles_and_distances(tmp_path):
    ids, phys = column_detectors()
    edges = log_edges(step=0.01)
    values = [np.ones(edges.size - 1)] * 6
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=edges, values=values, detectors=ids,
                                              physical=phys))
    assert ws.geometry_source == "physical_detectors" and ws.histogram and not ws.distribution
    assert list(ws.spectrum_numbers) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose([t.mean() for t in ws.two_theta_deg], TWO_THETA_DEG)
    np.testing.assert_allclose(ws.l2_m[3], L2_M)
    assert ws.diffcal is None  # only read for TOF


def test_detector_positions_are_spherical_distance_two_theta_phi(tmp_path):
    ids, _ = column_detectors(n_per_spectrum=2)
    rows = np.array([[0.7, tt, 30.0] for tt in np.repeat(TWO_THETA_DEG, 2)])
    edges = log_edges(step=0.01)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=edges, values=[np.ones(edges.size - 1)] * 6,
                                              detectors=ids, positions=rows))
    assert ws.geometry_source == "detector_positions"
    np.testing.assert_allclose([t.mean() for t in ws.two_theta_deg], TWO_THETA_DEG)
    np.testing.assert_allclose(np.concatenate(ws.l2_m), 0.7)


def test_empty_instrument_block_has_no_geometry(tmp_path):
    """CreateWorkspace-like: blank name, one detector per spectrum, zero positions, no physical_detectors."""
    edges = log_edges(step=0.01)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=edges, values=[np.ones(edges.size - 1)] * 3,
                                              detectors=[np.array([i + 1]) for i in range(3)], instrument_name=""))
    assert ws.geometry_source == "none" and ws.instrument_name == ""
    assert not any(ws.has_geometry(i) for i in range(3))


def test_no_detector_group_at_all_falls_back_to_axis2_spectrum_numbers(tmp_path):
    edges = log_edges(step=0.01)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=edges, values=[np.ones(edges.size - 1)] * 2,
                                              spectra=[7, 9]))
    assert list(ws.spectrum_numbers) == [7, 9] and ws.geometry_source == "none"
    assert all(ids.size == 0 for ids in ws.detector_ids)


def test_point_data_keep_their_points(tmp_path):
    points = np.linspace(0.5, 3.0, 40)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=points, values=_spectra(2, 40)))
    assert not ws.histogram
    np.testing.assert_array_equal(ws.x[1], points)
    np.testing.assert_array_equal(ws.values[1], _spectra(2, 40)[1])


def test_2d_axis1_gives_each_spectrum_its_own_bins(tmp_path):
    rows = [np.linspace(0.3 + 0.1 * i, 2.5 + 0.3 * i, 51) for i in range(3)]
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=rows, values=_spectra(3, 50)))
    assert ws.histogram
    for i in range(3):
        np.testing.assert_array_equal(ws.x[i], rows[i])


def test_ragged_rows_are_cut_at_their_nan_padding(tmp_path):
    rows = [np.linspace(0.3, 2.5, 51), np.linspace(0.5, 3.0, 31)]
    values = [np.arange(50.0), np.arange(30.0)]
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=rows, values=values))
    assert [v.size for v in ws.values] == [50, 30] and [x.size for x in ws.x] == [51, 31]
    np.testing.assert_array_equal(ws.values[1], values[1])  # the padding (1e300) is gone
    assert np.all(ws.errors[1] < 1e100)


def test_decreasing_axis_is_turned_round(tmp_path):
    edges = np.linspace(3.0, 0.5, 11)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=edges, values=[np.arange(10.0)]))
    assert ws.x[0][0] == 0.5 and ws.values[0][0] == 9.0


def test_tof_file_reads_the_parameter_maps_diffractometer_constants(tmp_path):
    ids, phys = column_detectors(n_per_spectrum=2)
    pmap = "|".join(["SNAP/West;V3D;pos;[0,0,0]", "detID:0;double;DIFC;6500.5", "detID:0;double;DIFA;0.5",
                     "detID:0;double;TZERO;2;visible:true", "detID:101;double;DIFC;6000"])
    tof = np.linspace(2000.0, 12000.0, 101)
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=tof, values=[np.ones(100)] * 6, units="TOF",
                                              detectors=ids, physical=phys, parameter_map=pmap))
    assert ws.units == "TOF"
    np.testing.assert_array_equal(ws.diffcal[0][0], [6500.5, 0.5, 2.0])
    assert np.isnan(ws.diffcal[0][1, 0])  # detector 1 is not in the map
    np.testing.assert_array_equal(ws.diffcal[1][1], [6000.0, 0.0, 0.0])


def test_wavelength_comes_from_the_logs(tmp_path):
    ws = read_focused_workspace(write_focused(tmp_path / "f.nxs", x=np.linspace(0.5, 3, 11), values=[np.ones(10)],
                                              logs={"LambdaRequest": 2.1}))
    assert ws.wavelength_angstrom == pytest.approx(2.1)


@pytest.mark.parametrize("units", ["Wavelength", "MomentumTransfer", None])
def test_other_units_are_refused_naming_the_unit_and_the_file(tmp_path, units):
    path = write_focused(tmp_path / "w.nxs", x=np.linspace(0.5, 3, 11), values=[np.ones(10)], units=units)
    with pytest.raises(UnsupportedUnitError, match=rf"w\.nxs.*axis1.*{units or 'no unit'}.*ConvertUnits"):
        read_focused_workspace(path)


def test_axis_that_fits_neither_edges_nor_points_names_both_datasets(tmp_path):
    path = write_focused(tmp_path / "bad.nxs", x=np.linspace(0.5, 3, 20), values=[np.ones(10)])
    with pytest.raises(CorruptFileError, match=r"bad\.nxs.*axis1.*values"):
        read_focused_workspace(path)


def test_event_workspace_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "ev.nxs"
    with h5py.File(path, "w") as f:
        _nx(f.create_group("mantid_workspace_1"), "NXentry").create_group("event_workspace")
    with pytest.raises(CorruptFileError, match=r"ev\.nxs.*event_workspace.*PreserveEvents=False"):
        read_focused_workspace(path)

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from snapcal_core.calibrant.reflections import reflections
from snapcal_core.calibrant.samples import calibrant_reflections, load_sample, read_sample_file
from snapcal_core.errors import CalibrantError


def _pattern(refl):
    i = np.array([r.powder_intensity for r in refl])
    return np.array([r.d_angstrom for r in refl]), i / i.max()


def test_real_snapred_silicon_file_matches_ncrystal_silicon(shared_reference):
    sample = read_sample_file(shared_reference / "calibrants" / "Silicon_NIST_640D_001.json")
    assert sample.name == "Silicon_NIST_640D" and sample.crystallography.space_group == "F d -3 m"
    d_ours, i_ours = _pattern(calibrant_reflections(sample, d_min_angstrom=0.7))
    d_std, i_std = _pattern(reflections("stdlib::Si_sg227.ncmat", d_min_angstrom=0.7))
    assert d_ours.size == d_std.size
    np.testing.assert_allclose(d_ours, d_std * 5.43159 / 5.4307, rtol=1e-6)
    np.testing.assert_allclose(i_ours, i_std, atol=0.1)  # Debye-Waller from Uiso vs NCrystal's Debye model


@pytest.mark.parametrize("name,first_d", [("diamond", 2.0593), ("silicon", 3.1359), ("ceria", 3.1241)])
def test_shipped_samples_give_their_reflections(name, first_d):
    refl = calibrant_reflections(load_sample(name))
    assert refl[0].d_angstrom == pytest.approx(first_d, abs=2e-4)
    assert load_sample(name.upper()).name == name


def test_diamond_forbidden_reflections_are_absent():
    d = [r.d_angstrom for r in calibrant_reflections(load_sample("diamond"))]
    a = 3.5668
    assert not any(abs(x - a / np.sqrt(4)) < 1e-4 for x in d)  # (200) is forbidden in Fd-3m
    assert any(abs(x - a / np.sqrt(3)) < 1e-4 for x in d)  # (111) is there


def test_unknown_and_malformed_samples_name_file_and_field(tmp_path, monkeypatch):
    with pytest.raises(CalibrantError, match="unknown calibrant sample 'unobtainium'.*diamond"):
        load_sample("unobtainium")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "crystallography": {"spaceGroup": "F d -3 m", "atoms": [
        {"symbol": "Si", "coordinates": [0, 0, 0]}]}}))
    with pytest.raises(CalibrantError, match=r"bad.json is malformed: field 'crystallography.latticeParameters'"):
        load_sample(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CalibrantError, match="broken.json is not valid JSON"):
        load_sample(broken)
    none = tmp_path / "none.json"
    none.write_text(json.dumps({"name": "x"}))
    with pytest.raises(CalibrantError, match="needs 'crystallography' or 'ncrystalMaterial'"):
        load_sample(none)


def test_samples_home_setting_and_cli(tmp_path, monkeypatch):
    from snapcal_core.cli import _register_all, app

    _register_all()
    home = tmp_path / "samples"
    home.mkdir()
    (home / "mysi.json").write_text(json.dumps({"name": "mysi", "ncrystalMaterial": "stdlib::Si_sg227.ncmat"}))
    monkeypatch.setenv("SNAPCAL_CALIBRANT_HOME", str(home))
    out = CliRunner().invoke(app, ["samples", "list"])
    assert out.exit_code == 0 and "mysi" in out.output
    out = CliRunner().invoke(app, ["samples", "show", "mysi", "--json", "--dmin", "1.0"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["reflections"][0]["hkl"] == [[1, 1, 1]] and all(r["d_angstrom"] >= 1.0 for r in data["reflections"])

import json

import numpy as np
import pytest

from snapcal_core.calibrant.samples import calibrant_reflections, list_samples, load_sample
from snapcal_core.errors import CalibrantError
from snapcal_core.settings import get_settings

SHIPPED = {"diamond": 3.5668, "silicon": 5.43159, "ceria": 5.4111}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_samples_have_their_lattice_and_first_reflection(name):
    sample = load_sample(name.upper())
    a = SHIPPED[name]
    assert sample.name == name and sample.crystallography.lattice_parameters[:3] == (a, a, a)
    refl = calibrant_reflections(sample)
    assert refl[0].hkl == ((1, 1, 1),) and refl[0].d_angstrom == pytest.approx(a / np.sqrt(3), rel=1e-9)
    assert all(0.4 <= r.d_angstrom <= 100 for r in refl)


def test_diamond_has_no_200_but_ceria_does():
    diamond = {r.hkl[0] for r in calibrant_reflections(load_sample("diamond"))}
    ceria = {r.hkl[0] for r in calibrant_reflections(load_sample("ceria"))}
    assert (2, 0, 0) not in diamond and (2, 2, 2) not in diamond and (2, 2, 0) in diamond  # Fd-3m glide extinctions
    assert (2, 0, 0) in ceria and (2, 2, 2) in ceria


def test_bare_ncrystal_material_and_cfg_string_are_samples():
    plain = load_sample("stdlib::C_sg227_Diamond.ncmat")
    assert plain.ncrystal_material == "stdlib::C_sg227_Diamond.ncmat" and plain.source == "NCrystal"
    cold = load_sample("stdlib::C_sg227_Diamond.ncmat;temp=20K")
    warm_f2, cold_f2 = (calibrant_reflections(s, d_min_angstrom=0.5)[-1].f2_barn for s in (plain, cold))
    assert cold_f2 > warm_f2  # less Debye-Waller damping at 20 K


def test_json_sample_may_name_an_ncrystal_material_instead_of_a_structure(tmp_path):
    path = tmp_path / "mysi.json"
    path.write_text(json.dumps({"name": "mysi", "ncrystalMaterial": "stdlib::Si_sg227.ncmat"}))
    refl = calibrant_reflections(load_sample(path))
    assert refl[0].d_angstrom == pytest.approx(5.4307 / np.sqrt(3), rel=1e-6)
    path.write_text(json.dumps({"name": "nope", "ncrystalMaterial": "stdlib::Unobtainium.ncmat"}))
    with pytest.raises(CalibrantError, match=r"sample 'nope' \(.*mysi.json\): NCrystal cannot load"):
        calibrant_reflections(load_sample(path))


def _write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_malformed_samples_name_the_file_and_the_field(tmp_path):
    no_lattice = {"name": "x",
                  "crystallography": {"spaceGroup": "F d -3 m", "atoms": [{"symbol": "Si", "coordinates": [0, 0, 0]}]}}
    with pytest.raises(CalibrantError, match=r"bad.json is malformed: field 'crystallography.latticeParameters': Field required"):
        load_sample(_write(tmp_path / "bad.json", no_lattice))
    bad_adp = {"name": "x", "crystallography": {"spaceGroup": "F d -3 m", "latticeParameters": [5.4] * 3 + [90] * 3,
                                                "atoms": [{"symbol": "Si", "coordinates": [0, 0, 0], "adp": -1}]}}
    with pytest.raises(CalibrantError, match=r"field 'crystallography.atoms.0.adp'"):
        load_sample(_write(tmp_path / "adp.json", bad_adp))
    with pytest.raises(CalibrantError, match="broken.json is not valid JSON"):
        load_sample(str(_write(tmp_path / "broken.json", "{not json")))
    with pytest.raises(CalibrantError, match="list.json is malformed: expected a JSON object"):
        load_sample(_write(tmp_path / "list.json", "[1, 2]"))
    with pytest.raises(CalibrantError, match="needs 'crystallography' or 'ncrystalMaterial'"):
        load_sample(_write(tmp_path / "none.json", {"name": "x"}))
    with pytest.raises(CalibrantError, match="cannot read calibrant sample .*absent.json"):
        load_sample(tmp_path / "absent.json")


def test_unknown_name_lists_the_known_samples():
    with pytest.raises(CalibrantError, match=r"unknown calibrant sample 'unobtainium' .*ceria, diamond, silicon"):
        load_sample("unobtainium")


def test_samples_home_comes_from_settings_and_lists_unusable_files(tmp_path, monkeypatch):
    assert [s.name for s in list_samples()] == ["ceria", "diamond", "silicon"]
    _write(tmp_path / "MySi.json", {"name": "mysi", "ncrystalMaterial": "stdlib::Si_sg227.ncmat"})
    _write(tmp_path / "broken.json", "{")
    listed = {s.name: s for s in list_samples(get_settings(calibrant_home=tmp_path))}
    assert set(listed) == {"mysi", "broken"}
    assert listed["mysi"].ncrystal_material == "stdlib::Si_sg227.ncmat" and not listed["mysi"].problem
    assert "not valid JSON" in listed["broken"].problem
    monkeypatch.setenv("SNAPCAL_CALIBRANT_HOME", str(tmp_path))
    assert load_sample("mysi").name == "mysi" and load_sample("MYSI").source == str(tmp_path / "MySi.json")
    with pytest.raises(CalibrantError, match="unknown calibrant sample 'diamond'.*broken, mysi"):
        load_sample("diamond")

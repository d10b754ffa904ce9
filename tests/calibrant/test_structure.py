import NCrystal as NC
import numpy as np
import pytest

from snapcal_core.calibrant.models import Crystallography
from snapcal_core.calibrant.reflections import reflections
from snapcal_core.calibrant.samples import calibrant_reflections, load_sample, read_sample_file
from snapcal_core.calibrant.structure import compose_material, orbit, registered_material, space_group
from snapcal_core.errors import CalibrantError

SI_NCRYSTAL_A = 5.4307  # lattice parameter of stdlib::Si_sg227.ncmat
SI_640D_A = 5.43159


def _static_pattern(refl, msd_angstrom2):
    """d and F^2 m with the Debye-Waller factor exp(-msd q^2) divided out, normalised to the first."""
    d = np.array([r.d_angstrom for r in refl])
    f2m = np.array([r.f2_barn * r.multiplicity for r in refl]) * np.exp((2 * np.pi / d) ** 2 * msd_angstrom2)
    return d, f2m / f2m[0]


def test_real_snapred_silicon_file_gives_ncrystal_silicon_reflections(shared_reference):
    sample = read_sample_file(shared_reference / "calibrants" / "Silicon_NIST_640D_001.json")
    assert sample.name == "Silicon_NIST_640D" and sample.crystallography.space_group == "F d -3 m"
    assert sample.crystallography.atoms[0].adp == 0.01
    ours = calibrant_reflections(sample, d_min_angstrom=0.5)
    std = reflections("stdlib::Si_sg227.ncmat", d_min_angstrom=0.5)
    msd_std = NC.createInfo("stdlib::Si_sg227.ncmat").atominfos[0].msd
    d_ours, i_ours = _static_pattern(ours, 0.01)
    d_std, i_std = _static_pattern(std, msd_std)
    assert [r.hkl for r in ours] == [r.hkl for r in std] and len(ours) == 28
    np.testing.assert_allclose(d_ours, d_std * SI_640D_A / SI_NCRYSTAL_A, rtol=1e-6)
    np.testing.assert_allclose(i_ours, i_std, rtol=1e-4)  # same structure factors once the DW factors are removed
    assert [r.multiplicity for r in ours] == [r.multiplicity for r in std]


def test_adp_becomes_the_mean_squared_displacement_at_room_temperature(shared_reference):
    sample = read_sample_file(shared_reference / "calibrants" / "Silicon_NIST_640D_001.json")
    info = NC.createInfo(registered_material(sample.crystallography))
    assert info.getTemperature() == pytest.approx(293.15)
    assert info.atominfos[0].msd == pytest.approx(0.01, rel=1e-5)
    assert info.getStructureInfo()["n_atoms"] == 8 and info.getStructureInfo()["spacegroup"] == 227


def test_bare_fd3m_means_origin_choice_1_like_mantid():
    assert space_group("F d -3 m").xhm() == "F d -3 m:1"
    assert space_group("Fd-3m :2").xhm() == "F d -3 m:2"
    sites = orbit(sg=space_group("F d -3 m"), xyz=(0.0, 0.0, 0.0))
    assert len(sites) == 8 and any(np.allclose(p, 0.25) for p in sites)  # diamond: 8a = fcc + (1/4,1/4,1/4)


def test_orbits_have_the_wyckoff_multiplicity():
    fm3m = space_group("F m -3 m")
    assert len(orbit(sg=fm3m, xyz=(0.0, 0.0, 0.0))) == 4  # 4a
    assert len(orbit(sg=fm3m, xyz=(0.25, 0.25, 0.25))) == 8  # 8c
    assert len(orbit(sg=fm3m, xyz=(0.11, 0.23, 0.37))) == 192  # general position 192l
    assert np.all((orbit(sg=fm3m, xyz=(-0.25, 1.25, 0.75)) >= 0) & (orbit(sg=fm3m, xyz=(-0.25, 1.25, 0.75)) < 1))


def test_sites_of_one_element_with_different_uiso_keep_their_own_displacements():
    cr = Crystallography(spaceGroup="F m -3 m", latticeParameters=[5.0, 5.0, 5.0, 90, 90, 90], atoms=[
        {"symbol": "O", "coordinates": [0, 0, 0], "adp": 0.006}, {"symbol": "O", "coordinates": [0.5, 0.5, 0.5], "adp": 0.004}])
    text = compose_material(cr).create_ncmat()
    assert "msd=0.006" in text and "msd=0.004" in text and text.count(" is O") == 2


def test_ceria_charge_suffix_is_read_as_the_element():
    ceria = load_sample("ceria").crystallography
    charged = ceria.model_copy(update={"atoms": [ceria.atoms[0].model_copy(update={"symbol": "Ce4+"}), ceria.atoms[1]]})
    assert "Ce 0 0 0" in compose_material(charged).create_ncmat()


def test_unknown_space_group_and_inconsistent_structure_are_calibrant_errors():
    with pytest.raises(CalibrantError, match="unknown space group 'Q 9 9'"):
        registered_material(Crystallography(spaceGroup="Q 9 9", latticeParameters=[4, 4, 4, 90, 90, 90],
                                            atoms=[{"symbol": "Si", "coordinates": [0, 0, 0]}]))
    with pytest.raises(CalibrantError, match="NCrystal cannot build a crystal from space group 'F m -3 m'"):
        registered_material(Crystallography(spaceGroup="F m -3 m", latticeParameters=[4, 5, 6, 90, 90, 90],
                                            atoms=[{"symbol": "Si", "coordinates": [0, 0, 0]}]))

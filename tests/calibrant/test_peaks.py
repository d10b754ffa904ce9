import numpy as np
import pytest

from snapcal_core.calibrant.peaks import PeakSettings, peak_window, predicted_peaks, predicted_peaks_for_groups
from snapcal_core.calibrant.reflections import Reflection
from snapcal_core.calibrant.samples import calibrant_reflections, load_sample
from snapcal_core.constants import REFERENCE_ARC_DEG, REFERENCE_LIN_M, REFERENCE_WAVELENGTH_ANGSTROM
from snapcal_core.errors import PeakListError
from snapcal_core.instrument.types import GroupParameters

GROUP = GroupParameters(group_id=3, n_pixels=10, two_theta_rad=np.deg2rad(90.0), two_theta_deg=90.0, l2_m=0.5,
                        delta_d_over_d=0.004, d_min_angstrom=0.5, d_max_angstrom=3.0, difc_us_per_angstrom=5500.0)


def refl(d, f2=10.0, m=8, hkl=(1, 1, 1)):
    return Reflection(d_angstrom=d, f2_barn=f2, multiplicity=m, hkl=(hkl,))


def test_window_of_one_reflection_matches_hand_computation():
    # d = 1 A, 2theta = 90 deg, L = 15 + 0.5 m, dd/d = 0.004:
    # fwhm = 2.35482 * 0.5 * 0.004 = 0.00470964; beta_T = 0.02 + 0.05 = 0.07 /us;
    # beta_d = 505.5568 * 15.5 * sin(45 deg) * 0.07 = 387.8687 /A; 2 / beta_d = 0.0051564 A
    fwhm, lo, hi = peak_window(d_angstrom=1.0, group=GROUP, left=1.5, right=1.5)
    assert fwhm == pytest.approx(0.00470964, rel=1e-12)
    assert lo == pytest.approx(0.99293554, rel=1e-12)
    assert hi == pytest.approx(1.0 + 0.00706446 + 0.0051564, abs=2e-7)


def test_window_tail_shrinks_with_d_and_multipliers_scale_the_gaussian_part():
    _, _, hi_small = peak_window(d_angstrom=0.6, group=GROUP, left=1.5, right=1.5)
    fwhm, lo, hi = peak_window(d_angstrom=0.6, group=GROUP, left=3.0, right=1.5)
    assert hi == hi_small and lo == pytest.approx(0.6 - 3.0 * fwhm)
    # beta_T = 0.02 + 0.05/d^4 grows fast at small d: the tail 2/beta_d is then far shorter than at 2 A
    tail = {d: peak_window(d_angstrom=d, group=GROUP, left=0, right=0)[2] - d for d in (0.6, 2.0)}
    assert tail[0.6] < 0.2 * tail[2.0]


def test_overlapping_pair_is_dropped_both_and_neighbours_kept():
    peaks = predicted_peaks(reflections=[refl(2.0), refl(1.5), refl(1.501), refl(1.2)], group=GROUP)
    assert [p.d_angstrom for p in peaks.peaks] == [1.2, 2.0]


def test_weak_peaks_are_dropped_relative_to_the_strongest_reachable_one():
    strongest = 10.0 * 8 * 2.0**4  # F^2 m d^4 of the 2 A reflection, the largest in range
    at = lambda d, fraction: refl(d, f2=fraction * 0.05 * strongest / (8 * d**4))  # noqa: E731
    peaks = predicted_peaks(reflections=[refl(2.0), refl(1.2), at(1.0, 0.99), at(0.9, 1.01)], group=GROUP)
    assert [p.d_angstrom for p in peaks.peaks] == [0.9, 1.2, 2.0]  # 1.0 is just below 5 % of the strongest
    # a huge reflection the group cannot reach (window beyond d_max = 3 A) does not make the others weak
    peaks = predicted_peaks(reflections=[refl(2.99, f2=1e6), refl(2.0), refl(1.2)], group=GROUP)
    assert [p.d_angstrom for p in peaks.peaks] == [1.2, 2.0]
    assert peaks.peaks[1].intensity == pytest.approx(10 * 8 * 2.0**4)


def test_peaks_whose_window_leaves_the_group_or_crystal_range_are_dropped():
    reflections = [refl(2.99), refl(2.0), refl(1.0, f2=160.0), refl(0.501), refl(0.7, f2=400.0)]
    peaks = predicted_peaks(reflections=reflections, group=GROUP)
    assert [p.d_angstrom for p in peaks.peaks] == [0.7, 1.0, 2.0]  # 2.99 and 0.501: window crosses 3.0 / 0.5
    assert all(GROUP.d_min_angstrom <= p.d_min_angstrom and p.d_max_angstrom <= GROUP.d_max_angstrom for p in peaks.peaks)
    narrow = predicted_peaks(reflections=reflections, group=GROUP, settings=PeakSettings(crystal_d_min_angstrom=0.8))
    assert [p.d_angstrom for p in narrow.peaks] == [1.0, 2.0]


def test_too_few_peaks_names_the_group_and_why_each_was_dropped():
    with pytest.raises(PeakListError) as err:
        predicted_peaks(reflections=[refl(2.0), refl(5.0), refl(1.5), refl(1.501), refl(1.0, f2=0.01)], group=GROUP)
    message = str(err.value)
    assert message.startswith("group 3: only 1 predicted peak(s) left of 5 reflection(s) (need 2)")
    assert "1 outside crystal d [0.4, 100] or window outside the group's d [0.5000, 3.0000]: 5.0000" in message
    assert "1 weak (F^2 m d^4 < 0.05 x strongest in range): 1.0000" in message
    assert "2 overlapping windows: 1.5010, 1.5000" in message
    with pytest.raises(PeakListError, match="need 3"):
        predicted_peaks(reflections=[refl(2.0), refl(1.0)], group=GROUP, settings=PeakSettings(min_peaks=3))


def _column_groups() -> list[GroupParameters]:
    """Lite Column groups of the reference state (arc -65.3/104.95 deg, 2.1 A)."""
    from snapcal_core.instrument.geometry import snap_geometry
    from snapcal_core.instrument.groupings import builtin_grouping
    from snapcal_core.instrument.parameters import group_parameters

    geometry = snap_geometry(arc_deg=REFERENCE_ARC_DEG, lin_m=REFERENCE_LIN_M, lite=True)
    return group_parameters(geometry=geometry, grouping=builtin_grouping("Column", lite=True),
                            wavelength_angstrom=REFERENCE_WAVELENGTH_ANGSTROM)


def test_diamond_in_reference_column_groups_keeps_its_strong_separated_peaks():
    groups = _column_groups()
    lists = predicted_peaks_for_groups(reflections=calibrant_reflections(load_sample("diamond")), groups=groups)
    assert [pl.group_id for pl in lists] == [g.group_id for g in groups] == [1, 2, 3, 4, 5, 6]
    for group, pl in zip(groups, lists):
        hkl = [p.hkl[0] for p in pl.peaks]
        assert 3 <= len(pl.peaks) <= 12, (group.group_id, hkl)
        assert (2, 2, 0) in hkl and (3, 1, 1) in hkl  # diamond's strongest, reachable by every column
        reachable_111 = 2.0593 * (1 + 1.5 * 1.17741 * group.delta_d_over_d) + 0.02 < group.d_max_angstrom
        assert ((1, 1, 1) in hkl) == reachable_111, group.group_id
        d = [p.d_angstrom for p in pl.peaks]
        assert d == sorted(d)
        assert all(a.d_max_angstrom <= b.d_min_angstrom for a, b in zip(pl.peaks, pl.peaks[1:]))
        assert all(group.d_min_angstrom <= p.d_min_angstrom and p.d_max_angstrom <= group.d_max_angstrom for p in pl.peaks)
    # backscattering column 1 reaches d down to 0.39 A and sees the most peaks; the 50-degree column the fewest
    assert len(lists[0].peaks) == max(len(pl.peaks) for pl in lists)
    assert [p.hkl[0] for p in lists[5].peaks] == [(3, 1, 1), (2, 2, 0), (1, 1, 1)]

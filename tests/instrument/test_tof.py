"""TOF <-> d with DIFC, DIFA, TZERO: round trips, and the numba and numpy forms agree bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapcal_core.instrument.tof import d_from_tof, d_from_tof_scalar, tof_from_d_scalar


@settings(max_examples=200, deadline=None)
@given(d=st.floats(0.2, 10.0), difc=st.floats(1000.0, 20000.0), difa=st.floats(-5.0, 5.0), tzero=st.floats(-50, 50))
def test_d_to_tof_to_d_round_trip(d, difc, difa, tzero):
    tof = tof_from_d_scalar(d, difc, difa, tzero)
    assert d_from_tof(tof_us=tof, difc=difc, difa=difa, tzero=tzero) == pytest.approx(d, rel=1e-9)
    assert d_from_tof_scalar(tof, difc, difa, tzero) == pytest.approx(d, rel=1e-9)
    without_difa = tof_from_d_scalar(d, difc, 0.0, tzero)
    assert d_from_tof(tof_us=without_difa, difc=difc, tzero=tzero) == pytest.approx(d, rel=1e-12)


def test_negative_discriminant_gives_nan():
    assert np.isnan(d_from_tof(tof_us=10000.0, difc=1000.0, difa=-100.0))
    assert np.isnan(d_from_tof_scalar(10000.0, 1000.0, -100.0, 0.0))


def test_numba_and_numpy_inverse_are_bit_identical():
    """The kernels (scalar) and the assessment (arrays) convert with the same expression; DIFA = 0
    takes the scalar's shortcut ``t / DIFC``, which the array form gives exactly (0.5 DIFC 2 = DIFC)."""
    rng = np.random.default_rng(16)
    n = 20_000
    tof = rng.uniform(500.0, 20_000.0, n)
    difc = rng.uniform(1000.0, 20_000.0, n)
    difa = np.where(rng.random(n) < 0.3, 0.0, rng.normal(0.0, 50.0, n))  # some with s < 0
    tzero = rng.normal(0.0, 20.0, n)
    scalar = np.array([d_from_tof_scalar(*args) for args in zip(tof, difc, difa, tzero)])
    vector = d_from_tof(tof_us=tof, difc=difc, difa=difa, tzero=tzero)
    assert np.isnan(scalar).any() and (difa == 0).any()
    np.testing.assert_array_equal(vector, scalar)


def test_forward_conversion_is_the_simulators_former_expression():
    """``DIFC d + DIFA d^2 + TZERO`` as the simulator wrote it before (``DIFA d d + DIFC d + TZERO``)."""
    rng = np.random.default_rng(17)
    for d, difc, difa, tzero in rng.uniform([0.3, 1000.0, -5.0, -50.0], [5.0, 20_000.0, 5.0, 50.0], (2000, 4)):
        assert tof_from_d_scalar(d, difc, difa, tzero) == difa * d * d + difc * d + tzero

import numpy as np
import pytest
from scipy.integrate import quad

from snapcal_core.recipe.profiles import back_to_back, back_to_back_mixture, gaussian


def numeric_jacobian(fn, x, p, rel=1e-6):
    cols = []
    for k in range(len(p)):
        h = rel * max(abs(p[k]), 1e-3 if k < len(p) - 2 else 1.0)  # background terms are linear
        up, dn = p.copy(), p.copy()
        up[k] += h
        dn[k] -= h
        cols.append((fn(x, up)[0] - fn(x, dn)[0]) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("p", [
    [100.0, 5000.0, 0.05, 0.02, 8.0, 3.0, 0.01],      # typical TOF peak
    [50.0, 5000.0, 2.0, 0.01, 2.0, 0.0, 0.0],         # sharp rise, long tail
    [10.0, 5000.0, 0.5, 0.5, 30.0, 1.0, -0.002],      # Gaussian dominated (large S)
    [10.0, 1.0, 5000.0, 300.0, 0.003, 0.0, 0.0],      # in d units: huge A, B, tiny S
])
def test_b2b_jacobian_matches_finite_differences(p):
    p = np.array(p)
    x = np.linspace(p[1] - 8 * p[4] - 5 / p[3], p[1] + 8 * p[4] + 10 / p[3], 401)
    f, jac = back_to_back(x, p)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(jac))
    num = numeric_jacobian(back_to_back, x, p)
    scale = np.abs(num).max(axis=0) + 1e-12
    assert np.max(np.abs(jac - num) / scale) < 1e-5


def test_gaussian_jacobian_matches_finite_differences():
    p = np.array([20.0, 3.0, 0.2, 1.0, 0.5])
    x = np.linspace(2, 4, 200)
    _, jac = gaussian(x, p)
    num = numeric_jacobian(gaussian, x, p)
    assert np.max(np.abs(jac - num)) < 1e-6 * np.abs(num).max()


def test_b2b_area_is_intensity_and_far_tails_are_zero():
    p = np.array([123.0, 0.0, 0.3, 0.05, 4.0, 0.0, 0.0])
    area, _ = quad(lambda t: back_to_back(np.array([t]), p)[0][0], -300, 600, limit=400)
    assert area == pytest.approx(123.0, rel=1e-6)
    f, _ = back_to_back(np.array([-1e4, 1e5]), p)
    assert np.all(f < 1e-12)


def test_b2b_mixture_jacobian_and_single_component():
    p = np.array([100.0, 5000.0, 0.16, 0.02, 20.0, 3.0, 0.01])
    x = np.linspace(4850.0, 5400.0, 300)
    mix = dict(weights=np.array([0.2, 0.5, 0.3]), rate_scale=np.array([0.85, 1.0, 1.2]), width_scale=np.array([1.15, 1.0, 0.9]))
    fn = lambda xx, pp: back_to_back_mixture(xx, pp, **mix)  # noqa: E731
    f, jac = fn(x, p)
    num = numeric_jacobian(fn, x, p)
    assert np.max(np.abs(jac - num) / (np.abs(num).max(axis=0) + 1e-12)) < 1e-5
    one = back_to_back_mixture(x, p, weights=np.ones(1), rate_scale=np.ones(1), width_scale=np.ones(1))
    assert np.allclose(one[0], back_to_back(x, p)[0]) and np.allclose(one[1], back_to_back(x, p)[1])

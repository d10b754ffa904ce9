"""Peak profiles with analytic derivatives: Gaussian and back-to-back exponential (x) Gaussian.

Both carry a linear background ``b0 + b1 (x - x0)``. Parameter vectors:
Gaussian ``(height, x0, sigma, b0, b1)``; B2B ``(intensity, x0, alpha, beta, sigma, b0, b1)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, erfcx

SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
SQRT2 = np.sqrt(2.0)


def gaussian(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Value and Jacobian (n, 5) of :math:`h \exp(-(x-x_0)^2 / 2\sigma^2) + b_0 + b_1 (x - x_0)`."""
    h, x0, s, b0, b1 = p
    dx = x - x0
    g = np.exp(-0.5 * (dx / s) ** 2)
    f = h * g + b0 + b1 * dx
    jac = np.stack([g, h * g * dx / s**2 - b1, h * g * dx**2 / s**3, np.ones_like(x), dx], axis=1)
    return f, jac


def _exp_erfc(u: np.ndarray, v: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``exp(u) erfc(v)`` computed stably; uses ``u = v^2 - dx^2/2s^2`` so that for v > 0 it is
    ``erfcx(v) * g`` with ``g = exp(-dx^2/2s^2)``."""
    vp = np.maximum(v, 0.0)
    un = np.minimum(u, 700.0)
    out: np.ndarray = np.where(v > 0, erfcx(vp) * g, np.exp(un) * erfc(v))
    return out


def back_to_back(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Mantid's BackToBackExponential (exponentials convolved with a Gaussian) + linear background.

    .. math::
        f = I \frac{AB}{2(A+B)} \Big[e^{\frac A2 (A S^2 + 2\Delta)}
            \operatorname{erfc}\Big(\frac{A S^2 + \Delta}{\sqrt2 S}\Big)
          + e^{\frac B2 (B S^2 - 2\Delta)}
            \operatorname{erfc}\Big(\frac{B S^2 - \Delta}{\sqrt2 S}\Big)\Big],\quad \Delta = x - x_0

    ``A`` is the rise and ``B`` the decay rate (per x unit), ``S`` the Gaussian sigma, ``I`` the
    area. Returns the value and the analytic Jacobian (n, 7).
    """
    i, x0, a, b, s, b0, b1 = p
    dx = x - x0
    g = np.exp(-0.5 * (dx / s) ** 2)
    t1 = _exp_erfc(0.5 * a * (a * s * s + 2 * dx), (a * s * s + dx) / (SQRT2 * s), g)
    t2 = _exp_erfc(0.5 * b * (b * s * s - 2 * dx), (b * s * s - dx) / (SQRT2 * s), g)
    norm = a * b / (2 * (a + b))
    f = i * norm * (t1 + t2) + b0 + b1 * dx
    d_dx = a * t1 - b * t2  # the Gaussian-derivative terms of t1 and t2 cancel
    d_a = (a * s * s + dx) * t1 - SQRT_2_OVER_PI * s * g
    d_b = (b * s * s - dx) * t2 - SQRT_2_OVER_PI * s * g
    d_s = a * a * s * t1 + b * b * s * t2 - SQRT_2_OVER_PI * g * (a + b)
    dn_a = b * b / (2 * (a + b) ** 2)
    dn_b = a * a / (2 * (a + b) ** 2)
    jac = np.stack([
        norm * (t1 + t2),
        -i * norm * d_dx - b1,
        i * (dn_a * (t1 + t2) + norm * d_a),
        i * (dn_b * (t1 + t2) + norm * d_b),
        i * norm * d_s,
        np.ones_like(x),
        dx,
    ], axis=1)
    return f, jac


def back_to_back_mixture(x: np.ndarray, p: np.ndarray, *, weights: np.ndarray, rate_scale: np.ndarray,
                         width_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""A sum of back-to-back exponentials with one onset: :math:`\sum_q w_q f(x; I, x_0, r_q A, r_q B, s_q S)`.

    The pixels of a focused peak (recipe/mixture.py): component ``q`` holds the fraction ``w_q``
    (the weights sum to 1, so the linear background is counted once) with rates scaled by ``r_q``
    and Gaussian sigma by ``s_q``. Same parameters and Jacobian columns as :func:`back_to_back`.
    """
    f = np.zeros(x.shape[0])
    jac = np.zeros((x.shape[0], 7))
    q = np.array(p, dtype=np.float64)
    for w, r, s in zip(weights, rate_scale, width_scale):
        q[2], q[3], q[4] = p[2] * r, p[3] * r, p[4] * s
        fk, jk = back_to_back(x, q)
        f += w * fk
        jk[:, 2:4] *= r
        jk[:, 4] *= s
        jac += w * jk
    return f, jac

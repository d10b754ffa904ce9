import numpy as np

from snapcal_core.io.diffcal import DiffCalTable
from snapcal_core.recipe.focus import counts_per_pixel, focus_events, log_d_edges


def _events(rng, n_pixels=40, n=20000):
    pixel = rng.integers(0, n_pixels, n).astype(np.uint32)
    difc = rng.uniform(4000, 6000, n_pixels)
    d = rng.uniform(0.5, 3.0, n)
    return pixel, (difc[pixel] * d + 7.0).astype(np.float32), difc, d


def test_focus_matches_numpy_histogram_per_group():
    rng = np.random.default_rng(3)
    pixel, tof, difc, _ = _events(rng)
    group = (np.arange(40) // 10 + 1).astype(np.int32)
    group[5] = 0
    table = DiffCalTable.from_difc(difc)
    table.tzero[:] = 7.0
    table.use[7] = 0
    edges = log_d_edges(d_min_angstrom=0.4, d_max_angstrom=4.0, log_step=-1e-3)
    focused = focus_events(pixel=pixel, tof_us=tof, group_of_pixel=group, table=table, d_edges_angstrom=edges)
    d = (tof.astype(np.float64) - 7.0) / difc[pixel]
    for g in (1, 2, 3, 4):
        sel = (group[pixel] == g) & (table.use[pixel] > 0)
        expected, _ = np.histogram(d[sel], bins=edges)
        np.testing.assert_allclose(focused.spectrum(g), expected, atol=0.5)
    assert focused.counts.sum() == np.count_nonzero((group[pixel] > 0) & (table.use[pixel] > 0))


def test_log_edges_have_constant_relative_step():
    edges = log_d_edges(d_min_angstrom=0.5, d_max_angstrom=2.0, log_step=-2e-3)
    np.testing.assert_allclose(edges[1:] / edges[:-1], 1.002)
    assert edges[0] == 0.5 and edges[-1] >= 2.0


def test_counts_per_pixel_is_bincount_without_out_of_range_ids():
    pixel = np.random.default_rng(3).integers(0, 120, 50_000).astype(np.uint32)
    assert np.array_equal(counts_per_pixel(pixel, 120), np.bincount(pixel, minlength=120))
    assert np.array_equal(counts_per_pixel(pixel, 100), np.bincount(pixel[pixel < 100], minlength=100))

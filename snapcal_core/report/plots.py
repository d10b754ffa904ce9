"""PNG plots of a calibration: focused spectra with fits, DIFC change on the detector, strain vs 2theta."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from snapcal_core.constants import N_PANELS  # noqa: E402
from snapcal_core.data.screen import MaskReason  # noqa: E402
from snapcal_core.recipe.result_io import ResultSummary, read_focused  # noqa: E402

#: Panel k -> (row, column) in a detector picture: columns 1..6 left to right, rows bottom-up.
_PANEL_CELL = {k: (2 - k % 3, k // 3) for k in range(N_PANELS)}


def focused_spectra_png(summary: ResultSummary, path: Path) -> Path:
    """One panel per group: focused counts vs d, fit windows shaded, fitted centres marked."""
    group_ids, edges, counts = read_focused(Path(summary.folder))
    centres = np.sqrt(edges[1:] * edges[:-1])
    n = len(group_ids)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.0 * n), squeeze=False)
    for ax, gid, y in zip(axes[:, 0], group_ids, counts):
        g = next(s for s in summary.groups if s.group_id == gid)
        ax.plot(centres, y, lw=0.6, color="k")
        for f in g.fits_d:
            ax.axvspan(*f.window, color="tab:green" if f.accepted else "tab:red", alpha=0.15)
            if f.accepted:
                ax.axvline(f.centre, color="tab:blue", lw=0.6)
        ax.set_xlim(min(f.window[0] for f in g.fits_d) * 0.95, max(f.window[1] for f in g.fits_d) * 1.05)
        ax.set_ylabel(f"group {gid}")
    axes[-1, 0].set_xlabel("d (angstrom)")
    fig.suptitle(f"run {summary.run_number}: focused spectra, fit windows (green accepted, red rejected)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def detector_image(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-pixel values as a picture of the 18 panels (columns 1-6 left to right, rows bottom-up), and the panel side."""
    side = int(round(np.sqrt(values.size // N_PANELS)))
    image = np.full((3 * side, 6 * side), np.nan)
    for k in range(N_PANELS):
        r, c = _PANEL_CELL[k]
        block = values[k * side * side:(k + 1) * side * side].reshape(side, side)  # [ix, iy]
        image[r * side:(r + 1) * side, c * side:(c + 1) * side] = block.T[::-1]
    return image, side


#: Colour of each mask reason (a pixel in use: light grey).
_REASON_COLOURS = {MaskReason.NONE: "#f2f2f2", MaskReason.DEAD: "black", MaskReason.HOT: "tab:red",
                   MaskReason.NOISY: "tab:orange", MaskReason.FAILED_FIT: "tab:purple", MaskReason.USER: "tab:blue",
                   MaskReason.LOW_COUNTS: "tab:gray"}


def _max_pooled(image: np.ndarray, side: int, *, max_width: int = 768) -> tuple[np.ndarray, int]:
    """A native-size image (1536 pixels wide) shrunk by the largest value in each block, so that a
    single masked pixel or a one-pixel dead tube stays visible at the figure's resolution."""
    f = max(1, int(np.ceil(image.shape[1] / max_width)))
    while side % f:
        f -= 1
    if f == 1:
        return image, side
    rows, cols = image.shape[0] // f, image.shape[1] // f
    pooled = np.fmax.reduce(np.fmax.reduce(image.reshape(rows, f, cols, f), axis=3), axis=1)
    return pooled, side // f


def mask_png(reason: np.ndarray, path: Path, *, title: str) -> Path:
    """Every pixel's mask reason as a picture of the detector, one colour per reason."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    image, side = detector_image(reason.astype(np.float64))
    image, side = _max_pooled(image, side)
    colours = [_REASON_COLOURS[r] for r in MaskReason]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.imshow(image, cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5, interpolation="nearest")
    ax.set_xticks([(c + 0.5) * side for c in range(6)], [f"column {c + 1}" for c in range(6)])
    ax.set_yticks([])
    counts = np.bincount(reason.astype(np.int64), minlength=len(MaskReason))
    labels = {r: "used" if r is MaskReason.NONE else r.name.lower().replace("_", " ") for r in MaskReason}
    ax.legend(handles=[Patch(color=_REASON_COLOURS[r], label=f"{labels[r]} ({counts[r]:,})") for r in MaskReason
                       if r is MaskReason.NONE or counts[r]],
              loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=6, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def difc_change_png(new_difc: np.ndarray, old_difc: np.ndarray, use: np.ndarray, path: Path, *, title: str) -> Path:
    """DIFC change (ppm) of every pixel as a picture of the detector (18 panels)."""
    change = np.where((use > 0) & (old_difc > 0), (new_difc / np.where(old_difc > 0, old_difc, 1) - 1) * 1e6, np.nan)
    image, side = detector_image(change)
    lim = np.nanpercentile(np.abs(image), 99) if np.isfinite(image).any() else 1.0
    fig, ax = plt.subplots(figsize=(10, 5))
    im = ax.imshow(image, cmap="coolwarm", vmin=-lim, vmax=lim)
    ax.set_xticks([(c + 0.5) * side for c in range(6)], [f"column {c + 1}" for c in range(6)])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, label="DIFC change (ppm)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def strain_png(summary: ResultSummary, path: Path) -> Path:
    """Relative strain (ppm) of every accepted peak against two-theta of its group."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for g in summary.groups:
        ok = [f for f in g.fits_d if f.accepted]
        ax.scatter([g.two_theta_deg] * len(ok), [(f.centre / f.d_ref_angstrom - 1) * 1e6 for f in ok], s=12,
                   label=f"group {g.group_id}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("two-theta (deg)")
    ax.set_ylabel("(d_fit - d_ref)/d_ref (ppm)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def data_url(path: Path) -> str:
    """A ``data:image/png;base64,...`` URL (renders offline in the Prefect UI)."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()

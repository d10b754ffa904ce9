"""Pixel groupings: built-in Column, Bank, All (native and Lite) and Mantid grouping files.

Files: Mantid diffcal-layout HDF5 (``/calibration/detid`` + ``group``) and Mantid grouping XML
(``<detector-grouping><group ID="1"><detids>0-196607</detids></group>...``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from snapcal_core.constants import LITE_PIXELS_PER_PANEL, N_LITE_PIXELS, N_NATIVE_PIXELS, N_PANELS, PIXELS_PER_PANEL
from snapcal_core.errors import CorruptFileError, GroupingError
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal

#: Group of each of the 18 panels, per built-in grouping (SCIENCE.md "Standard groupings").
PANEL_GROUPS: dict[str, tuple[int, ...]] = {
    "Column": (1, 1, 1, 2, 2, 2, 3, 3, 3, 6, 6, 6, 5, 5, 5, 4, 4, 4),
    "Bank": (1,) * 9 + (2,) * 9,
    "All": (1,) * N_PANELS,
}


def builtin_grouping(name: str, *, lite: bool) -> Grouping:
    """Column, Bank or All (case-insensitive) for native or Lite pixels."""
    key = {k.lower(): k for k in PANEL_GROUPS}.get(name.lower())
    if key is None:
        raise GroupingError(f"unknown grouping {name!r}; built-in: {', '.join(PANEL_GROUPS)} (or a grouping file)")
    per_panel = LITE_PIXELS_PER_PANEL if lite else PIXELS_PER_PANEL
    groups = np.repeat(np.array(PANEL_GROUPS[key], dtype=np.int32), per_panel)
    return Grouping(name=key, lite=lite, group_of_pixel=groups)


def _lite_from_size(n: int, path: Path) -> bool:
    if n == N_NATIVE_PIXELS:
        return False
    if n == N_LITE_PIXELS:
        return True
    raise GroupingError(f"{path}: {n} pixels fit neither native ({N_NATIVE_PIXELS}) nor Lite ({N_LITE_PIXELS}) SNAP")


def _parse_detids(text: str, path: Path) -> np.ndarray:
    ids: list[np.ndarray] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                ids.append(np.arange(lo, hi + 1))
            else:
                ids.append(np.array([int(part)]))
        except ValueError:
            raise GroupingError(f"{path}: malformed detector ids {part!r}") from None
    return np.concatenate(ids) if ids else np.zeros(0, np.int64)


def _read_xml(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise GroupingError(f"{path}: malformed grouping XML: {exc}") from exc
    detids, groups = [], []
    for group in root.iter("group"):
        try:
            gid = int(group.attrib["ID"])
        except (KeyError, ValueError):
            raise GroupingError(f"{path}: a <group> without an integer ID attribute") from None
        for node in group.iter("detids"):
            ids = _parse_detids(node.text or "", path)
            detids.append(ids)
            groups.append(np.full(ids.shape, gid))
    if not detids:
        raise GroupingError(f"{path}: no <group><detids> elements")
    return np.concatenate(detids), np.concatenate(groups)


def read_grouping_file(path: Path | str, *, lite: bool | None = None) -> Grouping:
    """A grouping from a Mantid diffcal-layout HDF5 or grouping XML file."""
    path = Path(path)
    if not path.is_file():
        raise GroupingError(f"grouping file {path} does not exist")
    if path.suffix.lower() == ".xml":
        detids, groups = _read_xml(path)
        n = (N_LITE_PIXELS if lite else N_NATIVE_PIXELS) if lite is not None else (
            N_LITE_PIXELS if detids.max(initial=0) < N_LITE_PIXELS else N_NATIVE_PIXELS)
    else:
        try:
            table = read_diffcal(path)
        except CorruptFileError as exc:
            raise GroupingError(f"grouping file {path} is unreadable: {exc}") from exc
        detids, groups, n = table.detid, table.group, table.n_rows
    file_lite = _lite_from_size(n, path)
    if lite is not None and lite != file_lite:
        raise GroupingError(f"{path} is a {'Lite' if file_lite else 'native'} grouping but "
                            f"{'Lite' if lite else 'native'} was asked for")
    if detids.size and (detids.min() < 0 or detids.max() >= n):
        raise GroupingError(f"{path}: detector id {int(detids.max())} outside 0..{n - 1}")
    group_of_pixel = np.zeros(n, dtype=np.int32)
    group_of_pixel[detids] = groups
    return Grouping(name=path.stem, lite=file_lite, group_of_pixel=group_of_pixel)


def load_grouping(spec: str | Path, *, lite: bool) -> Grouping:
    """A built-in grouping by name (Column, Bank, All) or a grouping file by path."""
    if isinstance(spec, str) and spec.lower() in {k.lower() for k in PANEL_GROUPS}:
        return builtin_grouping(spec, lite=lite)
    path = Path(spec)
    if not path.exists():
        raise GroupingError(f"grouping {str(spec)!r} is neither built in ({', '.join(PANEL_GROUPS)}) nor an existing file")
    return read_grouping_file(path, lite=lite)


def write_grouping_file(path: Path | str, grouping: Grouping) -> Path:
    """Write ``grouping`` in Mantid's diffcal layout (difc/difa/tzero zero, every pixel in use)."""
    table = DiffCalTable.from_difc(np.zeros(grouping.n_pixels), group=grouping.group_of_pixel,
                                   instrument_name="SNAPLite" if grouping.lite else "SNAP")
    return write_diffcal(path, table)

"""Pixel groupings: built-in Column, Bank, All (native and Lite) and Mantid grouping files.

Files: Mantid diffcal-layout HDF5 (``/calibration/detid`` + ``group``, one row per pixel) and
Mantid grouping XML (LoadDetectorsGroupingFile format)::

    <detector-grouping instrument="SNAP">
      <group ID="1"><detids>0-196607</detids></group>
      <group ID="2"><detids val="196608-200000, 200005"/><component val="bank22"/></group>
    </detector-grouping>

``detids`` hold comma lists of ids and inclusive ranges (as text and/or a ``val`` attribute);
``component`` names a SNAP panel (``bank11`` .. ``bank63``), column (``Column1`` .. ``Column6``)
or arm (``East``, ``West``); a group without ``ID`` gets its 1-based position in the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from snapcal_core.constants import LITE_PIXELS_PER_PANEL, N_LITE_PIXELS, N_NATIVE_PIXELS, N_PANELS, PIXELS_PER_PANEL
from snapcal_core.errors import CorruptFileError, GroupingError
from snapcal_core.instrument.types import Grouping
from snapcal_core.io.detector_xml import component_ids, node_text, parse_detids
from snapcal_core.io.diffcal import DiffCalTable, read_diffcal, write_diffcal

#: Group of each of the 18 panels, per built-in grouping (SCIENCE.md "Standard groupings").
PANEL_GROUPS: dict[str, tuple[int, ...]] = {
    "Column": (1, 1, 1, 2, 2, 2, 3, 3, 3, 6, 6, 6, 5, 5, 5, 4, 4, 4),
    "Bank": (1,) * 9 + (2,) * 9,
    "All": (1,) * N_PANELS,
}


def _n_pixels(lite: bool) -> int:
    return N_LITE_PIXELS if lite else N_NATIVE_PIXELS


def _mode(lite: bool) -> str:
    return "Lite" if lite else "native"


def builtin_grouping(name: str, *, lite: bool) -> Grouping:
    """Column, Bank or All (case-insensitive) for native or Lite pixels."""
    key = {k.lower(): k for k in PANEL_GROUPS}.get(name.lower())
    if key is None:
        raise GroupingError(f"unknown grouping {name!r}; built-in: {', '.join(PANEL_GROUPS)} (or a grouping file)")
    per_panel = LITE_PIXELS_PER_PANEL if lite else PIXELS_PER_PANEL
    groups = np.repeat(np.array(PANEL_GROUPS[key], dtype=np.int32), per_panel)
    return Grouping(name=key, lite=lite, group_of_pixel=groups)


def _xml_root(path: Path) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise GroupingError(f"{path}: malformed grouping XML: {exc}") from exc
    if root.tag != "detector-grouping":
        raise GroupingError(f"{path}: not a Mantid grouping file (root <{root.tag}>, expected <detector-grouping>)")
    return root


def _xml_lite(root: ET.Element, path: Path, lite: bool | None) -> bool:
    """Lite from the ``instrument`` attribute (SNAP / SNAPLite); else as asked; else from the ids."""
    instrument = root.attrib.get("instrument", "")
    if instrument:
        if not instrument.upper().startswith("SNAP"):
            raise GroupingError(f"{path}: grouping for instrument {instrument!r}, not SNAP")
        return "LITE" in instrument.upper()
    if lite is not None:
        return lite
    ids = parse_detids(",".join(node_text(n) for n in root.iter("detids")), path)
    if not ids.size:
        raise GroupingError(f"{path}: no instrument attribute and no <detids>: cannot tell native from Lite")
    return bool(ids.max() < N_LITE_PIXELS)


def _read_xml(path: Path, lite: bool | None) -> tuple[np.ndarray, np.ndarray, bool]:
    root = _xml_root(path)
    file_lite = _xml_lite(root, path, lite)
    detids, groups = [], []
    for position, group in enumerate(root.iter("group"), start=1):
        try:
            gid = int(group.attrib.get("ID", position))
        except ValueError:
            raise GroupingError(f"{path}: group ID {group.attrib['ID']!r} is not an integer") from None
        if gid <= 0:
            raise GroupingError(f"{path}: group ID {gid} must be positive (0 means 'in no group')")
        for node in group:
            if node.tag == "detids":
                ids = parse_detids(node_text(node), path)
            elif node.tag == "component":
                ids = component_ids(node_text(node), path, file_lite)
            else:
                raise GroupingError(f"{path}: group {gid}: <{node.tag}> is not supported (use <detids> or <component>)")
            detids.append(ids)
            groups.append(np.full(ids.shape, gid, dtype=np.int32))
    if not detids:
        raise GroupingError(f"{path}: no <group> with <detids> or <component>")
    return np.concatenate(detids), np.concatenate(groups), file_lite


def _read_hdf5(path: Path) -> tuple[np.ndarray, np.ndarray, bool]:
    try:
        table = read_diffcal(path)
    except CorruptFileError as exc:
        raise GroupingError(f"grouping file {path} is unreadable: {exc}") from exc
    if table.n_rows == N_NATIVE_PIXELS:
        return table.detid.astype(np.int64), table.group, False
    if table.n_rows == N_LITE_PIXELS:
        return table.detid.astype(np.int64), table.group, True
    raise GroupingError(
        f"{path}: {table.n_rows} pixels fit neither native ({N_NATIVE_PIXELS}) nor Lite ({N_LITE_PIXELS}) SNAP"
    )


def _group_of_pixel(detids: np.ndarray, groups: np.ndarray, n: int, path: Path) -> np.ndarray:
    """Scatter (detid, group) pairs into a per-pixel array, checking range and uniqueness."""
    bad = detids[(detids < 0) | (detids >= n)]
    if bad.size:
        raise GroupingError(f"{path}: detector id {int(bad[0])} outside 0..{n - 1} ({bad.size} ids out of range)")
    if np.any(groups < 0):
        raise GroupingError(f"{path}: negative group id {int(groups[groups < 0][0])}")
    counts = np.bincount(detids, minlength=n)
    if counts.max(initial=0) > 1:
        raise GroupingError(f"{path}: detector id {int(np.argmax(counts > 1))} is listed more than once")
    group_of_pixel = np.zeros(n, dtype=np.int32)
    group_of_pixel[detids] = groups
    return group_of_pixel


def read_grouping_file(path: Path | str, *, lite: bool | None = None) -> Grouping:
    """A grouping from a Mantid diffcal-layout HDF5 or grouping XML (``.xml``) file.

    ``lite=None`` takes the mode from the file (HDF5: its size; XML: its ``instrument``
    attribute, else the largest id); a mode that contradicts ``lite`` is a :class:`GroupingError`.
    The grouping's name is the file's absolute path, so ``load_grouping(g.name, lite=g.lite)``
    finds it again (results record the grouping by name).
    """
    path = Path(path)
    if not path.is_file():
        raise GroupingError(f"grouping file {path} does not exist")
    if path.suffix.lower() == ".xml":
        detids, groups, file_lite = _read_xml(path, lite)
    else:
        detids, groups, file_lite = _read_hdf5(path)
    if lite is not None and lite != file_lite:
        raise GroupingError(f"{path} is a {_mode(file_lite)} grouping but {_mode(lite)} was asked for")
    group_of_pixel = _group_of_pixel(detids, groups, _n_pixels(file_lite), path)
    if not np.any(group_of_pixel):
        raise GroupingError(f"{path}: every pixel is in group 0 (no group)")
    return Grouping(name=str(path.resolve()), lite=file_lite, group_of_pixel=group_of_pixel)


def load_grouping(spec: str | Path, *, lite: bool) -> Grouping:
    """A built-in grouping by name (Column, Bank, All; any case) or a grouping file by path."""
    if isinstance(spec, str) and spec.lower() in {k.lower() for k in PANEL_GROUPS}:
        return builtin_grouping(spec, lite=lite)
    path = Path(spec)
    if not path.exists():
        raise GroupingError(
            f"grouping {str(spec)!r} is neither built in ({', '.join(PANEL_GROUPS)}) nor an existing file"
        )
    return read_grouping_file(path, lite=lite)


def write_grouping_file(path: Path | str, grouping: Grouping) -> Path:
    """Write ``grouping`` in Mantid's diffcal layout (difc/difa/tzero zero, every pixel in use); atomic."""
    if grouping.n_pixels != _n_pixels(grouping.lite):
        raise GroupingError(
            f"grouping {grouping.name!r} has {grouping.n_pixels} pixels; {_mode(grouping.lite)} SNAP has "
            f"{_n_pixels(grouping.lite)}"
        )
    table = DiffCalTable.from_difc(
        np.zeros(grouping.n_pixels),
        group=grouping.group_of_pixel,
        instrument_name="SNAPLite" if grouping.lite else "SNAP",
    )
    return write_diffcal(path, table)

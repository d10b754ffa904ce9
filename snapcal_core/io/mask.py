"""Pixel masks: read the mask files SNAP scientists use, write SNAPRed's (docs/formats.md "Pixel masks").

The format is told from the content (HDF5 signature, then the groups inside; else XML), never
from the extension:

- **diffcal** (Mantid ``SaveDiffCal``; what SNAPRed writes beside a calibration table, in
  ``diffract_consts_<run>_v<NNNN>.h5``, and on its own as ``pixelmask_<run>_<timestamp>.h5``):
  ``/calibration/detid`` and ``use`` (0 = masked), one row per pixel of the mode.
- **nxprocessed** (a ``MaskWorkspace`` saved by ``SaveNexus``/``SaveNexusProcessed``, as SNAPRed
  appends its reduction mask to the reduction output): ``mantid_workspace_<N>/mask_workspace/values``
  ``(n_spectra, 1)``, nonzero = masked, each spectrum's detectors in
  ``instrument/detector/{detector_index, detector_count, detector_list}``.
- **xml** (Mantid ``SaveMask``/``LoadMask``): ``<detector-masking><group><detids>1-5,9</detids>
  <component>bank22</component></group></detector-masking>``.

A SNAP file names its instrument ``SNAP`` in both modes (the Lite IDF's own name is ``SNAP``;
SNAPRed's Lite workspaces are ``SNAPLite``), so the name can only rule out another instrument or a
``SNAPLite`` mask for native pixels; the pixel count and the id range decide the rest.
"""

from __future__ import annotations

import enum
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snapcal_core.constants import N_LITE_PIXELS, N_NATIVE_PIXELS
from snapcal_core.errors import CorruptFileError, GroupingError, MaskFileError, MaskInstrumentError, MaskSizeError
from snapcal_core.io.detector_xml import component_ids, node_text, parse_detids
from snapcal_core.io.diffcal import DiffCalTable, read_mask, write_diffcal

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ENTRY = re.compile(r"mantid_workspace_(\d+)")
#: Instrument and IDF file names SaveDiffCal writes, as SNAPRed names its two modes.
_INSTRUMENT = {False: ("SNAP", "SNAP_Definition.xml"), True: ("SNAPLite", "SNAPLite_Definition.xml")}


class MaskFormat(enum.Enum):
    """The layout a mask was read from."""

    DIFFCAL = "diffcal"
    NXPROCESSED = "nxprocessed"
    XML = "xml"


@dataclass(frozen=True)
class PixelMask:
    """Masked pixels (True) indexed by pixel id, for Lite or native pixels, and where they came from."""

    masked: np.ndarray  # bool, shape (n_pixels,); a read-only copy
    lite: bool
    source: str = "snapcal"  # the file read, or what built the mask
    file_format: MaskFormat | None = None  # None: built in memory

    def __post_init__(self) -> None:
        masked = np.array(self.masked, dtype=bool)
        if masked.ndim != 1:
            raise ValueError(f"a pixel mask is one flag per pixel, got shape {masked.shape}")
        masked.flags.writeable = False
        object.__setattr__(self, "masked", masked)

    @property
    def n_pixels(self) -> int:
        return int(self.masked.shape[0])

    @property
    def n_masked(self) -> int:
        return int(np.count_nonzero(self.masked))


def _mode(lite: bool) -> str:
    return "Lite" if lite else "native"


def _other_mode_hint(n_found: int, lite: bool) -> str:
    other = N_NATIVE_PIXELS if lite else N_LITE_PIXELS
    return f" (a {_mode(not lite)} mask given for {_mode(lite)} pixels?)" if n_found == other else ""


def _check_instrument(name: str, path: Path, lite: bool, where: str) -> None:
    """``SNAP`` fits both modes, ``SNAPLite`` only Lite, any other name neither.

    A path, an extension and ``_Definition...`` are dropped first, as SNAPRed compares names.
    """
    key = re.split(r"[/\\]", name.strip())[-1].split(".")[0].lower().split("_definition")[0]
    if not key:
        return
    if key not in ("snap", "snaplite"):
        raise MaskInstrumentError(f"mask {path}: {where} names instrument {name!r}, not SNAP")
    if key == "snaplite" and not lite:
        raise MaskInstrumentError(f"mask {path}: {where} names {name!r}: a Lite mask, but native pixels were asked for")


def _text(value: Any) -> str:
    if np.ndim(value):
        flat = np.asarray(value).ravel()
        value = flat[0] if flat.size else b""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _check_ids(ids: np.ndarray, path: Path, n_pixels: int, lite: bool, where: str) -> None:
    bad = ids[(ids < 0) | (ids >= n_pixels)]
    if bad.size:
        hint = " (native ids in a Lite mask?)" if lite and bad.max() < N_NATIVE_PIXELS else ""
        raise MaskSizeError(f"mask {path}: {where} holds {bad.size:,} detector ids outside 0..{n_pixels - 1} of "
                            f"{_mode(lite)} SNAP, e.g. {int(bad[0])}{hint}")


def _read_diffcal(path: Path, f: h5py.File, n_pixels: int, lite: bool) -> np.ndarray:
    cal = f["calibration"]
    if not isinstance(cal, h5py.Group) or "detid" not in cal:
        raise MaskFileError(f"mask {path}: /calibration has no detid dataset (not a SaveDiffCal file)")
    if "instrument/name" in cal:
        _check_instrument(_text(cal["instrument/name"][()]), path, lite, "/calibration/instrument/name")
    detid = np.asarray(cal["detid"][()]).ravel().astype(np.int64)
    if detid.size != n_pixels:
        raise MaskSizeError(f"mask {path}: /calibration/detid has {detid.size:,} rows; {_mode(lite)} SNAP has "
                            f"{n_pixels:,} pixels{_other_mode_hint(detid.size, lite)}")
    _check_ids(detid, path, n_pixels, lite, "/calibration/detid")
    if np.unique(detid).size != n_pixels:
        raise MaskFileError(f"mask {path}: /calibration/detid lists some detector ids more than once")
    return read_mask(path, n_pixels=n_pixels)


def _mask_entry(path: Path, f: h5py.File) -> tuple[h5py.Group, str]:
    """The one ``mantid_workspace_<N>`` holding a MaskWorkspace, and its data group's name."""
    numbered = sorted((m for m in map(_ENTRY.fullmatch, f) if m), key=lambda m: int(m.group(1)))
    entries = [m.string for m in numbered]
    masks = [k for k in entries if "mask_workspace" in f[k]]
    if len(masks) > 1:
        raise MaskFileError(f"mask {path}: {len(masks)} MaskWorkspace entries ({', '.join(masks)}); snapcal reads "
                            "a file holding one")
    if masks:
        return f[masks[0]], "mask_workspace"
    if len(entries) == 1 and "workspace" in f[entries[0]]:  # a mask saved as a plain Workspace2D (older Mantid)
        return f[entries[0]], "workspace"
    raise MaskFileError(f"mask {path}: no mantid_workspace_<N>/mask_workspace: a Mantid workspace file, but not a "
                        "MaskWorkspace")


def _read_nxprocessed(path: Path, f: h5py.File, n_pixels: int, lite: bool) -> np.ndarray:
    entry, data = _mask_entry(path, f)
    where = f"{entry.name}/{data}/values"
    if "values" not in entry[data]:
        raise MaskFileError(f"mask {path}: {where} is missing")
    values = np.asarray(entry[data]["values"][()], dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 1 or (data == "workspace" and not np.isin(values, (0.0, 1.0)).all()):
        raise MaskFileError(f"mask {path}: {where} has shape {values.shape}; a MaskWorkspace holds one value, "
                            "0 or 1, per spectrum")
    masked_spectrum: np.ndarray = values[:, 0] != 0
    n_spectra = values.shape[0]
    if "instrument/name" in entry:
        _check_instrument(_text(entry["instrument/name"][()]), path, lite, f"{entry.name}/instrument/name")
    det = entry.get("instrument/detector")
    if not isinstance(det, h5py.Group) or "detector_list" not in det:  # spectrum i holds detector i
        if n_spectra != n_pixels:
            raise MaskSizeError(f"mask {path}: {n_spectra:,} spectra and no detector map; {_mode(lite)} SNAP has "
                                f"{n_pixels:,} pixels{_other_mode_hint(n_spectra, lite)}")
        return masked_spectrum
    try:
        index, count = (np.asarray(det[k][()]).ravel().astype(np.int64) for k in ("detector_index", "detector_count"))
    except KeyError as exc:
        raise MaskFileError(f"mask {path}: {det.name} has detector_list but no {exc}") from None
    ids = np.asarray(det["detector_list"][()]).ravel().astype(np.int64)
    if index.shape != (n_spectra,) or count.shape != (n_spectra,) or np.any(count < 0) or np.any(index < 0) \
            or np.any(index + count > ids.size):
        raise MaskFileError(f"mask {path}: {det.name}/detector_index, detector_count and detector_list do not "
                            f"describe {n_spectra:,} spectra")
    spectrum_of = np.repeat(np.arange(n_spectra), count)  # each spectrum's detectors, spectrum by spectrum
    ids = ids[np.repeat(index - (np.cumsum(count) - count), count) + np.arange(spectrum_of.size)]
    keep = ids >= 0  # SNAP's monitors are -1 and -2
    ids, spectrum_of = ids[keep], spectrum_of[keep]
    _check_ids(ids, path, n_pixels, lite, f"{det.name}/detector_list")
    covered = np.zeros(n_pixels, bool)
    covered[ids] = True
    if not covered.all():
        n_covered = int(covered.sum())
        raise MaskSizeError(f"mask {path}: maps {n_covered:,} detectors; {_mode(lite)} SNAP has {n_pixels:,} "
                            f"pixels{_other_mode_hint(n_covered, lite)}")
    masked = np.zeros(n_pixels, bool)
    masked[ids[masked_spectrum[spectrum_of]]] = True
    return masked


def _read_xml(path: Path, n_pixels: int, lite: bool) -> np.ndarray:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise MaskFileError(f"mask {path}: malformed XML: {exc}") from exc
    tag = root.tag.rsplit("}", 1)[-1]
    if tag != "detector-masking":
        hint = " (a grouping file, not a mask)" if tag == "detector-grouping" else ""
        raise MaskFileError(f"mask {path}: root <{tag}>, expected <detector-masking> (Mantid SaveMask){hint}")
    if root.attrib.get("instrument"):
        _check_instrument(root.attrib["instrument"], path, lite, "<detector-masking instrument>")
    ids = [np.zeros(0, np.int64)]
    try:
        for group in root:
            if group.tag.rsplit("}", 1)[-1] != "group":
                raise MaskFileError(f"mask {path}: <{group.tag}> outside a <group>")
            for node in group:
                name = node.tag.rsplit("}", 1)[-1]
                if name == "detids":
                    ids.append(parse_detids(node_text(node), path))
                elif name == "component":
                    ids.append(component_ids(node_text(node), path, lite))
                elif name == "ids":
                    raise MaskFileError(f"mask {path}: <ids> (spectrum numbers) is not read: spectra depend on a "
                                        "workspace; list detector ids in <detids>")
                else:
                    raise MaskFileError(f"mask {path}: <{name}> is not a LoadMask element (<detids>, <component>)")
    except GroupingError as exc:
        raise MaskFileError(f"mask {exc}") from exc
    all_ids = np.concatenate(ids)
    _check_ids(all_ids, path, n_pixels, lite, "<detids>/<component>")
    masked = np.zeros(n_pixels, bool)
    masked[all_ids] = True
    return masked


def _is_hdf5(path: Path) -> bool:
    """HDF5 by its signature, XML by a leading ``<``; anything else is no mask format."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(_HDF5_SIGNATURE):
        return True
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return False
    raise MaskFileError(f"mask {path} is neither HDF5 (SaveDiffCal, SaveNexusProcessed) nor XML (SaveMask)")


def read_mask_file(path: Path | str, *, n_pixels: int, lite: bool) -> PixelMask:
    """A pixel mask from a SaveDiffCal table, a saved MaskWorkspace or a SaveMask XML file.

    ``n_pixels`` is the mode's pixel count (18,432 Lite, 1,179,648 native). A mask that does not
    cover exactly those pixels is a :class:`MaskSizeError`; one naming another instrument (or SNAPLite
    for native pixels) a :class:`MaskInstrumentError`; an unreadable file a :class:`MaskFileError`.
    Masking a whole group is not an error here (the recipe decides).
    """
    path = Path(path)
    if not path.is_file():
        raise MaskFileError(f"mask file {path} does not exist")
    if not _is_hdf5(path):
        return PixelMask(_read_xml(path, n_pixels, lite), lite=lite, source=str(path), file_format=MaskFormat.XML)
    try:
        with h5py.File(path, "r") as f:
            if "calibration" in f:
                fmt = MaskFormat.DIFFCAL
                masked = _read_diffcal(path, f, n_pixels, lite)
            elif any(_ENTRY.fullmatch(k) for k in f):
                fmt = MaskFormat.NXPROCESSED
                masked = _read_nxprocessed(path, f, n_pixels, lite)
            else:
                raise MaskFileError(f"mask {path}: HDF5 with neither /calibration (SaveDiffCal) nor "
                                    "mantid_workspace_<N> (SaveNexusProcessed)")
    except (OSError, KeyError, ValueError) as exc:
        raise MaskFileError(f"mask {path} is unreadable (truncated or corrupt HDF5?): {exc}") from exc
    except MaskFileError:
        raise
    except CorruptFileError as exc:  # from read_mask
        raise MaskFileError(str(exc)) from exc
    return PixelMask(masked, lite=lite, source=str(path), file_format=fmt)


def _check_mode(mask: PixelMask, lite: bool) -> None:
    if mask.lite != lite:
        raise ValueError(f"a {_mode(mask.lite)} mask cannot be written as a {_mode(lite)} one")


def write_mask_file(path: Path | str, mask: PixelMask, *, lite: bool) -> Path:
    """Write ``mask`` as SNAPRed stores its masks: SaveDiffCal with only a MaskWorkspace; atomic.

    One row per pixel: ``detid`` 0..n-1, ``difc`` 0, ``group`` 1, ``use`` 0 where masked, and the
    instrument (``SNAP``/``SNAPLite``) with its IDF file name. ``difa`` and ``tzero`` are written as
    zeros (Mantid leaves them out; LoadDiffCal reads both layouts).
    """
    _check_mode(mask, lite)
    n = mask.n_pixels
    name, idf = _INSTRUMENT[lite]
    table = DiffCalTable(detid=np.arange(n, dtype=np.int32), difc=np.zeros(n), difa=np.zeros(n), tzero=np.zeros(n),
                         group=np.ones(n, np.int32), use=(~mask.masked).astype(np.int32), instrument_name=name,
                         instrument_source=idf)
    return write_diffcal(path, table)


def _ranges(ids: np.ndarray) -> str:
    """Sorted ids as SaveMask writes them: ``0-5,9,12-13``."""
    if not ids.size:
        return ""
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts, ends = np.r_[ids[0], ids[breaks + 1]], np.r_[ids[breaks], ids[-1]]
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(starts.tolist(), ends.tolist()))


def write_mask_xml(path: Path | str, mask: PixelMask, *, lite: bool) -> Path:
    """Write ``mask`` in Mantid's SaveMask XML (LoadMask reads it); atomic.

    Adds ``instrument="SNAP"``/``"SNAPLite"`` on the root, which SaveMask does not write and
    LoadMask ignores, so that snapcal can tell the mode back.
    """
    _check_mode(mask, lite)
    path = Path(path)
    text = (f'<?xml version="1.0"?>\n<detector-masking instrument="{_INSTRUMENT[lite][0]}">\n  <group>\n'
            f"    <detids>{_ranges(np.flatnonzero(mask.masked))}</detids>\n  </group>\n</detector-masking>\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

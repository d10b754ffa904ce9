"""Detector lists of Mantid's XML files (grouping and mask): ``<detids>`` text and SNAP component names.

``detids`` hold comma lists of ids and inclusive ranges (as text and/or a ``val`` attribute);
``component`` names a SNAP panel (``bank11`` .. ``bank63``), column (``Column1`` .. ``Column6``)
or arm (``East``, ``West``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from snapcal_core.constants import LITE_PIXELS_PER_PANEL, PIXELS_PER_PANEL
from snapcal_core.errors import GroupingError

#: Panels (ids ``k * per_panel ...``) of each named component of the SNAP IDF. ``bank<c><r>`` is
#: panel ``3(c-1) + (r-1)``; IDF type ``Column4`` holds bank61-63, ``Column6`` bank41-43.
_COLUMN_PANELS = {1: (0, 1, 2), 2: (3, 4, 5), 3: (6, 7, 8), 4: (15, 16, 17), 5: (12, 13, 14), 6: (9, 10, 11)}
COMPONENT_PANELS: dict[str, tuple[int, ...]] = {
    **{f"bank{c}{r}": (3 * (c - 1) + (r - 1),) for c in range(1, 7) for r in range(1, 4)},
    **{f"Column{c}": panels for c, panels in _COLUMN_PANELS.items()},
    "East": tuple(range(9)),
    "West": tuple(range(9, 18)),
}


def parse_detids(text: str, path: Path) -> np.ndarray:
    """``"3, 34-44,47"`` -> ids 3, 34..44, 47 (ranges inclusive)."""
    ids: list[np.ndarray] = []
    for part in text.replace(" ", "").replace("\n", "").replace("\t", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                ids.append(np.arange(lo, hi + 1, dtype=np.int64))
            else:
                ids.append(np.array([int(part)], dtype=np.int64))
        except ValueError:
            raise GroupingError(f"{path}: malformed detector ids {part!r}") from None
    return np.concatenate(ids) if ids else np.zeros(0, np.int64)


def node_text(node: ET.Element) -> str:
    """A node's ids: its ``val`` attribute and its text, comma-joined."""
    return ",".join(t for t in (node.attrib.get("val", ""), node.text or "") if t.strip())


def component_ids(names: str, path: Path, lite: bool) -> np.ndarray:
    """The pixel ids of comma-separated SNAP component names in the mode."""
    per_panel = LITE_PIXELS_PER_PANEL if lite else PIXELS_PER_PANEL
    ids = []
    for name in filter(None, (n.strip() for n in names.split(","))):
        if name not in COMPONENT_PANELS:
            raise GroupingError(f"{path}: unknown SNAP component {name!r} (bank11..bank63, Column1..6, East, West)")
        ids += [np.arange(k * per_panel, (k + 1) * per_panel) for k in COMPONENT_PANELS[name]]
    return np.concatenate(ids) if ids else np.zeros(0, np.int64)

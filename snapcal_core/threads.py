"""How many threads numba's parallel kernels use in the calling thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba


@contextmanager
def numba_threads(n: int | None) -> Iterator[None]:
    """Run the block with at most ``n`` numba threads in *this* thread (numba's setting is
    thread-local), so side-by-side tasks do not oversubscribe the cores; None leaves it alone."""
    if n is None:
        yield
        return
    previous = numba.get_num_threads()
    # numba.config's attributes are set from the environment at import: mypy cannot see them
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        numba.set_num_threads(previous)

"""Data component: run -> IPTS -> NeXus event file -> events in memory (native or Lite).

``locate`` (run -> IPTS -> paths), ``nexus`` (bank layout and the atomic event-file writer),
``read`` (header and events of a file), ``state`` (detector state from DAS logs), ``load``
(``load_run``: crop to the TOF band, Lite mapping, Lite copies), ``lite_kernel`` and
``band_kernel`` (numba kernels).
"""

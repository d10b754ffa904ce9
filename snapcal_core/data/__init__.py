"""Data component: run -> IPTS -> NeXus file -> events in memory (native or Lite)."""

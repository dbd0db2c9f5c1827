"""The run directory contract: paths, atomic writes and loaders (``directory``), one validating
reader per file (``schema``), the measures' names and labels (``measures``), and how a run is
described and grouped into protocols (``protocol``). No torch."""

"""Findings over many runs: recipe intervals (``intervals``), paired tests (``stats``), the
report (``report``), figures (``figures``), the comparison CSV (``export``) and the paper's
printed numbers (``published``). No torch."""

"""Child process entry: ``python -m bench.worker module:function args.json out.json``.

Runs one contender in a fresh interpreter so that its peak memory and its imports are its
own, and writes the function's dict (plus the process' peak RSS) to ``out.json``.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path

from .common import process_peak_rss_mb


def main(argv: list[str]) -> int:
    task, args_path, out_path = argv
    warnings.filterwarnings("ignore")
    module, func = task.split(":")
    args = json.loads(Path(args_path).read_text(encoding="utf-8"))
    out = getattr(importlib.import_module(module), func)(**args)
    out["process_peak_rss_mb"] = process_peak_rss_mb()
    Path(out_path).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

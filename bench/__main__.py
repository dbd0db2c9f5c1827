"""``python -m bench --quick`` (a few minutes) or ``--full`` (about 2 hours on 2 cores).

Runs the parts in order (evaluation, encoding, training, scaling, encoder backends, training
speed), each contender in its own process, then writes
``bench/results/<date>-<machine>[-<mode>].json`` and ``.md``; a full run also rewrites the
results section of ``bench/README.md`` (``--no-readme`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from . import backends, encode_bench, eval_bench, report, scaling, train_bench, train_speed
from .common import (
    BENCH_DIR,
    DEFAULT_MODEL,
    PROFILES,
    SCHEMA_VERSION,
    git_commit,
    machine_info,
    machine_label,
    resolve_model,
    versions,
)

PARTS = ("eval", "encode", "train", "scaling", "backends", "train-speed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="profile", action="store_const", const="quick",
                      help="3 languages x 100 questions, small grids (default)")
    mode.add_argument("--full", dest="profile", action="store_const", const="full",
                      help="all of XQuAD-R, pools to 20k real and 1M synthetic candidates")
    mode.add_argument("--profile", choices=sorted(PROFILES), help=argparse.SUPPRESS)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"registry name or ST directory (default {DEFAULT_MODEL})")
    parser.add_argument("--backends-model", default="me5-small",
                        help="model of part 5, encoder backends (default me5-small, the 12-layer teacher)")
    parser.add_argument("--train-speed-model", default="me5-small-d2",
                        help="model of part 6's variant study (default me5-small-d2, the smallest rung)")
    parser.add_argument("--train-exact-model", default="me5-small",
                        help="model of part 6's torch-vs-auto comparison, cut to each layer count in memory "
                             "(default me5-small)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    parser.add_argument("--machine", default=None, help="machine label in the file name")
    parser.add_argument("--readme", action=argparse.BooleanOptionalAction, default=None,
                        help="rewrite bench/README.md's results section (default: with --full)")
    parser.add_argument("--in-process", action="store_true",
                        help="run contenders in this process (tests; memory figures then shared)")
    parser.set_defaults(profile="quick")
    return parser


def run(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the results dict (also written to disk)."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore")
    profile = PROFILES[args.profile]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; choose from {PARTS}")
    started = time.perf_counter()
    created = datetime.now(UTC)
    machine = machine_info()
    label = args.machine or machine_label(machine)
    model = resolve_model(args.model)
    out_dir = Path(args.out)
    workdir = out_dir / "tmp" / f"{created:%Y%m%dT%H%M%S}-{profile.name}"
    isolate = not args.in_process
    results: dict = {
        "schema_version": SCHEMA_VERSION,
        "created": created.isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "profile": profile.to_dict(),
        "machine": machine, "machine_label": label,
        "versions": versions(), "git_commit": git_commit(),
        "model": {"requested": args.model, "used": model},
        "isolated": isolate,
        "parts": {},
    }
    try:
        if "eval" in parts:
            results["parts"]["eval"] = eval_bench.run(profile, model, workdir, isolate)
        if "encode" in parts:
            results["parts"]["encode"] = encode_bench.run(profile, model, workdir, isolate,
                                                          results["parts"].get("eval"))
        if "train" in parts:
            results["parts"]["train"] = train_bench.run(profile, model, workdir, isolate)
        if "scaling" in parts:
            results["parts"]["scaling"] = scaling.run(profile, model, workdir, isolate)
        if "backends" in parts:
            results["parts"]["backends"] = backends.run(profile, args.backends_model, workdir, isolate)
        if "train-speed" in parts:
            results["parts"]["train-speed"] = train_speed.run(profile, args.train_speed_model, workdir, isolate,
                                                               args.train_exact_model)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    e2e = results["parts"].get("eval", {}).get("contenders", {}).get("hybridir_e2e", {})
    if e2e.get("model"):
        results["model"]["info"] = e2e["model"]
    results["ratios"] = [r for part in results["parts"].values() for r in part.get("ratios", [])]
    results["checks"] = results["parts"].get("eval", {}).get("checks", {})
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    stem = f"{created:%Y-%m-%d}-{label}" + ("" if profile.name == "full" else f"-{profile.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    section = report.markdown(results)
    (out_dir / f"{stem}.md").write_text(section, encoding="utf-8")
    if args.readme if args.readme is not None else profile.name == "full":
        report.update_readme(BENCH_DIR / "README.md", section)
    results["paths"] = {"json": str(json_path), "markdown": str(out_dir / f"{stem}.md")}
    eval_bench.log(f"wrote {json_path}")
    print(report.ratio_table(results["ratios"]))
    return results


def main(argv: list[str] | None = None) -> int:
    results = run(argv)
    failed = [r["name"] for r in results["ratios"] if r["passed"] is False]
    errors = [f"{part}: {name}" for part, p in results["parts"].items()
              for name, c in {**p.get("contenders", {}), **p.get("variants", {})}.items()
              if isinstance(c, dict) and "error" in c]
    if errors:
        eval_bench.log("contenders that failed: " + "; ".join(errors))
    if failed:
        eval_bench.log("targets not met: " + "; ".join(failed))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

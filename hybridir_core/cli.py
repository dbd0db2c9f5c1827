"""Command-line front-end: ``python -m hybridir_core <command>``.

A thin wrapper: it parses arguments into the config dataclasses, shows a progress bar,
mirrors progress into ``status.json`` and turns expected errors into one clear line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from . import runs
from .config import DATASETS, FAST_BACKEND, EvalConfig

EXPECTED_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError, runs.RunError)


def _expected_errors() -> tuple[type[Exception], ...]:
    from .data import DataError
    from .models import ModelError

    return EXPECTED_ERRORS + (DataError, ModelError)


class ProgressReporter:
    """One tqdm bar per phase, mirrored (throttled) into ``status.json``."""

    def __init__(self, status: runs.StatusWriter | None, min_interval: float = 0.5) -> None:
        self.status = status
        self.min_interval = min_interval
        self._bar: tqdm | None = None
        self._phase = ""
        self._last_write = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            self._phase = phase
            self._bar = tqdm(total=total, desc=phase, unit="it", dynamic_ncols=True, leave=False)
            self._phase_started = time.time()
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        now = time.time()
        if self.status is not None and (now - self._last_write >= self.min_interval or done >= total):
            self.status.update(state="running", phase=phase, step=done, total=total,
                               phase_started=self._phase_started)
            self._last_write = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def add_eval_options(parser: argparse.ArgumentParser) -> None:
    """Evaluation options shared by ``evaluate`` and ``train``."""
    parser.add_argument("--dataset", default="all", choices=[*DATASETS, "all"])
    parser.add_argument("--limit-per-lang", type=int, default=None,
                        help="quick mode: the first N question ids per language")
    parser.add_argument("--languages", nargs="+", default=None, help="evaluation languages")
    parser.add_argument("--with-context", action="store_true",
                        help="encode candidates as sentence + paragraph (LAReQA option)")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--fast", action="store_true",
                        help=f"faster CPU encoding (backend {FAST_BACKEND!r}; see bench/README.md)")


def eval_config_from_args(args: argparse.Namespace, model: str) -> EvalConfig:
    return EvalConfig(
        model=model,
        datasets=DATASETS if args.dataset == "all" else (args.dataset,),
        limit_per_lang=args.limit_per_lang,
        languages=tuple(args.languages) if args.languages else None,
        with_context=args.with_context,
        batch_size=args.eval_batch_size,
        data_dir=args.data_dir,
        backend=FAST_BACKEND if getattr(args, "fast", False) else "torch",
    )


def _cmd_evaluate(args: argparse.Namespace, progress: ProgressReporter) -> None:
    from .evaluate import run_evaluation

    config = eval_config_from_args(args, args.model)
    summaries = run_evaluation(args.model, args.out, config, progress)
    progress.close()
    print_summary(summaries)


def print_summary(summaries: dict) -> None:
    """A short table of the aggregates per dataset."""
    print(f"{'dataset':<9} {'mono':>7} {'cross':>7} {'multi':>7} {'rankdist':>9} "
          f"{'encode_s':>9} {'metrics_s':>9}")
    for name, m in summaries.items():
        print(f"{name:<9} {m['mono_map']:7.4f} {m['cross_map']:7.4f} {m['multi_map']:7.4f} "
              f"{m['mean_rank_distance']:9.2f} {m['encode_seconds']:9.1f} {m['metrics_seconds']:9.2f}")


def _cmd_export(args: argparse.Namespace, progress: ProgressReporter) -> None:
    from .export import comparison_frame, to_csv_bytes

    frame = comparison_frame([Path(p) for p in args.run_dirs])
    out = Path(args.out)
    runs._atomic_write(out, lambda tmp: tmp.write_bytes(to_csv_bytes(frame)))
    print(f"wrote {len(frame)} rows to {out}")


def _cmd_models(args: argparse.Namespace, progress: ProgressReporter) -> None:
    from .models import ensure_built, list_models

    for name in args.build or []:
        print(f"{name}: {ensure_built(name)}")
    if args.build:
        return
    for spec in list_models():
        print(f"{spec.name:<28} {spec.source:<8} {spec.scale:<7} layers={spec.layers:<3} "
              f"dim={spec.dim:<5} params={spec.params / 1e6:7.1f}M  {spec.description}")


def _cmd_search(args: argparse.Namespace, progress: ProgressReporter) -> None:
    from .retrieval import search_dataset

    for hit in search_dataset(args.model, args.dataset, args.query, args.k, args.languages,
                              args.data_dir):
        print(f"{hit['rank']:>3}  {hit['score']:.4f}  [{hit['lang']}]  {hit['text'][:110]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hybridir_core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("evaluate", help="zero-shot LAReQA evaluation into a run directory")
    ev.add_argument("--model", default="me5-small", help="registry name or local ST directory")
    add_eval_options(ev)
    ev.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/zs-me5-small")
    ev.set_defaults(func=_cmd_evaluate, writes_run=True)

    ex = sub.add_parser("export", help="comparison CSV of run directories")
    ex.add_argument("run_dirs", nargs="+")
    ex.add_argument("--out", default="comparison.csv")
    ex.set_defaults(func=_cmd_export, writes_run=False)

    md = sub.add_parser("models", help="list the model registry, or build offline models")
    md.add_argument("--build", nargs="+", metavar="NAME",
                    help="build these offline models into the cache (a no-op when built)")
    md.set_defaults(func=_cmd_models, writes_run=False)

    se = sub.add_parser("search", help="top-k candidates for one query (FAISS)")
    se.add_argument("query")
    se.add_argument("--model", default="me5-small")
    se.add_argument("--dataset", default="xquad-r", choices=DATASETS)
    se.add_argument("--languages", nargs="+", default=None)
    se.add_argument("-k", type=int, default=10)
    se.add_argument("--data-dir", default=None)
    se.set_defaults(func=_cmd_search, writes_run=False)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable]:
    """Sub-command registrars from other modules: ``train`` and ``sweep``, then ``report``."""
    from .report import register_cli as report_cli

    try:
        from .train import register_cli as train_cli
    except ImportError:
        return [report_cli]
    return [train_cli, report_cli]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    status = None
    if getattr(args, "writes_run", False):
        try:
            runs.validate_run_id(Path(args.out).name)
        except runs.RunError as exc:
            parser.error(str(exc))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        status = runs.StatusWriter(Path(args.out))
        status.update(state="running", phase="starting", error=None)
    progress = ProgressReporter(status)
    try:
        args.func(args, progress)
    except KeyboardInterrupt:
        progress.close()
        if status:
            status.update(state="cancelled", message="interrupted")
        print("interrupted", file=sys.stderr)
        return 130
    except _expected_errors() as exc:
        progress.close()
        if status:
            status.update(state="failed", error=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # unexpected: keep the traceback in a file, say it in words
        progress.close()
        detail = "".join(traceback.format_exception(exc))
        where = ""
        if status:
            (Path(args.out) / "error.log").write_text(detail, encoding="utf-8")
            status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
            where = f" (traceback in {Path(args.out) / 'error.log'})"
        print(f"error: unexpected {type(exc).__name__}: {exc}{where}", file=sys.stderr)
        return 1
    if status:
        status.update(state="done", phase="done", message="finished")
    return 0

"""Command-line front-end: ``python -m hybridir_core <command>``.

A thin wrapper: it parses arguments into the configuration dataclasses (``options``), runs
them through ``pipeline`` / ``report`` / ``export`` (``commands``), shows a progress bar,
mirrors progress into ``status.json`` and turns expected errors into one clear line. All
argparse code of the project lives in this package.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import traceback
from pathlib import Path

from hybridir_core import paths
from hybridir_core.cli import commands
from hybridir_core.cli.launch import add_launcher_options
from hybridir_core.cli.options import (
    HelpFormatter,
    add_data_dir,
    add_eval_options,
    add_train_options,
    eval_config_from_args,
    job_argv,
    job_from_args,
)
from hybridir_core.cli.progress import ProgressReporter
from hybridir_core.config import DATASETS, STRATEGIES, STUDY_EVAL_DATASETS, STUDY_TRAIN
from hybridir_core.data import DataError
from hybridir_core.data.fetch import FETCH_DATASETS
from hybridir_core.jobs import pipeline
from hybridir_core.jobs.queue import IDLE_EXIT_SECONDS
from hybridir_core.jobs.reproduce import PARTS
from hybridir_core.models.registry import ModelError
from hybridir_core.runs import directory as runs

__all__ = ["add_eval_options", "build_parser", "eval_config_from_args", "job_argv", "main"]


def _expected_errors() -> tuple[type[Exception], ...]:
    return (ValueError, FileNotFoundError, runs.RunError, DataError, ModelError)


def _add_job_commands(sub) -> None:
    ev = sub.add_parser("evaluate", help="zero-shot LAReQA evaluation into a run directory")
    ev.add_argument("--model", default="me5-small",
                    help="registry name, local sentence-transformers folder, or any sentence-transformers hub id")
    add_eval_options(ev)
    ev.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/zs-me5-small")
    ev.add_argument("--overwrite", action="store_true",
                    help="replace a complete run in --out (the old one stays whole until the new one is done)")
    ev.add_argument("--allow-in-sample", action="store_true",
                    help="evaluate a fine-tuned model on its own training data (else refused); labelled in-sample")
    ev.set_defaults(func=commands.cmd_job, writes_run=True)

    tr = sub.add_parser("train", help="fine-tune with mono/cross/hybrid batches, then evaluate (defaults: the "
                        "study's protocol)")
    tr.add_argument("--model", default=STUDY_TRAIN.model,
                    help="registry name (`python -m hybridir_core models` lists them) or a local "
                         "sentence-transformers folder")
    tr.add_argument("--sampling", default="hybrid", choices=STRATEGIES,
                    help="batch composition: monolingual, cross-lingual, or hybrid (mono with probability α)")
    tr.add_argument("--alpha", type=float, default=0.5, help="hybrid: probability that a batch is monolingual")
    tr.add_argument("--steps", "--max-steps", type=int, default=STUDY_TRAIN.steps, dest="steps",
                    help="optimizer steps")
    tr.add_argument("--seed", type=int, default=0, help="seed of the data order, sampler and initialisation")
    add_train_options(tr)
    add_eval_options(tr, dataset=STUDY_EVAL_DATASETS[0])
    tr.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/my-run")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace a complete run in --out (the old one stays whole until the new one is done)")
    tr.set_defaults(func=commands.cmd_job, writes_run=True)

    rn = sub.add_parser("run", help="run the job configuration stored in a run directory "
                                    "(what the dashboard's queue and sweep start)")
    rn.add_argument("out", type=Path, help="run directory holding request.json")
    rn.set_defaults(func=commands.cmd_run, writes_run=True)

    sw = sub.add_parser("sweep", help="a grid of train runs; complete runs are skipped")
    sw.add_argument("--models", nargs="+", default=[STUDY_TRAIN.model], help="models to fine-tune")
    sw.add_argument("--sampling", nargs="+", default=list(STRATEGIES), choices=STRATEGIES,
                    help="batch compositions of the grid")
    sw.add_argument("--alphas", nargs="+", type=float, default=[0.5],
                    help="hybrid: probabilities of a monolingual batch")
    sw.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds of the grid")
    sw.add_argument("--steps", nargs="+", type=int, default=[STUDY_TRAIN.steps], help="optimizer steps of the grid")
    add_train_options(sw)
    add_eval_options(sw, dataset=STUDY_EVAL_DATASETS[0])
    sw.add_argument("--out", type=Path, default=Path("runs"), help="folder of run directories")
    sw.add_argument("--dry-run", action="store_true", help="print the runs, train nothing")
    add_launcher_options(sw)
    sw.set_defaults(func=commands.cmd_sweep, writes_run=False)

    wk = sub.add_parser("worker", help="run the dashboard's queued jobs one at a time (started by the queue)")
    wk.add_argument("--runs-dir", type=Path, default=None,
                    help="folder of run directories (default: $HYBRIDIR_RUNS_DIR or runs/)")
    wk.add_argument("--idle-exit", type=float, default=IDLE_EXIT_SECONDS,
                    help="seconds to wait for new jobs before exiting")
    wk.set_defaults(func=commands.cmd_worker, writes_run=False)


def _add_findings_commands(sub) -> None:
    """``report`` (the declared families) and ``figures`` (the Answer page's figures as files)."""
    rp = sub.add_parser("report", help="the declared families (docs/protocol.md) over folders of runs")
    rp.add_argument("roots", nargs="*", help="folders of runs (default: results/reference)")
    rp.add_argument("--compare", nargs=2, action="append", metavar=("A", "B"),
                    help="recipes model:sampling[:alpha]; repeatable (default: hybrid 0.5 vs mono "
                         "and vs cross for every model)")
    rp.add_argument("--format", choices=("markdown", "json", "latex", "csv"), default="markdown",
                    help="markdown: the findings document; json/csv: every row of the declared families "
                         "(dataset, rung, comparison, measure, estimate, low, high, p, p_holm, label, family); "
                         "latex: a booktabs table of the declared rows")
    rp.add_argument("--json", default=None, metavar="FILE",
                    help="also write every family row as JSON to FILE (for other tools)")
    rp.add_argument("--out", default=None, help="write the report here instead of printing it")
    rp.add_argument("--resamples", type=int, default=2_000,
                    help="resamples of the nested-bootstrap cross-check of the primary rows (no label uses it)")
    rp.add_argument("--bootstrap-seed", type=int, default=0,
                    help="seed of that cross-check; the labels are analytic and do not depend on it")
    rp.set_defaults(func=commands.cmd_report, writes_run=False)

    cp = sub.add_parser("compare", help="run A - run B on their shared questions and languages, with the "
                                        "protocol fields they differ in")
    cp.add_argument("run_a", type=Path, help="run directory A")
    cp.add_argument("run_b", type=Path, help="run directory B")
    cp.add_argument("--resamples", type=int, default=2_000, help="resamples per interval")
    cp.set_defaults(func=commands.cmd_compare, writes_run=False)

    rp = sub.add_parser("reproduce", help="rebuild every run that results/ ships (resumable; --dry-run lists "
                                          "them with an ETA)")
    rp.add_argument("--only", nargs="+", choices=PARTS, default=None, help="parts of the study (default: all)")
    rp.add_argument("--results", type=Path, default=paths.REPO_ROOT / "results", help="the shipped results")
    rp.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="where the rebuilt runs go")
    rp.add_argument("--dry-run", action="store_true", help="list the runs and their ETA, run nothing")
    add_launcher_options(rp)
    rp.set_defaults(func=commands.cmd_reproduce, writes_run=False)
    fg = sub.add_parser("figures", help="the Answer page's figures (forest plot, scale trend, per language) as files")
    fg.add_argument("roots", nargs="*", help="folders of runs (default: results/reference)")
    fg.add_argument("--out", type=Path, required=True, help="folder for <figure>.<format> files")
    fg.add_argument("--format", nargs="+", default=["svg", "png"], choices=["svg", "png", "pdf"], dest="formats",
                    help="one file per figure and format")
    fg.set_defaults(func=commands.cmd_figures, writes_run=False)


def _add_reading_commands(sub) -> None:
    ex = sub.add_parser("export", help="comparison CSV of run directories")
    ex.add_argument("run_dirs", nargs="+", help="run directories to compare")
    ex.add_argument("--out", default="comparison.csv", help="the CSV to write")
    ex.add_argument("--strict", action="store_true",
                    help="refuse (exit 2, nothing written) when a run folder is unreadable, instead of skipping it")
    ex.set_defaults(func=commands.cmd_export, writes_run=False)

    _add_findings_commands(sub)

    rs = sub.add_parser("resummarise", help="recompute metrics.json of finished runs from ranks.parquet")
    rs.add_argument("run_dirs", nargs="+", help="finished run directories")
    rs.set_defaults(func=commands.cmd_resummarise, writes_run=False)

    md = sub.add_parser("models", help="list the model registry, or build offline models")
    md.add_argument("--build", nargs="+", metavar="NAME",
                    help="build these offline models into the cache (a no-op when built)")
    md.set_defaults(func=commands.cmd_models, writes_run=False)

    da = sub.add_parser("data", help="datasets: `data fetch` downloads every corpus (sha256-checked)")
    data_sub = da.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser(
        "fetch", help="download XQuAD-R, MLQA-R, XNLI 1.0 and Tatoeba at pinned URLs, checked against "
                      "data/manifest.json")
    fetch.add_argument("--dest", type=Path, default=None,
                       help=f"data folder (default: ${paths.DATA_DIR_ENV}, else data/)")
    fetch.add_argument("--datasets", nargs="+", default=list(FETCH_DATASETS), choices=FETCH_DATASETS,
                       help="which corpora to fetch")
    fetch.add_argument("--trust-on-first-use", action="store_true",
                       help="accept files with no pinned sha256 (XNLI-1.0.zip) and record their digest")
    fetch.set_defaults(func=commands.cmd_data_fetch, writes_run=False)
    ov = data_sub.add_parser("overlap", help="text shared by XQuAD-R (the QA training corpus) and MLQA-R "
                                             "(the evaluation): exact sentences, 8-word sequences, questions")
    add_data_dir(ov)
    ov.add_argument("--out", type=Path, default=None, help="also write the counts as JSON here")
    ov.set_defaults(func=commands.cmd_data_overlap, writes_run=False)
    cv = data_sub.add_parser("convert", help="write XQuAD-R / MLQA-R as BEIR folders (with lang and group fields)")
    cv.add_argument("--to", required=True, choices=["beir"],
                    help="output format: beir = corpus.jsonl, queries.jsonl and qrels/test.tsv with lang/group fields")
    cv.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS, help="datasets to convert")
    add_data_dir(cv)
    cv.add_argument("--out", type=Path, required=True, help="folder that gets one sub-folder per dataset")
    cv.set_defaults(func=commands.cmd_data_convert, writes_run=False)

    se = sub.add_parser("search", help="top-k candidates for one query, or one per line of stdin (FAISS)")
    se.add_argument("query", nargs="?", default=None,
                    help="the question to search for; '-' or none: read one query per line from standard "
                         "input and answer each with the model and index loaded once")
    se.add_argument("--model", default="me5-small", help="registry name or a local sentence-transformers folder")
    se.add_argument("--dataset", default="xquad-r", choices=DATASETS, help="whose candidates to search")
    se.add_argument("--languages", nargs="+", default=None,
                    help="candidate languages (default: every language of the dataset)")
    se.add_argument("-k", type=positive_int, default=10, help="candidates to show (>= 1)")
    add_data_dir(se)
    se.set_defaults(func=commands.cmd_search, writes_run=False)


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class Parser(argparse.ArgumentParser):
    """An argument parser (and every sub-command's) whose help shows each option's default."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command."""
    parser = Parser(prog="python -m hybridir_core", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_job_commands(sub)
    _add_reading_commands(sub)
    return parser


def _work_dir(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """Where the job writes: ``--out``, or a staging sibling when ``--overwrite`` replaces a complete run.

    Raises:
        runs.RunError: ``--out`` is a complete run and ``--overwrite`` was not given.
    """
    out = Path(args.out)
    try:
        runs.validate_run_id(out.name)
    except runs.RunError as exc:
        parser.error(str(exc))
    if not runs.is_complete(out) or not hasattr(args, "overwrite"):
        return out
    if not args.overwrite:
        raise runs.RunError(f"{out} is a complete run; pass --overwrite to replace it (or choose another --out)")
    print(f"replacing the complete run {out} ({_replaced_protocol(out, args)}); it is kept until the new "
          "one is whole", file=sys.stderr)
    staged = runs.staging_dir(out)
    if os.environ.get("RANK", "0") == "0":
        shutil.rmtree(staged.parent, ignore_errors=True)  # what an interrupted --overwrite left
    return staged


def _replaced_protocol(out: Path, args: argparse.Namespace) -> str:
    """How the run being replaced differs from the new one, in words (``pipeline.mismatch``)."""
    try:
        why = pipeline.mismatch(out, job_from_args(args))
    except (ValueError, TypeError, OSError, DataError) as exc:  # the job's errors come later, in one line
        return f"its protocol not compared: {exc}"
    return f"it differs: {why}" if why else "the same protocol and recipe"


def _open_status(out: Path) -> runs.StatusWriter:
    if out.exists() and not out.is_dir():
        raise runs.RunError(f"--out {out}: a file of that name exists; the run directory must be a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        status = runs.StatusWriter(out)
        status.update(state="running", phase="starting", error=None)
    except OSError as exc:  # a file on the way, a read-only folder, a full disk
        raise runs.RunError(f"--out {out}: cannot write the run directory "
                            f"({exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''})") from None
    return status


def _finish(status: runs.StatusWriter | None, work: Path | None, out: Path | None) -> None:
    """Mark the run done; a replacement built beside ``out`` is swapped in now."""
    if status is None:
        return
    status.update(state="done", phase="done", message="finished")
    if work != out and os.environ.get("RANK", "0") == "0":
        runs.swap_in(work, out)


def _try_status(status: runs.StatusWriter, **fields) -> None:
    """Record a final state if the disk lets us (readers see a dead process as interrupted)."""
    try:
        status.update(**fields)
    except OSError:
        pass


def _fail(status: runs.StatusWriter | None, out: Path | None, exc: BaseException,
          replaced: Path | None = None) -> int:
    """Say an error in one line (the traceback of an unexpected one goes to error.log).

    ``replaced``: the complete run an ``--overwrite`` was replacing; it is kept as it was.
    """
    kept = f" ({replaced} is kept as it was)" if replaced is not None else ""
    if isinstance(exc, KeyboardInterrupt):
        if status:
            _try_status(status, state="cancelled", message="interrupted")
        print(f"interrupted{kept}", file=sys.stderr)
        return 130
    if isinstance(exc, _expected_errors()):
        if status:
            _try_status(status, state="failed", error=str(exc))
        print(f"error: {exc}{kept}", file=sys.stderr)
        return 2
    where = ""
    if status and out is not None:
        try:  # the disk may be what failed: the error still ends in one line
            (Path(out) / "error.log").write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
            where = f" (traceback in {Path(out) / 'error.log'})"
            status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        except OSError as write_error:
            where += f" (status.json not updated: {write_error.strerror or write_error})"
    print(f"error: unexpected {type(exc).__name__}: {exc}{where}{kept}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on an expected error, 1 on an unexpected one."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    out = getattr(args, "out", None)
    try:
        work = _work_dir(parser, args) if args.writes_run else None
        status = _open_status(work) if work is not None else None
    except runs.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if work is not None:
        args.out = work
    progress = ProgressReporter(status)
    try:
        args.func(args, progress)
        _finish(status, work, out)
    except BaseException as exc:  # noqa: BLE001 - every failure ends in one line (or 130)
        progress.close()
        if isinstance(exc, SystemExit):
            raise
        replaced = out if work is not None and work != out else None
        return _fail(status, work, exc, replaced)
    return 0

"""The sub-commands of ``python -m hybridir_core``: each turns parsed options into
configuration objects and calls orchestration (``pipeline``, ``report``, ``export``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hybridir_core import paths
from hybridir_core.analysis.export import comparison_frame, to_csv_bytes
from hybridir_core.analysis.family_cache import FILE_NAME, runs_key, write
from hybridir_core.analysis.family_text import to_json, to_latex
from hybridir_core.analysis.report import DEFAULT_BOOTSTRAP, findings_markdown, one_run_per_seed, study_tables
from hybridir_core.cli.launch import run_cells
from hybridir_core.cli.options import eval_config_from_args, job_from_args, parse_recipe, train_config_from_args
from hybridir_core.cli.progress import ProgressReporter
from hybridir_core.config import JobConfig
from hybridir_core.data.fetch import fetch_all
from hybridir_core.data.qa_pairs import overlap_report
from hybridir_core.jobs import pipeline
from hybridir_core.jobs.queue import run_worker
from hybridir_core.models.registry import build_card, ensure_built, is_built, list_models, resolve_cache_dir
from hybridir_core.runs import directory as runs


def print_summary(summaries: dict) -> None:
    """A short table of the aggregates per dataset."""
    print(f"{'dataset':<9} {'mono':>7} {'cross':>7} {'multi':>7} {'rankdist':>9} "
          f"{'encode_s':>9} {'metrics_s':>9}")
    for name, m in summaries.items():
        print(f"{name:<9} {m['mono_map']:7.4f} {m['cross_map']:7.4f} {m['multi_map']:7.4f} "
              f"{m['mean_rank_distance']:9.2f} {m['encode_seconds']:9.1f} {m['metrics_seconds']:9.2f}")


def print_training(run_dir: Path) -> None:
    """One line on a finished training (steps, throughput, composition, losses)."""
    stats = runs.read_json(Path(run_dir) / runs.TRAIN_STATS)
    comp = stats["composition"]
    print(f"trained {stats['steps']} steps in {stats['wall_seconds']:.0f}s "
          f"({stats['pairs_per_second']} pairs/s); batches mono={comp['mono_batches']} "
          f"cross={comp['cross_batches']} mixed={comp['mixed_batches']}; "
          f"train loss {stats['final_train_loss']}, validation loss {stats['final_validation_loss']}")


def execute(job: JobConfig, run_dir: Path, progress: ProgressReporter) -> None:
    """Run a job into ``run_dir`` and print what it measured."""
    summaries = pipeline.run_job(job, run_dir, progress)
    progress.close()
    if summaries and job.train is not None:
        print_training(run_dir)
    if summaries:
        print_summary(summaries)


def cmd_job(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``evaluate`` and ``train``."""
    execute(job_from_args(args), args.out, progress)


def cmd_run(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``run <run-dir>``: the job configuration stored in the run directory."""
    job = JobConfig.from_dict(runs.read_request(args.out))
    execute(job, args.out, progress)


def cmd_sweep(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """A grid of train runs from one base configuration; complete runs are skipped."""
    model = args.models[0]
    base = JobConfig("train", eval_config_from_args(args, model),
                     train_config_from_args(args, model, "hybrid", 0.5, args.seeds[0], args.steps[0]))
    cells = pipeline.sweep_grid(base, args.models, args.sampling, args.alphas, args.seeds, args.steps)
    skipped, failed = run_cells(args, cells, args.out)
    print(f"sweep: {len(cells)} runs, {len(skipped)} already complete, {len(failed)} failed")
    if failed:
        raise ValueError(f"{len(failed)} run(s) failed: {', '.join(failed)} (see their status.json / "
                         "error.log; rerun the sweep to retry them)")


def cmd_worker(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """The job queue's worker (``jobs.run_worker``)."""
    run_worker(args.runs_dir or paths.runs_root(), args.idle_exit)


def cmd_data_fetch(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``data fetch``: every corpus at its pinned URL, sha256-checked (``fetch.fetch_all``)."""
    done = fetch_all(args.dest, args.datasets, args.trust_on_first_use)
    for path, what in done.items():
        print(f"{what:<10} {path}")


def cmd_data_overlap(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``data overlap``: what XQuAD-R shares with MLQA-R, and the training pairs left out for it."""
    report = overlap_report(args.data_dir)
    print(f"XQuAD-R vs MLQA-R, {report['match']}")
    for kind in ("sentences", "questions"):
        c = report[kind]
        print(f"  {kind:<10} {c['total']:>6}  exact {c['exact']:>3}  shared n-gram {c['ngram']:>3}")
    print(f"  training questions ({' '.join(report['training_languages'])}): {report['questions_kept']} kept, "
          f"{report['questions_left_out']} left out (a text of theirs matches MLQA-R in some language)")
    if args.out is not None:
        text = json.dumps(report, indent=2) + "\n"
        runs.atomic_write(args.out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def cmd_data_convert(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``data convert --to beir``: each built-in dataset, whole, as a BEIR folder (``folders.write_beir``)."""
    from hybridir_core.data.folders import dataset_name, write_beir
    from hybridir_core.data.lareqa import load_lareqa

    for name in args.datasets:
        data = load_lareqa(name, args.data_dir)
        folder = write_beir(data, Path(args.out) / name)
        print(f"{name}: {len(data.questions)} queries, {len(data.candidates)} candidates, "
              f"{len(data.languages)} languages -> {folder} (dataset name {dataset_name(folder)})")


def cmd_figures(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``figures``: the Answer page's figures for folders of runs (``figure_export``)."""
    from hybridir_core.analysis.figure_export import answer_figures, write_figures

    roots = [Path(p) for p in args.roots] or [paths.reference_root()]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"{root}: no such folder of runs")
    figs = answer_figures(unique_runs(roots), roots if len(roots) == 1 else ())
    if not figs:
        raise ValueError("no model has hybrid(alpha 0.5) and mono runs on MLQA-R in "
                         + ", ".join(map(str, roots)) + ": nothing to draw")
    for path in write_figures(figs, args.out, args.formats):
        print(path)


def cmd_resummarise(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """Recompute ``metrics.json`` of finished runs from their ranks (no encoding)."""
    from hybridir_core.evaluation.evaluate import resummarise_run

    for run_dir in args.run_dirs:
        summaries = resummarise_run(Path(run_dir))
        print(f"{run_dir}: " + "; ".join(
            f"{name} Mono {m['mono_map']:.4f} Cross {m['cross_map']:.4f} Multi {m['multi_map']:.4f} "
            f"rank dist. {m['mean_rank_distance']:.1f} (micro {m['mean_rank_distance_micro']:.1f})"
            for name, m in summaries.items()))


def readable_runs(run_dirs: list[Path], strict: bool = False) -> list[runs.Run]:
    """The runs of ``run_dirs`` that load; each other one is named on stderr with the reason.

    Raises:
        runs.RunError: ``strict`` and a run does not load, or none of them does.
    """
    found, reasons = [], {}
    for path in run_dirs:
        try:
            found.append(runs.load_run(path))
        except runs.RunError as exc:
            if strict:
                raise runs.RunError(f"{exc} (--strict: nothing written)") from None
            reasons[path] = exc
    if not found and len(run_dirs) == 1:
        raise reasons[run_dirs[0]]  # the one run given: its reason is the error
    for path, exc in reasons.items():
        print(f"skipped {path}: {exc}", file=sys.stderr)
    if not found:
        raise runs.RunError(f"none of the {len(run_dirs)} run folder(s) given is a readable complete run")
    return found


def cmd_export(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """The comparison CSV of the readable runs among ``run_dirs`` (``--strict``: all or nothing)."""
    frame = comparison_frame(readable_runs([Path(p) for p in args.run_dirs], args.strict))
    out = Path(args.out)
    runs.atomic_write(out, lambda tmp: tmp.write_bytes(to_csv_bytes(frame)))
    print(f"wrote {len(frame)} rows to {out}")


def cmd_models(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """Build offline models, or list the registry with each offline model's build state."""
    for name in args.build or []:
        print(f"{name}: {ensure_built(name)}")
    if args.build:
        return
    for spec in list_models():
        state = ""
        if spec.source == "offline":
            built = is_built(resolve_cache_dir() / spec.name, spec.name)
            card = build_card(spec.name) if built else None
            state = "built" if built else "not built"
            if card:
                state += (f" (val. MSE {card['final_validation_mse']:.2e}, {card['config']['steps']} steps, "
                          f"{card['wall_seconds'] / 60:.0f} min)")
        non_emb = f"{spec.non_embedding_params / 1e6:5.1f}M" if spec.non_embedding_params is not None else "    ?"
        print(f"{spec.name:<14} {spec.source:<8} {spec.scale:<8} layers={spec.layers:<3} "
              f"params={spec.params / 1e6:6.1f}M non-embedding={non_emb}  {state:<12} {spec.description}")


def cmd_search(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """One query from the command line, or (``-`` or none) one per line of standard input, each
    answered by the same loaded model and index with its time in seconds."""
    import time

    from hybridir_core.evaluation.retrieval import Searcher, check_query

    one = args.query not in (None, "-")
    if one:
        check_query(args.query, args.k)  # before the model loads
    searcher = Searcher(args.model, args.dataset, args.languages, args.data_dir, progress)
    queries = [args.query] if one else _stdin_queries()
    for query in queries:
        start = time.perf_counter()
        hits = searcher.search(query, args.k)
        for hit in hits:
            print(f"{hit['rank']:>3}  {hit['score']:.4f}  [{hit['lang']}]  {hit['text'][:110]}")
        if not one:
            print(f"({time.perf_counter() - start:.2f} s)", flush=True)


def _stdin_queries():
    """Non-empty lines of standard input; a prompt first where a person types them."""
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("query> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        if line.strip():
            yield line.strip()


def unique_runs(roots: list[Path]) -> list[runs.Run]:
    """The complete runs under ``roots``, each run id once; prints what it skips and why."""
    listing = runs.list_runs(*roots)
    for path, reason in listing.unreadable.items():
        print(f"skipped {path}: {reason}", file=sys.stderr)
    found: dict[str, runs.Run] = {}
    for run in listing.runs:  # the same run id in two folders would count twice
        if run.run_id in found:
            print(f"skipped {run.path}: same run id as {found[run.run_id].path}", file=sys.stderr)
        else:
            found[run.run_id] = run
    return list(found.values())


def cmd_report(args: argparse.Namespace, progress: ProgressReporter) -> None:
    roots = [Path(p) for p in args.roots] or [paths.reference_root()]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"{root}: no such folder of runs")
    comparisons = [(parse_recipe(a), parse_recipe(b)) for a, b in args.compare] if args.compare else None
    found = unique_runs(roots)
    check = {"n_resamples": args.resamples, "seed": args.bootstrap_seed}
    tables = study_tables(found, comparisons, folders=roots if len(roots) == 1 else (), bootstrap=check)
    if len(roots) == 1 and not tables.families.empty:  # beside the runs they came from (the dashboard reads them)
        key = runs_key(one_run_per_seed(found)[0], {**DEFAULT_BOOTSTRAP, **check})
        write(roots[0] / FILE_NAME, key, (tables.families, tables.paper))
    if args.json:
        runs.atomic_write(Path(args.json), lambda tmp: tmp.write_text(to_json(tables.families), encoding="utf-8"))
        print(f"wrote {args.json}", file=sys.stderr)
    render = {"markdown": lambda: findings_markdown(tables) + "\n", "json": lambda: to_json(tables.families),
              "latex": lambda: to_latex(tables.families), "csv": lambda: tables.families.to_csv(index=False)}
    text = render[args.format]()
    if args.out:
        runs.atomic_write(Path(args.out), lambda tmp: tmp.write_text(text, encoding="utf-8"))
        print(f"wrote {args.out}")
    else:
        print(text, end="")


def cmd_compare(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``compare A B``: run A - run B on their shared questions and languages, the differing protocol
    fields first (``comparison.compare_pair``)."""
    from hybridir_core.analysis.comparison import compare_pair, run_label

    run_a, run_b = (runs.load_run(Path(p)) for p in (args.run_a, args.run_b))
    ground, table = compare_pair(run_a, run_b, args.resamples)
    print(f"A = {run_label(run_a)}\nB = {run_label(run_b)}")
    if ground.differing:
        print(f"protocols differ in: {', '.join(ground.differing)}")
    if ground.other_protocol:
        print(f"not a comparison of recipes under one protocol: {', '.join(ground.other_protocol)} differ")
    for note in ground.notes:
        print(note)
    columns = ["dataset", "measure", "n_queries", "n_clusters", "diff", "ci_low", "ci_high", "p_value", "p_holm"]
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("diff = A - B (macro mean over query languages); 95% interval and p: intervals.recipe_difference "
          "(question clusters, seeds), Holm over the rows")


def cmd_reproduce(args: argparse.Namespace, progress: ProgressReporter) -> None:
    """``reproduce``: list (``--dry-run``) or rebuild every run that ``results/`` ships, part by part,
    into ``--out/<folder>/<run id>``; complete runs of the same protocol are skipped (resumable)."""
    from hybridir_core.jobs import reproduce

    planned = reproduce.plan(args.results, args.only)
    rates = reproduce.measured_rates(planned, args.out)
    left = 0.0
    for item in planned:
        done = runs.is_complete(Path(args.out) / item.folder / item.cell.run_id)
        seconds, source = rates.eta(item.cell)
        left += 0 if done or seconds is None else seconds
        kind = item.cell.job.kind
        print(f"{item.part:<8} {item.folder + '/' + item.cell.run_id:<56} {kind:<8} "
              f"{'complete' if done else 'ETA ' + reproduce.format_seconds(seconds):<16} ({source})")
    for name, seconds in reproduce.student_builds(planned, args.results):
        left += seconds or 0
        print(f"{'build':<8} {name:<56} {'model':<8} {'ETA ' + reproduce.format_seconds(seconds):<16} "
              "(its build card; built by the first run that needs it)")
    print(f"reproduce: {len(planned)} shipped runs, about {reproduce.format_seconds(left)} left on this machine")
    if args.dry_run:
        return
    for folder in dict.fromkeys(item.folder for item in planned):
        cells = [item.cell for item in planned if item.folder == folder]
        _, failed = run_cells(args, cells, Path(args.out) / folder)
        if failed:
            raise ValueError(f"{len(failed)} run(s) failed in {folder}: {', '.join(failed)}; rerun to retry them")

"""Streamlit glue shared by the pages: cached reads, run pickers, empty and error states.

Everything computed here is a call into ``hybridir_core``; this module only caches the results
(``st.cache_data`` keyed on the run files' paths and modification times) and draws widgets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from hybridir_core import paths
from hybridir_core.analysis import comparison, report, stats
from hybridir_core.analysis import published as published_numbers
from hybridir_core.analysis.figure_export import FORMATS, figure_bytes
from hybridir_core.evaluation import bias, metrics
from hybridir_core.jobs import queue as jobs
from hybridir_core.jobs.launchers import LaunchError, cancel
from hybridir_core.runs import directory as runs
from hybridir_core.runs import measures, protocol

STUDY_DATASET = "mlqa-r"
"""The study's evaluation set (its runs train on XQuAD-R, so they are scored on MLQA-R only)."""
STUDY_MODEL = "me5-small"
"""The rung every page opens on: the ladder's top, where the declared confirmatory seeds run."""
STUDY_RECIPES = {"mono": 1.0, "hybrid": 0.5, "cross": 0.0}
"""The three recipes the study compares, by sampling strategy and α."""
PREF = "pref."
NA = "–"

FIRST_RUN = ("python -m hybridir_core evaluate --model me5-small --dataset mlqa-r "
             "--limit-per-lang 50 --out runs/zs-me5-small-quick")
TRAIN_PAGE = "views/train.py"


def roots() -> tuple[Path, Path]:
    """(local runs root, reference runs root), from the environment or the defaults."""
    return paths.runs_root(), paths.reference_root()


@st.cache_data(show_spinner=False, max_entries=16)
def _listing(runs_root: str, ref_root: str, signature: tuple) -> runs.RunListing:
    return runs.list_runs(Path(runs_root), reference_roots=(Path(ref_root),))


def listing() -> runs.RunListing:
    """Every run found (complete, unreadable with the reason, in progress); cached on the files."""
    runs_root, ref_root = roots()
    return _listing(str(runs_root), str(ref_root), runs.runs_signature(runs_root, ref_root))


def _stamp(run: runs.Run) -> tuple:
    files = [run.path / runs.RANKS, run.path / runs.METRICS]
    return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in files)


@st.cache_data(show_spinner=False, max_entries=64)
def _ranks(path: str, stamp: tuple) -> pd.DataFrame:
    return runs.read_ranks(Path(path))


def ranks(run: runs.Run) -> pd.DataFrame:
    return _ranks(str(run.path), _stamp(run))


# What the pages compute from the ranks tables of one run or two, by name; one cache serves them all
# (the findings over every run are ``declared_families``, read from disk).
_FROM_RANKS: dict[str, Callable[..., pd.DataFrame]] = {
    "per_query": metrics.per_query_scores,
    "rank_distances": bias.rank_distances,
    "by_candidate_language": bias.rank_by_candidate_language,
}


@st.cache_data(show_spinner=False, max_entries=128)
def _from_ranks(name: str, files: tuple[tuple[str, tuple], ...], args: tuple) -> pd.DataFrame:
    return _FROM_RANKS[name](*(_ranks(path, stamp) for path, stamp in files), *args)


def from_ranks(name: str, chosen: list[runs.Run], *args, spinner: str = "") -> pd.DataFrame:
    """``_FROM_RANKS[name]`` of the ranks of ``chosen`` and ``args``, cached on the runs' files.

    ``spinner`` shows only when the call takes longer than half a second (a cache miss)."""
    files = tuple((str(run.path), _stamp(run)) for run in chosen)
    with st.spinner(spinner) if spinner else contextlib.nullcontext():
        return _from_ranks(name, files, args)


def per_query(run: runs.Run) -> pd.DataFrame:
    """``metrics.per_query_scores`` of the run's ranks."""
    return from_ranks("per_query", [run])


def rank_distances(run: runs.Run) -> pd.DataFrame:
    return from_ranks("rank_distances", [run])


def by_candidate_language(run: runs.Run) -> pd.DataFrame:
    return from_ranks("by_candidate_language", [run])


# What the pages compute from two runs on their common ground (``analysis.comparison``: their protocols
# and ranks cut to the shared questions and languages), by name, cached on the runs' files.
_ON_COMMON_GROUND: dict[str, Callable] = {
    "compare": comparison.compare_pair,
    "matrices": comparison.restricted_matrices,
    "cell_tests": lambda a, b, dataset, value: stats.cell_tests(
        *(comparison.restrict(r.ranks, comparison.common_ground(a, b)) for r in (a, b)), dataset, value),
}


@st.cache_data(show_spinner=False, max_entries=32)
def _on_common_ground(name: str, files: tuple[tuple[str, tuple], ...], args: tuple):
    return _ON_COMMON_GROUND[name](*(runs.load_run(Path(path)) for path, _ in files), *args)


def on_common_ground(name: str, run_a: runs.Run, run_b: runs.Run, *args, spinner: str = ""):
    files = tuple((str(run.path), _stamp(run)) for run in (run_a, run_b))
    with st.spinner(spinner) if spinner else contextlib.nullcontext():
        return _on_common_ground(name, files, args)


def compare(run_a: runs.Run, run_b: runs.Run, n_resamples: int) -> tuple[comparison.CommonGround, pd.DataFrame]:
    """``comparison.compare_pair``: the runs' common ground and A - B on it (seeded, so stable)."""
    return on_common_ground("compare", run_a, run_b, n_resamples, spinner="Computing the intervals…")


def restricted_matrices(run_a: runs.Run, run_b: runs.Run):
    """Both runs' matrices on their shared questions and languages, and that common ground."""
    return on_common_ground("matrices", run_a, run_b)


def cell_tests(run_a: runs.Run, run_b: runs.Run, dataset: str, value: str) -> pd.DataFrame:
    return on_common_ground("cell_tests", run_a, run_b, dataset, value, spinner="Testing each cell…")


@st.cache_data(show_spinner=False, max_entries=8)
def _declared_families(signature: tuple, ref_root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    bar = st.progress(0.0, text="Computing the declared families for a new set of runs…")
    frames = report.cached_families(listing().runs, folders=(Path(ref_root),),
                                    progress=lambda share, what: bar.progress(share, text=what))
    bar.empty()
    return frames


def declared_families() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The declared families and the paper-vs-here table of every loadable run: read from
    ``families.json`` beside the shipped runs when they are the same runs, else computed once
    (with a progress bar) and cached on disk; cached in memory on the run files."""
    runs_root, ref_root = roots()
    return _declared_families(runs.runs_signature(runs_root, ref_root), str(ref_root))


@st.cache_data(show_spinner=False)
def published() -> published_numbers.Published:
    return published_numbers.load_published()


def label(run: runs.Run) -> str:
    """A run's name on every page; reference runs say so."""
    return f"{run.run_id} (reference run)" if run.reference else run.run_id


def long_label(run: runs.Run) -> str:
    """``label`` with the evaluation where partial: ``zs (quick: 20/lang · 2 languages)`` (comparisons)."""
    return label(run) + comparison.run_label(run)[len(run.run_id):]


def pick_run(title: str, choices: list[runs.Run], key: str, index: int = 0,
             container=st.sidebar) -> runs.Run:
    labels = [label(r) for r in choices]
    opening = {} if key in st.session_state else {"index": min(index, len(labels) - 1)}
    chosen = container.selectbox(title, labels, key=key, **opening)
    return choices[labels.index(chosen)]


def pick_runs(title: str, choices: list[runs.Run], key: str, default: int | None = None,
              container=st.sidebar) -> list[runs.Run]:
    labels = [label(r) for r in choices]
    opening = {} if key in st.session_state else {"default": labels[:default] if default else labels}
    chosen = container.multiselect(title, labels, key=key, **opening)
    return [choices[labels.index(c)] for c in chosen]


def datasets_of(selected: list[runs.Run]) -> list[str]:
    """The datasets these runs were evaluated on, XQuAD-R first (the protocol's order)."""
    return measures.dataset_order({d for r in selected for d in r.metrics})


def require_runs(min_runs: int = 1) -> list[runs.Run] | None:
    """The loadable runs, or None after drawing how to make the first run."""
    found = listing()
    show_unreadable(found, compact=True)
    if len(found.runs) >= min_runs:
        return found.runs
    if found.runs:
        st.info(f"This page needs at least {min_runs} runs; {len(found.runs)} found so far.")
    empty_state()
    return None


def empty_state() -> None:
    """How to make the first run: the CLI command and the Train page."""
    runs_root, _ = roots()
    st.info(f"No finished runs in `{runs_root}` yet. Make the first one from the command line "
            "(a quick zero-shot evaluation, a few minutes on a laptop CPU):")
    st.code(FIRST_RUN, language="bash", wrap_lines=True)
    st.page_link(TRAIN_PAGE, label="…or launch it from the Train & evaluate page", icon=":material/rocket_launch:")


def show_unreadable(found: runs.RunListing, compact: bool = False) -> None:
    """List run folders that are not shown, with the reason; the other runs still show.

    Failed or cancelled jobs (no ``metrics.json``) are unfinished, not broken: they get a quiet
    note; damaged run folders get a warning.
    """
    for folder, held in sorted(found.folders.items()):
        st.caption(f"`{folder}` holds {held} run(s) of its own, not shown here: start the dashboard "
                   f"with `{paths.RUNS_DIR_ENV}={folder}` to browse them.")
    unfinished = {p: why for p, why in found.unreadable.items() if why.startswith("incomplete run")}
    broken = {p: why for p, why in found.unreadable.items() if p not in unfinished}
    if not found.unreadable:
        return

    def lines(items: dict) -> str:
        return "\n".join(f"- `{p.name}`: {why}" for p, why in sorted(items.items()))

    if compact:
        with st.expander(f"{len(found.unreadable)} run folder(s) not shown (unreadable or unfinished)"):
            st.markdown(lines(found.unreadable))
        return
    if broken:
        st.warning(f"{len(broken)} run folder(s) could not be read and are left out:\n\n{lines(broken)}")
    if unfinished:
        with st.expander(f"{len(unfinished)} unfinished run folder(s) (failed or cancelled jobs)"):
            st.markdown(lines(unfinished))


def shown_path(path: Path) -> Path:
    """``path`` as a reader types it: relative to the working folder where it lies inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def sidebar_footer() -> None:
    runs_root, ref_root = roots()
    st.sidebar.caption(f"Runs: `{shown_path(runs_root)}`  \nReference runs: `{shown_path(ref_root)}`")


def published_notice(pub: published_numbers.Published) -> None:
    if pub.available:
        st.caption(f"{pub.citation} {pub.setup}")
        with st.expander("Where these numbers come from"):
            st.markdown(pub.provenance)
    else:
        st.info(f"The published numbers of {pub.short} are not bundled ({pub.provenance or 'no data file'}); "
                "only the citation is shown.")


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _cancel(run_id: str, runs_root: Path) -> None:
    try:
        jobs.cancel(run_id, runs_root)
    except jobs.JobError as exc:
        st.toast(str(exc))


def job_card(job: jobs.Job, runs_root: Path, position: int | None = None) -> None:
    """One job: state, progress bar with phase and time left, cancel button, error in words."""
    status = job.status
    with st.container(border=True):
        head, action = st.columns([5, 1])
        icon = {"queued": ":material/schedule:", "running": ":material/autorenew:",
                "done": ":green[:material/check_circle:]", "failed": ":red[:material/error:]",
                "cancelled": ":material/cancel:", "interrupted": ":orange[:material/warning:]"}.get(job.state, "")
        head.markdown(f"{icon} `{job.run_id}` · {job.state}")
        head.caption(job.description)
        if job.active and not job.stale:
            action.button("Cancel", key=f"cancel-{job.run_id}", on_click=_cancel,
                          args=(job.run_id, runs_root), width="stretch")
        if job.state == "running":
            step, total = status.get("step") or 0, status.get("total") or 0
            counts = f" {step}/{total}" if total else ""
            st.progress(job.fraction, text=f"{status.get('phase') or 'starting'}{counts} · "
                                           f"time left in this phase: {fmt_seconds(job.eta_seconds)}")
        elif job.state == "queued":
            st.caption(f"Queued{f' (position {position})' if position else ''}: it starts when the jobs before it end.")
        elif job.state == "done":
            st.caption("Finished: see Language matrices, Trade-offs and Compare & export.")
        elif job.state in ("failed", "interrupted"):
            st.error(status.get("error") or "The job was interrupted: its process is gone (the queue "
                                            "marks it failed when its worker restarts). Submit it again.")
        elif job.state == "cancelled":
            st.caption(status.get("message") or "Cancelled.")
        if job.state in ("running", "failed", "interrupted"):
            with st.expander("log (last lines)"):
                st.code(job.log_tail(30) or "(empty)", language="text")


def _cancel_slurm(path: Path) -> None:
    try:
        cancel(path, wait_s=5.0)
    except LaunchError as exc:
        st.toast(str(exc))


def slurm_card(run) -> None:
    """A run sent to Slurm: the scheduler's state beside the run's own progress; cancel = scancel."""
    status = run.status
    with st.container(border=True):
        head, action = st.columns([5, 1])
        head.markdown(f"`{run.run_id}` · Slurm job {run.job_id} · **{run.state}** · run {status.get('state', '?')}")
        if run.active:
            action.button("Cancel", key=f"scancel-{run.run_id}", on_click=_cancel_slurm, args=(run.path,),
                          width="stretch")
        if run.state == "running" and status.get("total"):
            step, total = status.get("step") or 0, status["total"]
            st.progress(min(step / total, 1.0), text=f"{status.get('phase') or 'starting'} {step}/{total}")
        elif status.get("error"):
            st.error(status["error"])


def chart(fig, key: str, **kwargs):
    """``st.plotly_chart`` with SVG, PNG and PDF downloads of the figure (rendered on click).

    The chart's own camera button saves SVG too (in the browser, no export engine needed).
    """
    config = {"toImageButtonOptions": {"format": "svg", "filename": key}, "displaylogo": False}
    event = st.plotly_chart(fig, key=key, config=config, **kwargs)
    for column, fmt in zip(st.columns(len(FORMATS) + 4), FORMATS):
        column.download_button(fmt.upper(), partial(figure_bytes, fig, fmt), file_name=f"{key}.{fmt}",
                               mime=FORMATS[fmt], key=f"{key}_download_{fmt}", on_click="ignore",
                               icon=":material/download:", help=f"download this figure as {fmt.upper()}")
    return event


# -- choices the pages share ----------------------------------------------------------------------

def _remember(name: str, key: str) -> None:
    st.session_state[PREF + name] = st.session_state[key]


def remembered(name: str, default=None):
    """The reader's last choice of ``name`` on any page (``default`` before the first one)."""
    return st.session_state.get(PREF + name, default)


def shared_choice(label: str, options: list, name: str, key: str, default=None, container=None,
                  widget: str = "selectbox", **kwargs):
    """A select box or radio that opens on the reader's last choice of ``name`` on any page.

    Streamlit forgets a widget's state when a page without it runs, so the choice is kept under
    its own session key and put back before the widget is drawn.
    """
    container = container if container is not None else st.sidebar
    wanted = remembered(name, default)
    if st.session_state.get(key) not in options:
        st.session_state[key] = wanted if wanted in options else (default if default in options else options[0])
    return getattr(container, widget)(label, options, key=key, on_change=_remember, args=(name, key), **kwargs)


def follow(key: str, basis, value, options: list | None = None) -> None:
    """Open widget ``key`` on ``value``, the default that ``basis`` (a rung, a dataset) gives, until
    the reader picks something else; the pick is kept across pages until ``basis`` changes.

    Call it before drawing the widget: the widget's last value is in the session by then.
    """
    marker = PREF + key + ".basis"
    if st.session_state.get(marker) != basis:
        st.session_state[marker] = basis
        st.session_state[key] = value
    elif key not in st.session_state:
        st.session_state[key] = st.session_state.get(PREF + key, value)
    current = st.session_state[key]
    if options is not None and not (set(current) <= set(options) if isinstance(current, list) else current in options):
        st.session_state[key] = value
    st.session_state[PREF + key] = st.session_state[key]


def dataset_choice(datasets: list[str], key: str, container=None) -> str:
    """The dataset select box; opens on MLQA-R (the study's) or the reader's last choice."""
    default = STUDY_DATASET if STUDY_DATASET in datasets else datasets[0]
    return shared_choice("Dataset", datasets, "dataset", key, default, container)


def recipe_runs(found: list[runs.Run], model: str, seed: int | None, dataset: str) -> dict[str, runs.Run]:
    """The study's three recipes (mono, hybrid α = 0.5, cross) of ``model`` and ``seed`` evaluated on
    ``dataset``, by strategy; reference runs first where a local run repeats one."""
    picked: dict[str, runs.Run] = {}
    for run in sorted(found, key=lambda r: not r.reference):
        info = protocol.describe_run(run)
        alpha = STUDY_RECIPES.get(info["sampling"])
        if (alpha is not None and info["model"] == model and info["seed"] == seed and dataset in run.metrics
                and info["alpha"] == alpha and info["mix"] in (None, "per-batch")):
            picked.setdefault(info["sampling"], run)
    return {s: picked[s] for s in STUDY_RECIPES if s in picked}


def rungs(found: list[runs.Run], dataset: str) -> list[str]:
    """Models with all three recipes on ``dataset`` (for some seed), shallowest first."""
    seen: dict[tuple[str, object], set[str]] = {}
    layers: dict[str, int] = {}
    for run in found:
        info = protocol.describe_run(run)
        if dataset in run.metrics and info["sampling"] in STUDY_RECIPES:
            seen.setdefault((info["model"], info["seed"]), set()).add(info["sampling"])
            layers[info["model"]] = info["layers"] or 0
    complete = {m for (m, _), s in seen.items() if s >= set(STUDY_RECIPES)}
    return sorted(complete, key=lambda m: (layers[m], m))


def study_runs(found: list[runs.Run], dataset: str, key: str) -> list[runs.Run]:
    """Rung and seed pickers (remembered across pages) and the three recipe runs they name;
    empty when no model has all three recipes on ``dataset``."""
    models = rungs(found, dataset)
    if not models:
        return []
    model = shared_choice("Rung (study runs)", models, "rung", f"{key}_rung",
                          STUDY_MODEL if STUDY_MODEL in models else models[-1])
    seeds = sorted({protocol.describe_run(r)["seed"] for r in found
                    if protocol.describe_run(r)["model"] == model} - {None})
    seed = shared_choice("Seed", seeds, "seed", f"{key}_seed", 0 if 0 in seeds else seeds[0])
    return list(recipe_runs(found, model, seed, dataset).values())


# -- tables ---------------------------------------------------------------------------------------

COLUMN_LABELS = {
    **{m.column: m.label for m in measures.MEASURE_TABLE}, "median_rank_distance": "median rank distance",
    "multi_recall_at_10": "Multi Recall@10", "n_seeds": "seeds", "seeds": "seed ids", "n_questions": "questions",
    "n_queries": "queries", "alpha": "α", "limit_per_lang": "questions per language",
    "query_lang": "query language", "candidate_lang": "candidate language", "mean_rank": "mean rank",
    "ap": "AP", "recall_at_1": "Recall@1", "recall_at_10": "Recall@10", "question_id": "question id",
    "trained_on": "trained on", "rank_multi": "pooled rank", "rank_in_lang": "rank in its language",
    "map": "mAP",
}
_SUFFIXES = {"_mean": "", "_std": " (sd)", "_a": " A", "_b": " B"}


def column_label(name: str) -> str:
    """A column's name for readers: ``mono_map`` -> ``Mono mAP``, ``mono_map_std`` -> ``Mono mAP (sd)``,
    Home's ``mlqa-r Mono`` -> ``mlqa-r Mono mAP``."""
    name = str(name)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    for suffix, word in _SUFFIXES.items():
        if name.endswith(suffix) and name[: -len(suffix)] in COLUMN_LABELS:
            return COLUMN_LABELS[name[: -len(suffix)]] + word
    for setting in ("Mono", "Cross", "Multi"):
        if name.endswith(f" {setting}"):
            return f"{name} mAP"
    return name.replace("_", " ")


def column_format(name: str, values: pd.Series, other: str | None = None) -> str | None:
    """How a column's numbers are written: 3 decimals for mAP and recall, whole numbers for ranks
    and counts, α as given, ``other`` (else 3 significant digits) for the rest; None for text."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    base = next((str(name)[: -len(x)] for x in _SUFFIXES if str(name).endswith(x)), str(name))
    declared = {m.column: m for m in measures.MEASURE_TABLE}
    if base in declared or name in declared:  # the measure table says how its values are written
        return f"{{:,.{declared.get(name, declared.get(base)).digits}f}}"
    lowered = str(name).lower()
    words = set(lowered.replace("-", "_").replace(" ", "_").replace(".", "").split("_"))
    if name == "alpha":
        return "{:g}"
    if "rank" in words or "dist" in words or "distance" in words:
        return "{:,.0f}"
    if words & {"map", "ap", "recall", "mono", "cross", "multi", "diff", "ci", "low", "high"}:
        return "{:.3f}"
    if other is None and (pd.api.types.is_integer_dtype(values) or values.dropna().mod(1).eq(0).all()):
        return "{:.0f}"
    return other or "{:.3g}"


def styled(frame: pd.DataFrame, other: str | None = None):
    """``frame`` for reading: human column labels, numbers formatted by ``column_format`` (``other``
    for columns it does not name), "–" where a value does not apply (None or NaN)."""
    labels = {c: column_label(c) for c in frame.columns}
    if len(set(labels.values())) < len(labels):  # two columns would read alike: keep the names
        labels = {c: str(c) for c in frame.columns}
    formats = {labels[c]: f for c in frame.columns if (f := column_format(c, frame[c], other))}
    shown = frame.rename(columns=labels)
    return shown.style.format(formats, na_rep=NA)


def table(frame: pd.DataFrame, other: str | None = None, **kwargs) -> None:
    """``st.dataframe`` of ``styled(frame, other)``, index hidden unless asked; the browser draws
    missing cells itself, so they get the same "–" as a placeholder."""
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("placeholder", NA)
    st.dataframe(styled(frame, other), **kwargs)

"""Streamlit glue shared by the pages: cached reads, run pickers, empty and error states.

Everything computed here is a call into ``hybridir_core``; this module only caches the results
(``st.cache_data`` keyed on the run files' paths and modification times) and draws widgets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from hybridir_core import paths
from hybridir_core.analysis import published as published_numbers
from hybridir_core.analysis import report, stats
from hybridir_core.evaluation import bias, metrics
from hybridir_core.jobs import queue as jobs
from hybridir_core.jobs.launchers import LaunchError, cancel
from hybridir_core.runs import directory as runs
from hybridir_core.runs import measures

FIRST_RUN = ("python -m hybridir_core evaluate --model me5-small --dataset xquad-r "
             "--limit-per-lang 50 --out runs/zs-me5-small-quick")
TRAIN_PAGE = "pages/train.py"


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


# What the pages compute from runs, by name: from their ranks tables (one run, or two), or from
# every loadable run. One cache of each kind below serves them all.
_FROM_RANKS: dict[str, Callable[..., pd.DataFrame]] = {
    "per_query": metrics.per_query_scores,
    "rank_distances": bias.rank_distances,
    "by_candidate_language": bias.rank_by_candidate_language,
    "compare": lambda a, b, n_resamples: stats.compare_runs(a, b, n_resamples=n_resamples),
    "cell_tests": stats.cell_tests,
}
_FROM_ALL_RUNS: dict[str, Callable[..., pd.DataFrame]] = {
    "verdict": report.verdict_table,
    "scale_change": report.scale_table,
}


@st.cache_data(show_spinner=False, max_entries=128)
def _from_ranks(name: str, files: tuple[tuple[str, tuple], ...], args: tuple) -> pd.DataFrame:
    return _FROM_RANKS[name](*(_ranks(path, stamp) for path, stamp in files), *args)


@st.cache_data(show_spinner=False, max_entries=16)
def _from_all_runs(name: str, signature: tuple, args: tuple) -> pd.DataFrame:
    return _FROM_ALL_RUNS[name](listing().runs, *args)


def from_ranks(name: str, chosen: list[runs.Run], *args, spinner: str = "") -> pd.DataFrame:
    """``_FROM_RANKS[name]`` of the ranks of ``chosen`` and ``args``, cached on the runs' files.

    ``spinner`` shows only when the call takes longer than half a second (a cache miss)."""
    files = tuple((str(run.path), _stamp(run)) for run in chosen)
    with st.spinner(spinner) if spinner else contextlib.nullcontext():
        return _from_ranks(name, files, args)


def from_all_runs(name: str, *args, spinner: str = "") -> pd.DataFrame:
    """``_FROM_ALL_RUNS[name]`` of every loadable run and ``args``, cached on the run files."""
    runs_root, ref_root = roots()
    with st.spinner(spinner) if spinner else contextlib.nullcontext():
        return _from_all_runs(name, runs.runs_signature(runs_root, ref_root), args)


def per_query(run: runs.Run) -> pd.DataFrame:
    """``metrics.per_query_scores`` of the run's ranks."""
    return from_ranks("per_query", [run])


def rank_distances(run: runs.Run) -> pd.DataFrame:
    return from_ranks("rank_distances", [run])


def by_candidate_language(run: runs.Run) -> pd.DataFrame:
    return from_ranks("by_candidate_language", [run])


def compare(run_a: runs.Run, run_b: runs.Run, n_resamples: int) -> pd.DataFrame:
    """``stats.compare_runs`` of two runs (seeded, so stable across reloads)."""
    return from_ranks("compare", [run_a, run_b], n_resamples, spinner="Running the paired tests…")


def cell_tests(run_a: runs.Run, run_b: runs.Run, dataset: str, value: str) -> pd.DataFrame:
    return from_ranks("cell_tests", [run_a, run_b], dataset, value, spinner="Testing each cell…")


def verdict(datasets: tuple[str, ...], margin: float) -> pd.DataFrame:
    """``report.verdict_table`` of every loadable run, cached on the run files."""
    return from_all_runs("verdict", datasets, margin, spinner="Computing the intervals (seeds, then questions)…")


def scale_change(datasets: tuple[str, ...]) -> pd.DataFrame:
    """``report.scale_table`` of every loadable run, cached on the run files."""
    return from_all_runs("scale_change", datasets, spinner="Comparing scales (seeds, then questions)…")


@st.cache_data(show_spinner=False)
def published() -> published_numbers.Published:
    return published_numbers.load_published()


def label(run: runs.Run) -> str:
    """A run's name on every page; reference runs say so."""
    return f"{run.run_id} (reference run)" if run.reference else run.run_id


def pick_run(title: str, choices: list[runs.Run], key: str, index: int = 0,
             container=st.sidebar) -> runs.Run:
    labels = [label(r) for r in choices]
    chosen = container.selectbox(title, labels, index=min(index, len(labels) - 1), key=key)
    return choices[labels.index(chosen)]


def pick_runs(title: str, choices: list[runs.Run], key: str, default: int | None = None,
              container=st.sidebar) -> list[runs.Run]:
    labels = [label(r) for r in choices]
    chosen = container.multiselect(title, labels, default=labels[:default] if default else labels, key=key)
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


def sidebar_footer() -> None:
    runs_root, ref_root = roots()
    st.sidebar.caption(f"Runs: `{runs_root}`  \nReference runs: `{ref_root}`")


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

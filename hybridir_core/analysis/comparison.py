"""Two runs compared on common ground: the protocol fields they differ in, the questions and
languages they share, and the report's intervals on those alone.

A quick run (``--limit-per-lang``) or a language subset is easier or harder than a full run for
reasons that have nothing to do with the model (a two-language pool has fewer distractors), so
``compare_pair`` never compares what the two runs did not both evaluate: both ranks tables are cut
to the shared datasets, question ids, query and candidate languages. Mono and Cross are then the
same quantities in both runs (every language's candidates stay whole in every run); Multi and the
rank distance rank a pool of every evaluated language, so they are left out, with the reason, when
the language sets differ. The intervals are ``intervals.recipe_difference`` (one statistics engine:
question-clustered, seed-aware, macro means over languages), Holm-adjusted over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from hybridir_core.analysis import intervals
from hybridir_core.runs.directory import Run
from hybridir_core.runs.protocol import differing_fields, evaluation_label, fingerprint

SUBSET_FIELDS = ("eval.languages", "eval.limit_per_lang", "eval.datasets")
"""Protocol fields that only choose which questions and languages were scored: cutting both runs
to what they share makes them comparable."""
POOL_MEASURES = ("multi", "rank_distance")
"""Measures whose value for a query depends on the set of languages pooled."""


@dataclass(frozen=True)
class CommonGround:
    """What two runs can be compared on.

    ``differing``: protocol fields (``section.field``) in which they differ; ``datasets``,
    ``languages``: shared per dataset; ``questions``: shared question ids per dataset;
    ``measures``: those still meaningful; ``notes``: why anything was left out.
    """

    differing: list[str]
    datasets: list[str]
    languages: dict[str, list[str]]
    questions: dict[str, set[str]]
    measures: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def restricted(self) -> bool:
        return any(f in SUBSET_FIELDS for f in self.differing)

    @property
    def other_protocol(self) -> list[str]:
        """Differing fields that cutting to shared questions does not remove (training, backend, ...)."""
        return [f for f in self.differing if f not in SUBSET_FIELDS]


def run_label(run: Run) -> str:
    """A run's name with its evaluation when partial: ``zs-quick (quick: 20/lang · 2 languages)``."""
    words = evaluation_label(fingerprint(run.config)["eval"])
    return run.run_id if words == "full" else f"{run.run_id} ({words})"


def _languages(ranks: pd.DataFrame, dataset: str) -> set[str]:
    rows = ranks[ranks["dataset"] == dataset]
    return set(rows["query_lang"]) | set(rows["candidate_lang"])


def common_ground(run_a: Run, run_b: Run) -> CommonGround:
    """The shared datasets, languages and questions of two runs, and the fields they differ in."""
    differing = differing_fields(fingerprint(run_a.config), fingerprint(run_b.config))
    ranks_a, ranks_b = run_a.ranks, run_b.ranks
    datasets = sorted(set(ranks_a["dataset"]) & set(ranks_b["dataset"]))
    languages, questions, notes = {}, {}, []
    same_pool = True
    for name in datasets:
        la, lb = _languages(ranks_a, name), _languages(ranks_b, name)
        languages[name] = sorted(la & lb)
        same_pool = same_pool and la == lb
        qa = set(ranks_a.loc[ranks_a["dataset"] == name, "question_id"])
        questions[name] = qa & set(ranks_b.loc[ranks_b["dataset"] == name, "question_id"])
        if la != lb or len(questions[name]) < max(len(qa), 1):
            notes.append(f"{name}: compared on the {len(questions[name])} shared question ids in "
                         f"{', '.join(languages[name])}")
    measures = intervals.MEASURES if same_pool else tuple(m for m in intervals.MEASURES if m not in POOL_MEASURES)
    if not same_pool:
        notes.append("Multi and rank distance left out: they rank a pool of every evaluated language, "
                     "and the two runs pooled different languages")
    return CommonGround(differing, datasets, languages, questions, measures, notes)


def restrict(ranks: pd.DataFrame, ground: CommonGround) -> pd.DataFrame:
    """``ranks`` cut to the shared datasets, question ids, query and candidate languages."""
    parts = []
    for name in ground.datasets:
        rows = ranks[ranks["dataset"] == name]
        langs = set(ground.languages[name])
        keep = rows["question_id"].isin(ground.questions[name]) & rows["query_lang"].isin(langs) \
            & rows["candidate_lang"].isin(langs)
        parts.append(rows[keep])
    return pd.concat(parts, ignore_index=True) if parts else ranks.iloc[:0]


def compare_groups(group_a: Sequence[pd.DataFrame], group_b: Sequence[pd.DataFrame], datasets: Sequence[str],
                   measures: Sequence[str], n_resamples: int = intervals.DEFAULT_RESAMPLES) -> pd.DataFrame:
    """A - B per dataset and measure by ``intervals.recipe_difference``, Holm-adjusted over the rows."""
    rows = [intervals.recipe_difference(group_a, group_b, name, measure, n_resamples=n_resamples)
            for name in datasets for measure in measures]
    return intervals.differences_frame(rows, "compare")


def compare_pair(run_a: Run, run_b: Run, n_resamples: int = intervals.DEFAULT_RESAMPLES
                 ) -> tuple[CommonGround, pd.DataFrame]:
    """Run A - run B on their common ground (see the module docstring)."""
    ground = common_ground(run_a, run_b)
    if not ground.datasets:
        raise ValueError(f"{run_a.run_id} and {run_b.run_id} share no dataset")
    table = compare_groups([restrict(run_a.ranks, ground)], [restrict(run_b.ranks, ground)], ground.datasets,
                           ground.measures, n_resamples)
    return ground, table


def restricted_matrices(run_a: Run, run_b: Run) -> tuple[pd.DataFrame, pd.DataFrame, CommonGround]:
    """Both runs' cell matrices recomputed on their common ground (the Matrices difference view);
    the multi column is dropped when the pools differ."""
    from hybridir_core.evaluation.metrics import cell_matrix, per_query_scores
    from hybridir_core.runs.measures import MULTI

    ground = common_ground(run_a, run_b)
    out = []
    for run in (run_a, run_b):
        matrix = cell_matrix(per_query_scores(restrict(run.ranks, ground)))
        out.append(matrix if "multi" in ground.measures else matrix[matrix["candidate_lang"] != MULTI])
    return out[0], out[1], ground

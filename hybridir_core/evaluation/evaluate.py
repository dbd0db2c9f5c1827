"""Zero-shot LAReQA evaluation: encode each distinct text once, then exact ranks per cell.

The flow is ``load data -> encode (queries with the query prompt, candidates with the
passage prompt) -> exact ranks (ranking.exact_ranks) -> ranks table -> cells and
aggregates``. Everything the dashboard shows derives from the ranks table, so a shipped
number can always be recomputed from its evidence.
"""

from __future__ import annotations

import logging
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybridir_core.config import EvalConfig
from hybridir_core.data.lareqa import LareqaData, load_lareqa
from hybridir_core.devices import cpu_record
from hybridir_core.evaluation import bias, metrics, ranking
from hybridir_core.models import encoders
from hybridir_core.models.registry import ensure_loaded
from hybridir_core.paths import REPO_ROOT
from hybridir_core.runs import directory as runs

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class DatasetResult:
    """Ranks and timings of one dataset."""

    name: str
    ranks: pd.DataFrame
    n_questions: int
    n_candidates: int
    encode_seconds: float
    metrics_seconds: float
    encoder: dict


def encode_texts(encoder: encoders.Encoder, texts: list[str], prompt: str | None,
                 progress: Progress | None = None, phase: str = "encoding") -> np.ndarray:
    """Encode each distinct text once with ``encoder``; rows follow ``texts``."""
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    on_batch = (lambda done, total: progress(phase, done, total)) if progress else None
    return encoder.encode(list(unique), prompt, on_batch)[inverse.ravel()]


def make_encoder(loaded, config: EvalConfig, probe_texts: list[str], prompt: str | None) -> encoders.Encoder:
    """The encoder of ``config.backend``; ``auto`` chooses, and proves, one on ``probe_texts``.

    A named backend that cannot run here falls back to ``torch`` with one warning line.
    """
    if config.backend == "auto":
        return encoders.choose(loaded.model, config.batch_size, encoders.probe(probe_texts), prompt,
                               loaded.local_dir)
    try:
        return encoders.build(config.backend, loaded.model, config.batch_size, loaded.local_dir)
    except encoders.BackendUnavailable as exc:
        logger.warning("backend %s unavailable (%s); encoding with torch", config.backend, exc)
        return encoders.build("torch", loaded.model, config.batch_size)


def ranks_table(data: LareqaData, blocks: ranking.RankBlocks) -> pd.DataFrame:
    """Flatten rank blocks into ``runs.RANK_COLUMNS`` rows."""
    questions = data.questions
    return pd.DataFrame({
        "dataset": data.name,
        "question_id": questions["question_id"].to_numpy()[blocks.query],
        "query_lang": questions["lang"].to_numpy()[blocks.query],
        "candidate_lang": data.candidates["lang"].to_numpy()[blocks.candidate],
        "rank_multi": blocks.rank_multi.astype(np.int32),
        "rank_in_lang": blocks.rank_in_lang.astype(np.int32),
    })


def evaluate_dataset(
    loaded, data: LareqaData, config: EvalConfig, progress: Progress | None = None,
) -> DatasetResult:
    """Encode one dataset with ``loaded`` (a ``models.LoadedModel``) and rank exactly."""
    spec = loaded.spec
    started = time.perf_counter()
    candidate_texts = data.candidates["text"].tolist()
    if config.with_context:
        candidate_texts = [f"{s} {c}" for s, c in zip(candidate_texts, data.candidates["context"])]
    if progress:
        progress(f"choosing the encoder for {data.name}", 0, 1)
    encoder = make_encoder(loaded, config, candidate_texts, spec.passage_prompt)
    q_emb = encode_texts(encoder, data.questions["text"].tolist(), spec.query_prompt, progress,
                         f"encoding {data.name} questions")
    c_emb = encode_texts(encoder, candidate_texts, spec.passage_prompt, progress,
                         f"encoding {data.name} candidates")
    encoded = time.perf_counter()
    block_of = {lang: i for i, lang in enumerate(data.languages)}
    blocks = ranking.exact_ranks(
        q_emb, c_emb, data.relevant_candidates(),
        data.candidates["lang"].map(block_of).to_numpy(), config.chunk_size,
        (lambda done, total: progress(f"ranking {data.name}", done, total)) if progress else None,
    )
    table = ranks_table(data, blocks)
    return DatasetResult(data.name, table, len(data.questions), len(data.candidates),
                         encoded - started, time.perf_counter() - encoded,
                         {"backend": encoder.name, **{k: v for k, v in encoder.info.items() if k != "model_dir"}})


def summarise(ranks: pd.DataFrame, n_questions_by_lang: dict[str, int]) -> tuple[pd.DataFrame, dict]:
    """Cells and aggregates of one dataset from its ranks table alone."""
    per_query = metrics.per_query_scores(ranks)
    matrix = metrics.cell_matrix(per_query)
    summary = metrics.aggregates(per_query, matrix)
    summary.update(bias.rank_distance_summary(ranks))
    langs = sorted(n_questions_by_lang)
    expected = sum(n_questions_by_lang[q] for q in langs) * len(langs)
    summary["n_skipped"] = int(expected - matrix[matrix.candidate_lang != "multi"]["n_queries"].sum())
    return matrix, summary


def resummarise_run(run_dir: Path) -> dict[str, Any]:
    """Recompute every dataset's aggregates of a finished run from its ``ranks.parquet``.

    No encoding: ``summarise`` runs on each dataset's ranks (query counts per language come
    from the ranks, where every query has at least its own answer). Fields the ranks cannot
    give (``n_questions``, ``n_candidates``, ``encode_seconds``, ``metrics_seconds``) are kept
    from the old ``metrics.json``, which is replaced atomically; ``matrix.csv`` is untouched.

    Returns:
        the new ``metrics.json`` payload per dataset.

    Raises:
        runs.RunError: the run is incomplete or malformed, or its ranks disagree with
            ``n_questions``.
    """
    run = runs.load_run(Path(run_dir))
    datasets = {}
    for name, stored in run.metrics.items():
        ranks = run.ranks[run.ranks["dataset"] == name]
        queries = ranks.drop_duplicates(["question_id", "query_lang"])
        if "n_questions" in stored and len(queries) != stored["n_questions"]:
            raise runs.RunError(f"{run.path / runs.RANKS}: {name} has {len(queries)} queries, "
                                f"metrics.json says {stored['n_questions']}")
        _, summary = summarise(ranks, queries.groupby("query_lang").size().to_dict())
        datasets[name] = {**stored, **summary}
    runs.write_metrics(run.path, datasets)
    return datasets


def environment_info() -> dict[str, Any]:
    """Package versions and git commit, for reproducibility."""
    import sentence_transformers
    import torch
    import transformers

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "versions": {
            "python": platform.python_version(), "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "git_commit": commit,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu": cpu_record(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def load_eval_data(config: EvalConfig, progress: Progress | None = None) -> dict[str, LareqaData]:
    """Every dataset of ``config``, read and validated (a ``DataError`` names the bad file)."""
    loaded = {}
    for name in config.datasets:
        if progress:
            progress(f"loading {name}", 0, 1)
        loaded[name] = load_lareqa(name, config.data_dir, config.languages, config.limit_per_lang)
    return loaded


def run_evaluation(
    model, out_dir: Path, config: EvalConfig, progress: Progress | None = None,
    extra_config: dict[str, Any] | None = None, datasets: dict[str, LareqaData] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` (registry name, path, or ``LoadedModel``) into a run directory.

    Every dataset is read (``load_eval_data``, or ``datasets`` when the caller already did)
    before the model is built, so a bad data file stops the run before any heavy work.
    Returns the ``metrics.json`` payload per dataset. Files are written only once every
    dataset is done (``metrics.json`` last), so a crash leaves no run that looks finished.
    """
    out_dir = Path(out_dir)
    datasets = datasets or load_eval_data(config, progress)
    if progress:
        progress("building the model", 0, 1)

    loaded = ensure_loaded(model)
    all_ranks, matrices, summaries, encoder_info = [], [], {}, {}
    for name, data in datasets.items():
        result = evaluate_dataset(loaded, data, config, progress)
        started = time.perf_counter()
        matrix, summary = summarise(result.ranks, data.questions.groupby("lang").size().to_dict())
        summary.update(
            n_questions=result.n_questions, n_candidates=result.n_candidates,
            encode_seconds=round(result.encode_seconds, 3),
            metrics_seconds=round(result.metrics_seconds + time.perf_counter() - started, 3),
        )
        logger.info("%s: %s", name, {k: round(v, 4) for k, v in summary.items()})
        all_ranks.append(result.ranks)
        matrices.append(matrix)
        summaries[name] = summary
        encoder_info[name] = result.encoder
    run_config = {
        "run_id": out_dir.name,
        "kind": "eval",
        "model": loaded.record(),
        "datasets": list(config.datasets),
        "eval": config.to_dict(),
        "train": None,
        "seed": None,
        "encoders": encoder_info,
        **environment_info(),
        **(extra_config or {}),
    }
    runs.write_eval_files(out_dir, run_config, summaries, pd.concat(matrices, ignore_index=True),
                          pd.concat(all_ranks, ignore_index=True))
    return summaries

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

from . import bias, metrics, ranking, runs
from .config import EvalConfig
from .data import LareqaData, load_lareqa
from .paths import REPO_ROOT

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
ENCODE_SLICE = 1024


@dataclass
class DatasetResult:
    """Ranks and timings of one dataset."""

    name: str
    ranks: pd.DataFrame
    n_questions: int
    n_candidates: int
    encode_seconds: float
    metrics_seconds: float


def encode_texts(
    model, texts: list[str], prompt: str | None, batch_size: int,
    progress: Progress | None = None, phase: str = "encoding", bucketed: bool = False,
) -> np.ndarray:
    """Encode distinct texts once, longest first in slices (the progress unit), normalised.

    With ``bucketed``, texts are ordered by their *token* count (the model's tokenizer, prompt
    included) and each batch is encoded as one call, so a batch pads to nearly nothing;
    sentence-transformers sorts by characters, a poor proxy across scripts. The embeddings
    are the same up to float rounding.
    """
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    lengths = token_lengths(model, list(unique), prompt) if bucketed else [len(t) for t in unique]
    order = np.argsort([-n for n in lengths], kind="stable")
    step = batch_size if bucketed else ENCODE_SLICE
    dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.zeros((len(unique), dimension()), dtype=np.float32)
    for lo in range(0, len(order), step):
        idx = order[lo : lo + step]
        out[idx] = model.encode(
            [unique[i] for i in idx], prompt=prompt or None, batch_size=batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
        )
        if progress is not None:
            progress(phase, min(lo + step, len(order)), len(order))
    return out[inverse.ravel()]


def token_lengths(model, texts: list[str], prompt: str | None) -> list[int]:
    """Token count of each text as the model will see it (characters if it has no tokenizer)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return [len(t) for t in texts]
    max_length = getattr(model, "max_seq_length", None) or 512
    ids = tokenizer([(prompt or "") + t for t in texts], add_special_tokens=True, truncation=True,
                    max_length=max_length)["input_ids"]
    return [len(i) for i in ids]


def encoder_for(model, backend: str):
    """The model to encode with under ``backend`` (``EvalConfig.backend``).

    ``int8`` returns a copy whose ``torch.nn.Linear`` layers are dynamically quantised to
    int8 (weights int8, activations quantised per batch); the caller's model is untouched.
    Models that are not torch modules are returned as they are.
    """
    if backend != "int8":
        return model
    import warnings

    import torch

    if not isinstance(model, torch.nn.Module):
        return model
    with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=False)


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
    model = encoder_for(loaded.model, config.backend)
    bucketed = config.backend != "torch"
    candidate_texts = data.candidates["text"].tolist()
    if config.with_context:
        candidate_texts = [f"{s} {c}" for s, c in zip(candidate_texts, data.candidates["context"])]
    q_emb = encode_texts(model, data.questions["text"].tolist(), spec.query_prompt,
                         config.batch_size, progress, f"encoding {data.name} questions", bucketed)
    c_emb = encode_texts(model, candidate_texts, spec.passage_prompt,
                         config.batch_size, progress, f"encoding {data.name} candidates", bucketed)
    encoded = time.perf_counter()
    block_of = {lang: i for i, lang in enumerate(data.languages)}
    blocks = ranking.exact_ranks(
        q_emb, c_emb, data.relevant_candidates(),
        data.candidates["lang"].map(block_of).to_numpy(), config.chunk_size,
        (lambda done, total: progress(f"ranking {data.name}", done, total)) if progress else None,
    )
    table = ranks_table(data, blocks)
    return DatasetResult(data.name, table, len(data.questions), len(data.candidates),
                         encoded - started, time.perf_counter() - encoded)


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
    runs.write_json(run.path / runs.METRICS, {"schema_version": runs.SCHEMA_VERSION, "datasets": datasets})
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
    from .models import ensure_loaded

    loaded = ensure_loaded(model)
    all_ranks, matrices, summaries = [], [], {}
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
    run_config = {
        "run_id": out_dir.name,
        "kind": "eval",
        "model": loaded.record(),
        "datasets": list(config.datasets),
        "eval": config.to_dict(),
        "train": None,
        "seed": None,
        **environment_info(),
        **(extra_config or {}),
    }
    runs.write_eval_files(out_dir, run_config, summaries, pd.concat(matrices, ignore_index=True),
                          pd.concat(all_ranks, ignore_index=True))
    return summaries

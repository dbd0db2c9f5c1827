"""How a run is described and summarised, and which fields make a protocol (the run data model).

Pages, export and report describe a run with ``describe_run`` / ``summary_frame`` and group
runs by ``protocol_id``; measure names and labels come from ``runs.measures``. Pure pandas:
reading runs for the dashboard imports no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

import pandas as pd

from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.runs.directory import Run
from hybridir_core.runs.measures import MEASURES, SETTING_COLUMNS, ZERO_SHOT, dataset_order

DESCRIPTION_COLUMNS = ["run", "reference", "model", "scale", "layers", "params", "sampling",
                       "alpha", "mix", "seed", "steps", "limit_per_lang"]
PROTOCOL_COLUMNS = ["languages", "evaluation", "trained_on", "protocol"]
"""Appended to a run's description: its evaluation languages, the evaluation in words
(``full``, ``quick: 30/lang · 3 languages``), and the protocol id that findings group by."""
SUMMARY_COLUMNS = [
    "run", "source", "model", "scale", "layers", "params", "sampling", "alpha", "mix", "seed",
    "steps", "limit_per_lang", "dataset", "mono_map", "cross_map", "multi_map",
    "multi_recall_at_10", "mean_rank_distance", "median_rank_distance", "n_questions",
    *PROTOCOL_COLUMNS,
]
EVAL_PROTOCOL = ("datasets", "languages", "limit_per_lang", "with_context", "backend", "query_prompt",
                 "passage_prompt")
"""The ``EvalConfig`` fields that change what a number means (not batch size, paths)."""
TRAIN_PROTOCOL = ("corpus", "xnli_pairs", "languages", "limit_items", "hf_path", "hf_config", "hf_data_files",
                  "hf_split", "hf_query_column", "hf_passage_column", "steps", "batch_size", "learning_rate",
                  "weight_decay", "warmup_ratio", "mnrl_scale", "max_seq_length", "freeze_embeddings",
                  "validation_items", "early_stopping_patience", "precision")
"""The ``TrainConfig`` fields of a protocol; model, sampling strategy, α and seed make the recipe.
``precision`` is one: bf16 autocast trains other weights than fp32, so its seeds never pool
with fp32 ones (the speed benchmark offers bf16 where the CPU has it natively)."""
SAMPLING_PROTOCOL = ("mix", "cross_pair_per_batch")


def _sampling(train: dict[str, Any]) -> SamplingConfig | None:
    """The run's sampling, normalised (mono: α = 1, cross: α = 0); None if unreadable."""
    try:
        return SamplingConfig.from_dict(train.get("sampling") or {}) if train.get("sampling") else None
    except (TypeError, ValueError):
        return None


def _fields(section: dict[str, Any], config_class, names: tuple[str, ...]) -> dict[str, Any]:
    """``names`` of a config section with the dataclass defaults filled in (older run files)."""
    try:
        full = config_class.from_dict(section).to_dict()
    except (TypeError, ValueError):
        full = section
    return {n: full.get(n) for n in names}


TRAIN_NEUTRAL: dict[str, Any] = {
    "processes": 1, "gradient_accumulation_steps": 1, "gather_across_devices": False, "hf_item_column": None,
    "early_stopping_cadence": None, "unpinned_data": None,
}
"""Protocol fields added after the study's runs were made, with the value every run made before them
actually had (one process, no accumulation, no gathered negatives, no item column, no early
stopping). A field at its neutral value is left out of the fingerprint, so those runs keep their
protocol id, and a new run that differs in it gets another one."""
EVAL_NEUTRAL: dict[str, Any] = {"weights": None, "in_sample": False, "query_prompt": None, "passage_prompt": None,
                                 "unpinned_data": None}
"""Evaluation fields added later: prompts that override the model's own (None: the model's, as every
shipped run), the evaluated weights when they are not the study's build of that
model (``STUDY_WEIGHTS``), an evaluation on the model's own training data, and built-in data files
that are not the pinned ones (``data.pins``; None: all pinned, as every shipped run's)."""
STUDY_WEIGHTS = {"me5-small": "678c282b8f42a23b", "me5-small-d2": "22f2869b37c3ccc7",
                 "me5-small-d6": "48eed2c6438b1074", "me5-small-l6": "21630f61612039b1"}
"""The weights the shipped runs record for each model (``results/*/*/config.json``; me5-small-d4's
zero-shot runs record none): a zero-shot run of these weights keeps the shipped runs' protocol, a
rebuild with other weights is another protocol, labelled with its weights."""


def _without_neutral(fields: dict[str, Any], neutral: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if not (k in neutral and v == neutral[k])}


def trained_section(config: dict[str, Any]) -> dict[str, Any] | None:
    """The training behind a run's numbers: its own ``train``, or for an evaluation of a fine-tuned
    model the training recorded in ``model_provenance`` (``provenance.trained_by``)."""
    return config.get("train") or ((config.get("model_provenance") or {}).get("train") or None)


def _training_protocol(config: dict[str, Any]) -> dict[str, Any] | None:
    train = trained_section(config)
    if not train:
        return None
    training = _fields(train, TrainConfig, TRAIN_PROTOCOL)
    training.update(_fields(train.get("sampling") or {}, SamplingConfig, SAMPLING_PROTOCOL))
    full = _fields(train, TrainConfig, ("eval_steps", "save_steps", "early_stopping_patience"))
    training.update(
        processes=int(train.get("processes") or config.get("processes") or 1),
        gradient_accumulation_steps=int(train.get("gradient_accumulation_steps") or 1),
        gather_across_devices=bool(train.get("gather_across_devices", False)),
        hf_item_column=train.get("hf_item_column"),
        early_stopping_cadence=None if full["early_stopping_patience"] is None
        else [full["eval_steps"], full["save_steps"] or full["eval_steps"]],
        unpinned_data=train.get("unpinned_data") or None)
    base = (config.get("model_provenance") or {}).get("base_model") if not config.get("train") else None
    weights = ((base or config.get("base_model")) or {}).get("weights")
    if weights:  # a student rebuilt on another machine starts from other weights; runs from before
        training["base_weights"] = weights  # the fingerprint was recorded keep their protocol
    return _without_neutral(training, TRAIN_NEUTRAL)


def _evaluation_protocol(config: dict[str, Any]) -> dict[str, Any]:
    evaluation = _fields(config.get("eval") or {}, EvalConfig, EVAL_PROTOCOL)
    if evaluation.get("languages"):
        evaluation["languages"] = sorted(evaluation["languages"])  # a set: `en de` is `de en`
    used = {str(e.get("backend")) for e in (config.get("encoders") or {}).values() if isinstance(e, dict)}
    lossy = sorted(used & set(LOSSY_BACKENDS))  # what ``auto`` actually chose, where that matters
    evaluation["backend"] = encoding_class(lossy[0] if lossy else evaluation.get("backend"))
    model = config.get("model") or {}
    if not trained_section(config):  # a zero-shot run: which weights were evaluated
        weights = model.get("weights")
        evaluation["weights"] = None if weights in (None, STUDY_WEIGHTS.get(str(model.get("name")))) else weights
    evaluation["in_sample"] = bool(config.get("in_sample", False))
    sources = (config.get("dataset_sources") or {}).values()
    changed = {f: d for s in sources if isinstance(s, dict) for f, d in (s.get("unpinned") or {}).items()}
    evaluation["unpinned_data"] = changed or None
    return _without_neutral(evaluation, EVAL_NEUTRAL)


def fingerprint(config: dict[str, Any]) -> dict[str, Any]:
    """The protocol of a run's ``config.json`` (or of a job about to run, ``job_record``): the one
    definition of what must be equal for two runs' numbers to be pooled or compared.

    Evaluation: datasets, languages (as a set), questions per language, context, encoding class,
    the evaluated weights of a zero-shot run (where not the study's build), in-sample, built-in
    files that are not the pinned ones (a folder dataset's name holds its content hash).
    Training (the run's own, or the fine-tuned model's recorded training): corpus, languages,
    steps, batch size, learning rate, schedule, loss scale, sequence length, frozen embeddings,
    validation split, early stopping and its cadence, precision, the sampler's mix, processes,
    gradient accumulation, gathered negatives, the hf item column, the corpus' built-in files
    that are not the pinned ones, and the starting weights' fingerprint where recorded. Model, sampling strategy, α and seed are the recipe.
    Fields added later count only where they differ from ``TRAIN_NEUTRAL`` / ``EVAL_NEUTRAL``.
    """
    return {"eval": _evaluation_protocol(config), "train": _training_protocol(config)}


def protocol_of(run: Run) -> dict[str, Any]:
    """``fingerprint`` of ``run``'s configuration (findings, pages and sweeps group by it)."""
    return fingerprint(run.config)


def job_record(job: JobConfig) -> dict[str, Any]:
    """What a job's ``config.json`` will say that ``fingerprint`` reads, before it runs (sweeps)."""
    train = job.train.to_dict() if job.train is not None else None
    if train is not None:
        train["processes"] = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    return {"eval": job.eval.to_dict(), "train": train}


def differing_fields(have: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """``section.field`` names whose values differ between two fingerprints (or recipes)."""
    out = []
    for section in sorted(set(have) | set(want)):
        a, b = have.get(section), want.get(section)
        if not isinstance(a, dict) or not isinstance(b, dict):
            out += [] if a == b else [section]
            continue
        out += [f"{section}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out


LOSSY_BACKENDS = ("int8", "onnx-int8", "fp16")
"""Backends whose runs are not pooled with fp32 ones: int8 and onnx-int8 change results; fp16 (CUDA) passes
the cosine gate but has not been measured against fp32 mAP in bench/ (no GPU there yet)."""


def encoding_class(backend: str | None) -> str:
    """``exact`` for backends held to the fp32 result (torch, and every gate-proven one that
    ``auto`` may pick: mAP within 0.002 in bench/), else the backend's name (``int8``), which
    changes results and so the protocol."""
    return backend if backend in LOSSY_BACKENDS else "exact"


def scale_protocol(protocol: dict[str, Any]) -> dict[str, Any]:
    """``protocol`` without the starting weights: what must be equal for runs of two *models* to
    be compared across scale (their weights differ by definition)."""
    if not protocol.get("train") or "base_weights" not in protocol["train"]:
        return protocol
    return {**protocol, "train": {k: v for k, v in protocol["train"].items() if k != "base_weights"}}


def protocol_id(protocol: dict[str, Any]) -> str:
    """A short stable id of a protocol (equal protocols, equal ids)."""
    text = json.dumps(protocol, sort_keys=True, default=str)
    return "p-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def evaluation_label(evaluation: dict[str, Any]) -> str:
    """The evaluation in words: ``full``, or what makes it partial (``quick: 30/lang · 3 languages``)."""
    parts = []
    if evaluation.get("limit_per_lang") is not None:
        parts.append(f"quick: {evaluation['limit_per_lang']}/lang")
    if evaluation.get("languages"):
        parts.append(f"{len(evaluation['languages'])} languages")
    if evaluation.get("with_context"):
        parts.append("with context")
    if evaluation.get("backend") in LOSSY_BACKENDS:  # the same test that keeps their protocol apart
        parts.append(f"backend {evaluation['backend']}")
    if evaluation.get("weights"):
        parts.append(f"weights {evaluation['weights'][:8]}")
    if evaluation.get("in_sample"):
        parts.append("IN-SAMPLE")
    return " · ".join(parts) or "full"


def trained_on_label(training: dict[str, Any] | None) -> str:
    """The training protocol in words: ``zero-shot``, ``xquad · 200 steps``, ``xnli (all pairs) · 300 steps``,
    ``xquad · 200 steps · bf16`` (a precision other than fp32 is named), ``... · weights 1a2b3c4d``
    (the starting weights, where recorded)."""
    if not training:
        return ZERO_SHOT
    corpus = str(training.get("corpus") or "?")
    if "xnli" in corpus.split("+") and training.get("xnli_pairs") == "all":
        corpus += " (all pairs)"
    precision = training.get("precision")
    label = f"{corpus} · {training.get('steps')} steps" + (f" · {precision}" if precision not in (None, "fp32") else "")
    return label + (f" · weights {training['base_weights'][:8]}" if training.get("base_weights") else "")


def describe_run(run: Run) -> dict[str, Any]:
    """Model and training fields of a run, flat (None where not applicable)."""
    model = run.config.get("model") or {}
    train = trained_section(run.config) or {}  # a fine-tuned model evaluated later is trained, not zero-shot
    sampling = _sampling(train)
    hybrid = sampling is not None and sampling.strategy == "hybrid"
    return {
        "run": run.run_id, "reference": run.reference,
        "model": model.get("name"), "scale": model.get("scale"),
        "layers": model.get("layers"), "params": model.get("params"),
        "sampling": sampling.strategy if sampling else ZERO_SHOT,
        "alpha": sampling.alpha if sampling else None,
        "mix": sampling.mix if hybrid else None,
        "seed": train.get("seed"), "steps": train.get("steps"),
        "limit_per_lang": (run.config.get("eval") or {}).get("limit_per_lang"),
    }


def describe_protocol(run: Run) -> dict[str, Any]:
    """``PROTOCOL_COLUMNS`` of a run: languages (``all`` when not a subset), evaluation, training
    in words, protocol id."""
    protocol = protocol_of(run)
    languages = protocol["eval"].get("languages")
    return {"languages": " ".join(languages) if languages else "all",
            "evaluation": evaluation_label(protocol["eval"]), "trained_on": trained_on_label(protocol["train"]),
            "protocol": protocol_id(protocol)}


def source_of(run: Run) -> str:
    """``reference`` for a shipped reference run, else ``local`` (the ``source`` column)."""
    return "reference" if run.reference else "local"


def run_info(run: Run) -> dict[str, Any]:
    """What the summary says of ``run`` before its metrics: description, protocol and ``source``."""
    info = {**describe_run(run), **describe_protocol(run)}
    del info["reference"]
    return {**info, "source": source_of(run)}


def summary_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run x dataset with its description and aggregates (plots, findings).

    ``source`` is ``reference`` for the shipped reference runs, else ``local``.
    """
    rows = []
    for run in runs:
        info = run_info(run)
        for dataset, m in sorted(run.metrics.items()):
            rows.append({**info, "dataset": dataset,
                         **{k: m.get(k) for k in SUMMARY_COLUMNS if k in m}})
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for column in ("layers", "params", "seed", "steps", "limit_per_lang", "n_questions"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame["alpha"] = pd.to_numeric(frame["alpha"], errors="coerce")
    return frame


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its description, then the four measures per dataset.

    Dataset columns are named like ``xquad-r Mono``, ``xquad-r rank dist.``.
    """
    summary = summary_frame(runs)
    info_cols = ["run", "source", "model", "scale", "sampling", "alpha", "mix", "seed", "steps",
                 "evaluation", "limit_per_lang", "languages"]
    if summary.empty:
        return pd.DataFrame(columns=info_cols)
    info = summary.drop_duplicates("run").set_index("run")[info_cols[1:]]
    wide = summary.pivot_table(index="run", columns="dataset", values=list(MEASURES), aggfunc="first")
    ordered = [(v, d) for d in dataset_order(summary["dataset"]) for v in MEASURES
               if (v, d) in wide.columns]
    wide = wide[ordered]
    wide.columns = [f"{d} {MEASURES[v]}" for v, d in ordered]
    order = list(dict.fromkeys(summary["run"]))
    return info.join(wide).reindex(order).reset_index()

"""Part 3: training throughput with the hybrid sampler vs the trainer's default batch sampler.

Both contenders train the same model on the same data in their own process, with the
``SentenceTransformerTrainer`` set-up of ``train.train_model`` (``MultipleNegativesRankingLoss``,
AdamW, the model's prompts, frozen word embeddings, ``max_seq_length``), with no validation
and no checkpoints; only ``batch_sampler`` differs:

* ``hybrid``: ``sampling.SamplerFactory`` -> ``LanguageBatchSampler`` (hybrid, alpha 0.5),
  on ``sampling.pair_dataset(corpus)``;
* ``default``: ``BatchSamplers.BATCH_SAMPLER`` (the library's default: random rows) on the
  same dataset.

Throughput is pairs per second between the end of the warm-up steps and the end of the last
step (``on_step_end`` to ``on_step_end``, so fetching and collating each batch counts).
The sampler's own set-up time (``LanguageBatchSampler._prepare``) is reported apart.

An import error of the training modules stops the part (it never measures something else).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .common import HASH_MODEL, Profile, load_bench_model, ratio, run_task, stage
from .eval_bench import log

TRAIN_LANGUAGES = ("ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh")


def task_train(model: str, sampler: str, steps: int, warmup_steps: int, batch_size: int,
               limit_items: int | None, seed: int = 0, max_seq_length: int = 128,
               languages: list[str] | None = None) -> dict:
    """Train ``warmup_steps + steps`` steps with one sampler; pairs/s over the last ``steps``."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    from hybridir_core.config import SamplingConfig
    from hybridir_core.data import corpora
    from hybridir_core.training import sampling
    from hybridir_core.training import trainer as train

    out: dict = {"sampler": sampler}
    loaded = load_bench_model(model)
    st_model = loaded.model
    corpus = corpora.load_xnli(None, tuple(languages or TRAIN_LANGUAGES), limit_items=limit_items)
    dataset = sampling.pair_dataset(corpus)
    hybrid = SamplingConfig(strategy="hybrid", alpha=0.5)
    if sampler == "hybrid":
        factory = sampling.SamplerFactory({id(dataset): ("train", corpus, hybrid, None)}, world_size=1)
        with stage(out, "sampler_setup"):  # what the trainer pays once, before its first step
            probe = factory(dataset, batch_size, True, [], None, seed)
        batch_sampler = factory
        out["batches_per_epoch"] = len(probe)
    elif sampler == "default":
        batch_sampler = BatchSamplers.BATCH_SAMPLER
    else:
        raise ValueError(f"unknown sampler {sampler!r}")
    train.freeze_word_embeddings(st_model)
    st_model.max_seq_length = max_seq_length
    prompts = {col: p for col, p in (("query", loaded.spec.query_prompt),
                                     ("passage", loaded.spec.passage_prompt)) if p}
    ends: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="hybridir-bench-train-") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, max_steps=warmup_steps + steps, per_device_train_batch_size=batch_size,
            learning_rate=3e-5, weight_decay=0.01, warmup_steps=0.1, optim="adamw_torch", seed=seed,
            batch_sampler=batch_sampler, prompts=prompts or None, eval_strategy="no",
            save_strategy="no", logging_steps=10**6, report_to="none", dataloader_drop_last=True,
            dataloader_pin_memory=False, disable_tqdm=True,
        )
        loss = MultipleNegativesRankingLoss(st_model, scale=20.0)
        trainer = SentenceTransformerTrainer(model=st_model, args=args, train_dataset=dataset,
                                             loss=loss, callbacks=[StepTimer()])
        with stage(out, "train"):
            trainer.train()
    timed = ends[warmup_steps:] if warmup_steps else ends
    start = ends[warmup_steps - 1] if warmup_steps else None
    if start is None or not timed:
        raise RuntimeError(f"too few steps recorded ({len(ends)})")
    seconds = timed[-1] - start
    out.update(steps=len(timed), warmup_steps=warmup_steps, batch_size=batch_size,
               seconds=round(seconds, 3), pairs_per_second=round(len(timed) * batch_size / seconds, 3),
               seconds_per_step=[round(b - a, 3) for a, b in zip([start] + timed[:-1], timed)],
               peak_increase_mb=out["train"]["peak_increase_mb"], corpus_pairs=len(corpus),
               corpus_items=corpus.n_items, languages=list(corpus.languages), model=loaded.spec.name)
    return out


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True) -> dict:
    """Part 3: both samplers, the ratio."""
    if model == HASH_MODEL:
        return {"skipped": "the hash test encoder cannot be trained"}
    res: dict = {"contenders": {}}
    for sampler in ("default", "hybrid"):
        log(f"part 3: training {profile.train_warmup_steps}+{profile.train_steps} steps with the "
            f"{sampler} batch sampler")
        res["contenders"][sampler] = run_task("bench.train_bench:task_train", dict(
            model=model, sampler=sampler, steps=profile.train_steps,
            warmup_steps=profile.train_warmup_steps, batch_size=profile.train_batch_size,
            limit_items=profile.train_items), workdir, isolate)
    hy, de = res["contenders"]["hybrid"], res["contenders"]["default"]
    res["ratios"] = [vars(ratio(
        "train", "hybrid sampler vs default batch sampler (pairs/s)", hy.get("pairs_per_second"),
        de.get("pairs_per_second"), ">=", 0.95, f"{hy.get('pairs_per_second')} pairs/s",
        f"{de.get('pairs_per_second')} pairs/s",
        f"XNLI {len(TRAIN_LANGUAGES)} languages, batch {profile.train_batch_size}, "
        f"{profile.train_steps} timed steps"))]
    return res

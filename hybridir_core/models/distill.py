"""Distilled students of multilingual-e5-small: a real model-scale ladder (2, 4, 6 layers).

Sentence-transformers' multilingual distillation recipe (Reimers & Gurevych 2020; its
``make_multilingual`` example): a student with the teacher's tokenizer, width and word
embeddings keeps ``k`` evenly spaced teacher layers and learns, with ``MSELoss``, to reproduce
the teacher's normalised embeddings of the same texts. The texts share nothing with XQuAD-R or
MLQA-R: XNLI hypotheses (with the query prompt) and premises (with the passage prompt) in all
15 languages, and both sides of the Tatoeba pairs.

A build is resumable: the teacher's embeddings are computed once into
``<cache>/.distill/teacher-<key>/`` (a ``datasets.Dataset`` shared by every student) and the
trainer checkpoints into ``<cache>/.distill/<student>-<key>/``; ``models.ensure_built`` swaps
the finished student into place and ``build_card.json`` says how it was made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from hybridir_core.data.corpora import TATOEBA_CODES, XNLI_LANGUAGES, load_tatoeba, load_xnli
from hybridir_core.devices import cpu_record
from hybridir_core.models import encoders
from hybridir_core.models.encoders import has_native_bf16

logger = logging.getLogger(__name__)
CARD = "build_card.json"
WORK_DIR = ".distill"
QUERY, PASSAGE = "query: ", "passage: "


@dataclass(frozen=True)
class DistillConfig:
    """How a student is distilled (part of its cache key).

    Attributes:
        layers: transformer layers the student keeps.
        steps: optimizer steps; batch_size texts each.
        learning_rate: AdamW learning rate (students start from teacher layers).
        max_texts: cap on distinct distillation texts (a seeded sample; None = all).
        validation_texts: texts held out for the validation MSE.
        max_seq_length: token limit while distilling.
        seed: sampling and training seed.
        freeze_embeddings: keep the teacher's word embeddings fixed, so every student shares
            them exactly (the rungs differ only in their transformer layers) and a CPU step
            skips the 96M-parameter embedding update.
        length_grouped: batches of texts of similar token length (``length_sampler.LengthGroupedBatchSampler``):
            MSE on teacher embeddings has no in-batch negatives, so only the padding changes.
    """

    layers: int
    steps: int = 3000
    batch_size: int = 64
    learning_rate: float = 1e-4
    max_texts: int | None = 120_000
    validation_texts: int = 2_000
    max_seq_length: int = 128
    seed: int = 0
    freeze_embeddings: bool = True
    length_grouped: bool = True

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def kept_layers(teacher_layers: int, k: int) -> list[int]:
    """``k`` evenly spaced teacher layers, the last one included: 12, 6 -> 1 3 5 7 9 11."""
    if not 1 <= k <= teacher_layers:
        raise ValueError(f"a student keeps 1..{teacher_layers} layers, not {k}")
    return [round((i + 1) * teacher_layers / k) - 1 for i in range(k)]


def distillation_texts(data_dir: str | None = None) -> tuple[list[str], dict[str, int]]:
    """Prompted texts of XNLI (all 15 languages) and Tatoeba, each once, in a stable order.

    Returns the texts and how many came from each source.
    """
    xnli = load_xnli(data_dir, XNLI_LANGUAGES)
    tatoeba = load_tatoeba(data_dir, ("en", *sorted(lang for lang in TATOEBA_CODES if lang != "en")))
    seen: dict[str, None] = {}
    counts = {"xnli_hypotheses": 0, "xnli_premises": 0, "tatoeba": 0}
    for name, prompt, cells in (("xnli_hypotheses", QUERY, xnli.queries), ("xnli_premises", PASSAGE, xnli.passages),
                                ("tatoeba", PASSAGE, tatoeba.passages)):
        for text in cells.ravel():
            if text and prompt + text not in seen:
                seen[prompt + text] = None
                counts[name] += 1
    return list(seen), counts


def sample(texts: list[str], limit: int | None, seed: int) -> list[str]:
    """A seeded sample of at most ``limit`` texts, in their original order."""
    if limit is None or len(texts) <= limit:
        return texts
    keep = np.sort(np.random.default_rng(seed).choice(len(texts), size=limit, replace=False))
    return [texts[i] for i in keep]


def teacher_embeddings(teacher, texts: list[str], cache: Path, batch_size: int = 64):
    """The teacher's normalised embeddings of ``texts`` as a ``datasets.Dataset`` (text, label).

    Computed once (encoder chosen by ``encoders.choose``, gate-proven) and saved atomically
    under ``cache``; a later build or a resumed one loads it.
    """
    import datasets

    if (cache / "dataset_info.json").is_file():
        return datasets.load_from_disk(str(cache))
    encoder = encoders.choose(teacher, batch_size, encoders.probe(texts), None)
    logger.info("teacher embeddings of %d texts with the %s encoder", len(texts), encoder.name)

    bar = tqdm(total=len(texts), desc="teacher embeddings", unit="text")
    emb = encoder.encode(texts, None, lambda done, total: bar.update(done - bar.n))
    bar.close()
    ds = datasets.Dataset.from_dict({"text": texts, "label": emb.astype(np.float32).tolist()})
    tmp = cache.with_name(cache.name + ".tmp")
    ds.save_to_disk(str(tmp))
    tmp.replace(cache)
    return datasets.load_from_disk(str(cache))


def make_student(teacher_dir: Path, layers: list[int], freeze_embeddings: bool = True):
    """A SentenceTransformer with the teacher's embeddings and the listed encoder layers."""
    import torch
    from sentence_transformers import SentenceTransformer

    student = SentenceTransformer(str(teacher_dir), device="cpu")
    bert = student[0].auto_model
    bert.encoder.layer = torch.nn.ModuleList([bert.encoder.layer[i] for i in layers])
    bert.config.num_hidden_layers = len(layers)
    bert.embeddings.word_embeddings.weight.requires_grad_(not freeze_embeddings)
    return student


def distill_student(teacher_dir: Path, out_dir: Path, work_dir: Path, config: DistillConfig,
                    data_dir: str | None = None, texts: list[str] | None = None) -> dict:
    """Distil a student into ``out_dir`` (resuming from ``work_dir``); returns its build card.

    ``texts`` replaces the XNLI + Tatoeba texts (tests).
    """
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    teacher = SentenceTransformer(str(teacher_dir), device="cpu")
    if texts is None:
        texts, counts = distillation_texts(data_dir)
    else:
        counts = {"given": len(texts)}
    texts = sample(texts, config.max_texts, config.seed)
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    work_dir.parent.mkdir(parents=True, exist_ok=True)
    ds = teacher_embeddings(teacher, texts, work_dir.parent / f"teacher-{key}")
    split = ds.train_test_split(test_size=config.validation_texts, seed=config.seed)
    layers = kept_layers(teacher[0].auto_model.config.num_hidden_layers, config.layers)
    student = make_student(teacher_dir, layers, config.freeze_embeddings)
    student.max_seq_length = config.max_seq_length
    history, resumed = _train(student, split["train"], split["test"], work_dir, config)
    student.save(str(out_dir), safe_serialization=True)
    card = {"teacher": str(teacher_dir.name), "layers_kept": layers, "config": asdict(config),
            "resumed_from_step": resumed,
            "texts": {"total": len(texts), "validation": config.validation_texts, **counts,
                      "sampled_from": sum(counts.values())},
            "validation_mse": history, "final_validation_mse": history[-1]["eval_loss"] if history else None,
            "wall_seconds": round(time.perf_counter() - started, 1), "versions": _versions(),
            # what makes two builds of one student differ between machines
            "precision": "bf16" if _bf16() else "fp32", "cpu": cpu_record()}
    (out_dir / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def _train(student, train_ds, val_ds, work_dir: Path, config: DistillConfig) -> tuple[list[dict], int | None]:
    """MSELoss on the teacher embeddings with the trainer (checkpoints in ``work_dir``).

    Returns the validation MSE history (step 0 first on a fresh start) and the step a resumed
    training continued from (None for a fresh one).
    """
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MSELoss
    from transformers.trainer_utils import get_last_checkpoint

    from hybridir_core.models.length_sampler import LengthGroupedBatchSampler

    grouped = functools.partial(LengthGroupedBatchSampler, tokenizer=student.tokenizer)
    cpu = not torch.cuda.is_available()
    eval_every = max(1, config.steps // 6)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work_dir), max_steps=config.steps, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_steps=0.05, seed=config.seed, eval_strategy="steps", eval_steps=eval_every,
        save_strategy="steps", save_steps=eval_every, save_total_limit=1, logging_steps=eval_every,
        report_to="none", use_cpu=cpu, bf16=_bf16(),
        dataloader_drop_last=True, **({"batch_sampler": grouped} if config.length_grouped else {}),
    )
    trainer = SentenceTransformerTrainer(model=student, args=args, train_dataset=train_ds,
                                         eval_dataset=val_ds, loss=MSELoss(student))
    last = get_last_checkpoint(str(work_dir)) if work_dir.is_dir() else None
    # the validation MSE before any step: the starting point of the curve (train() resets the log)
    history = [] if last else [{"step": 0, "eval_loss": trainer.evaluate()["eval_loss"]}]
    trainer.train(resume_from_checkpoint=last)
    history += [{"step": h["step"], "eval_loss": h["eval_loss"]} for h in trainer.state.log_history
                if "eval_loss" in h]
    if not history or history[-1]["step"] != trainer.state.global_step:
        history.append({"step": trainer.state.global_step, "eval_loss": trainer.evaluate()["eval_loss"]})
    return history, (int(last.rsplit("-", 1)[-1]) if last else None)


def _bf16() -> bool:
    """Distil in bf16 where the hardware has it natively (a CPU's AVX512-BF16/AMX, a CUDA GPU's)."""
    import torch

    return torch.cuda.is_bf16_supported() if torch.cuda.is_available() else has_native_bf16()


def _versions() -> dict[str, str]:
    import sentence_transformers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "sentence_transformers": sentence_transformers.__version__}

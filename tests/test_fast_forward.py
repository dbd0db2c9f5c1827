"""``fast_forward``: length-sorted sub-batches with today's dropout give today's loss and gradients."""

from __future__ import annotations

import pytest
import torch
from fixtures_runs import minilm_dir
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.losses.merged_forward import embed_columns

from hybridir_core.config import TrainConfig
from hybridir_core.training import fast_forward as ff


def test_length_chunks_sorts_longest_first_and_keeps_each_chunk_within_the_budget():
    # lengths 10, 3, 8, 3, 1: sorted 0 (10), 2 (8), 1 (3), 3 (3), 4 (1); budget 20
    assert ff.length_chunks([10, 3, 8, 3, 1], budget=20) == [[0, 2], [1, 3, 4]]
    assert ff.length_chunks([30, 2], budget=20) == [[0], [1]]  # a text longer than the budget is alone
    assert sorted(i for c in ff.length_chunks(list(range(1, 50)), 64) for i in c) == list(range(49))


def test_train_backend_is_checked_and_kept_out_of_the_protocol():
    from hybridir_core.runs.protocol import TRAIN_PROTOCOL

    with pytest.raises(ValueError, match="train_backend"):
        TrainConfig(train_backend="fast")
    assert "train_backend" not in TRAIN_PROTOCOL


@pytest.fixture(scope="module")
def model():
    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    st[0].auto_model.encoder.layer = st[0].auto_model.encoder.layer[:2]  # seconds, not minutes
    st.train()
    return st


def _columns(model, texts_by_column):
    return [model.tokenize(texts) for texts in texts_by_column]


COLUMNS = [["what is a cat?", "who wrote the long book about whales and the sea?", "why?"],
           ["a cat is a small animal that purrs", "Melville", "because the sky scatters blue light more"],
           ["dogs bark", "a very long hard negative sentence that has many more tokens than the others do", "no"]]


def _loss_and_grads(model, embed):
    torch.manual_seed(7)
    features = _columns(model, COLUMNS)
    embeddings = embed(features)
    loss = sum(torch.nn.functional.cross_entropy(20 * embeddings[0] @ e.T, torch.arange(3)) for e in embeddings[1:])
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    return loss.item(), grads, torch.rand(1).item()


def test_sorted_forward_gives_todays_loss_gradients_and_generator_state_with_dropout(model):
    today = _loss_and_grads(model, lambda f: embed_columns(model, f))
    fast = _loss_and_grads(model, lambda f: ff.embed_sorted(model, f, budget=32))
    again = _loss_and_grads(model, lambda f: embed_columns(model, f))
    assert today[0] == again[0]  # dropout is on: the same seed gives the same masks
    assert fast[0] == pytest.approx(today[0], abs=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(today[1], fast[1], strict=True))
    assert fast[2] == today[2]  # the generator ends where today's path leaves it
    other = _loss_and_grads(model, lambda f: [model(x)["sentence_embedding"] for x in f])  # other draws
    assert other[0] != pytest.approx(today[0], abs=1e-6)


def test_probe_finds_the_dropout_draws_of_a_forward_and_none_in_eval_mode(model):
    features = model.tokenize(["one two three four five six"])
    sites = ff.probe_sites(model, features)
    assert len(sites) == 1 + 3 * 2  # embeddings, then attention probs + two hidden dropouts per layer
    assert {s.rank for s in sites} == {3, 4} and all(s.keep == pytest.approx(0.9) for s in sites)
    model.eval()
    try:
        assert ff.probe_sites(model, features) == []
    finally:
        model.train()


def test_a_model_without_attention_masks_keeps_the_librarys_forward():
    """A static embedding model's features carry no attention mask: nothing to sort, None."""
    features = [{"input_ids": torch.tensor([1, 2, 3]), "offsets": torch.tensor([0, 2])}]
    assert ff.embed_sorted(model=None, features_list=features) is None

"""Language-aware batch samplers: statistics, duplicates, determinism, ranks. No model needed."""

import pickle
from collections import Counter

import numpy as np
import pytest
from accelerate.data_loader import BatchSamplerShard

from hybridir_core.config import SamplingConfig
from hybridir_core.data.corpora import ParallelCorpus
from hybridir_core.training.sampling import (
    CROSS,
    MIXED,
    MONO,
    LanguageBatchSampler,
    PairLayout,
    SamplerFactory,
    batches_consumed,
    composition,
    pair_dataset,
)

LANGS = ("ar", "de", "en", "zh")


def toy_corpus(n_items=60, per_item=3, langs=LANGS):
    """Item i has ``per_item`` pairs; text names item, pair and language."""
    n = n_items * per_item
    item = np.repeat(np.arange(n_items), per_item)
    q = np.array([[f"q{k}-{lang}" for lang in langs] for k in range(n)], dtype=object)
    p = np.array([[f"p{item[k]}-{lang}" for lang in langs] for k in range(n)], dtype=object)
    return ParallelCorpus("toy", langs, item, q, p, np.full(n, "toy", dtype=object))


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.fixture(scope="module")
def dataset(corpus):
    return pair_dataset(corpus)


def make(corpus, dataset, batch_size=8, seed=0, world_size=1, **sampling):
    return LanguageBatchSampler(dataset, batch_size, True, seed=seed, corpus=corpus,
                                sampling=SamplingConfig(**sampling), world_size=world_size)


def many_batches(sampler, epochs):
    return [b for e in range(epochs) for b in sampler.sampled_batches(e)]


def within_binomial(k, n, p, z=4.0):
    return abs(k - n * p) <= z * np.sqrt(n * p * (1 - p)) + 1e-9


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_share_of_monolingual_batches_is_alpha(corpus, dataset, alpha):
    batches = many_batches(make(corpus, dataset, strategy="hybrid", alpha=alpha), 300)
    kinds = Counter(b.kind for b in batches)
    assert set(kinds) <= {MONO, CROSS}
    assert within_binomial(kinds[MONO], len(batches), alpha)


def test_mono_and_cross_batches_hold_what_they_say(corpus, dataset):
    for b in many_batches(make(corpus, dataset, strategy="hybrid", alpha=0.5), 20):
        if b.kind == MONO:
            assert len({x for x, _ in b.langs}) == 1 and all(x == y for x, y in b.langs)
        else:
            assert all(x != y for x, y in b.langs)
    assert all(b.kind == MONO for b in make(corpus, dataset, strategy="mono").sampled_batches())
    assert all(b.kind == CROSS for b in make(corpus, dataset, strategy="cross").sampled_batches())


def test_languages_are_uniform(corpus, dataset):
    mono = many_batches(make(corpus, dataset, strategy="mono"), 200)
    per_lang = Counter(b.langs[0][0] for b in mono)
    assert set(per_lang) == set(LANGS)
    assert all(within_binomial(per_lang[x], len(mono), 1 / len(LANGS)) for x in LANGS)
    cross = many_batches(make(corpus, dataset, strategy="cross"), 50)
    pairs = Counter(xy for b in cross for xy in b.langs)
    n_pairs, ordered = sum(pairs.values()), len(LANGS) * (len(LANGS) - 1)
    assert len(pairs) == ordered
    assert all(within_binomial(c, n_pairs, 1 / ordered) for c in pairs.values())


def test_one_language_pair_per_cross_batch_option(corpus, dataset):
    batches = many_batches(make(corpus, dataset, strategy="cross", cross_pair_per_batch=True), 30)
    assert all(len(set(b.langs)) == 1 for b in batches)
    assert len({b.langs[0] for b in batches}) > 6


def test_per_pair_mix(corpus, dataset):
    batches = many_batches(make(corpus, dataset, strategy="hybrid", alpha=0.3, mix="per-pair"), 40)
    stats = composition(batches)
    assert stats["mixed_batches"] > 0.9 * len(batches)
    assert within_binomial(round(stats["mono_pair_share"] * stats["pairs"]), stats["pairs"], 0.3)
    assert {MONO, CROSS, MIXED} >= {b.kind for b in batches}


def test_never_the_same_item_twice_in_a_batch_and_rows_match(corpus, dataset):
    layout = PairLayout(len(corpus), corpus.languages)
    sampler = make(corpus, dataset, batch_size=20, strategy="hybrid", alpha=0.5)
    for b in many_batches(sampler, 10):
        pair, x, y = layout.decode(np.array(b.rows))
        items = corpus.item[pair]
        assert len(set(items)) == len(items) == 20
        assert list(items) == b.items
        assert [(LANGS[i], LANGS[j]) for i, j in zip(x, y)] == b.langs
    # the collator sees only text columns, in the row's languages
    row = layout.row(5, 1, 3)
    assert dataset[[row]] == {"query": ["q5-de"], "passage": [f"p{corpus.item[5]}-zh"]}
    assert dataset[row].keys() == {"query", "passage"}


def test_each_item_once_per_epoch_rotating_its_pairs(corpus, dataset):
    sampler = make(corpus, dataset, batch_size=10, strategy="hybrid")
    assert len(sampler) == 60 // 10
    layout = PairLayout(len(corpus), corpus.languages)
    seen = Counter()
    for epoch in range(3):
        batches = list(sampler.sampled_batches(epoch))
        items = [i for b in batches for i in b.items]
        assert sorted(items) == list(range(60))
        seen.update(int(layout.decode(r)[0]) for b in batches for r in b.rows)
    assert len(seen) == len(corpus)  # 3 epochs: each of the 3 pairs of every item once


def test_len_is_exact_and_iter_yields_rows(corpus, dataset):
    for batch_size, world in ((8, 1), (7, 2), (5, 3)):
        sampler = make(corpus, dataset, batch_size=batch_size, world_size=world)
        batches = list(sampler)
        assert len(batches) == len(sampler) == (60 // (batch_size * world)) * world
        assert all(len(b) == batch_size for b in batches)
    with pytest.raises(ValueError, match="lower the batch size"):
        make(corpus, dataset, batch_size=61)


def test_deterministic_for_a_seed_and_changing_across_epochs(corpus, dataset):
    a, b = make(corpus, dataset, seed=3), make(corpus, dataset, seed=3)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(make(corpus, dataset, seed=4)) != list(make(corpus, dataset, seed=3))


@pytest.mark.parametrize("sampling", [dict(strategy="hybrid", alpha=0.5),
                                      dict(strategy="cross", cross_pair_per_batch=True)])
def test_two_simulated_ranks_agree_on_each_step(corpus, dataset, sampling):
    """accelerate gives batch i to rank i % world: both ranks build the same sampler."""
    world = 2
    shards = []
    for rank in range(world):
        sampler = make(corpus, dataset, batch_size=6, seed=11, world_size=world, **sampling)
        sampler.set_epoch(2)
        shards.append(list(BatchSamplerShard(sampler, num_processes=world, process_index=rank)))
    full = list(make(corpus, dataset, batch_size=6, seed=11, world_size=world, **sampling).sampled_batches(2))
    by_rows = {tuple(b.rows): b for b in full}
    assert len(shards[0]) == len(shards[1]) == len(full) // world > 0
    for step, (r0, r1) in enumerate(zip(*shards)):
        b0, b1 = by_rows[tuple(r0)], by_rows[tuple(r1)]
        assert (b0, b1) == (full[2 * step], full[2 * step + 1])
        assert b0.kind == b1.kind
        if b0.kind == MONO:
            assert set(b0.langs) == set(b1.langs) and len(set(b0.langs)) == 1
        if sampling.get("cross_pair_per_batch"):
            assert set(b0.langs) == set(b1.langs)
        assert not set(b0.items) & set(b1.items)  # distinct across the whole step


def test_bitext_corpus_allows_only_cross_lingual_batches():
    # query == passage (one sentence per language), English-X only, like Tatoeba
    n, langs = 40, ("en", "de", "ru")
    text = np.full((2 * n, 3), None, dtype=object)
    for k in range(2 * n):
        text[k, 0], text[k, 1 + k % 2] = f"en{k}", f"x{k}"
    corpus = ParallelCorpus("bitext", langs, np.arange(2 * n), text, text.copy(),
                            np.full(2 * n, "bitext", dtype=object))
    dataset = pair_dataset(corpus)
    with pytest.raises(ValueError, match="monolingual"):
        make(corpus, dataset, strategy="hybrid", alpha=0.5)
    batches = many_batches(make(corpus, dataset, strategy="cross"), 5)
    pairs = {xy for b in batches for xy in b.langs}
    assert pairs == {("en", "de"), ("de", "en"), ("en", "ru"), ("ru", "en")}


def test_holes_are_served_by_other_items_without_duplicates():
    rich = toy_corpus(40, 1, ("en", "de"))
    text = np.array([[f"en{k}", None] for k in range(40)], dtype=object)
    poor = ParallelCorpus("poor", ("en", "de"), np.arange(40), text, text.copy(), np.full(40, "poor", dtype=object))
    corpus = ParallelCorpus.concat([rich, poor], ("en", "de"))  # poor items serve nothing
    dataset = pair_dataset(corpus)
    sampler = make(corpus, dataset, batch_size=8, strategy="hybrid", alpha=0.5)
    assert len(sampler) == 80 // 8
    for b in sampler.sampled_batches():
        assert len(set(b.items)) == 8 and all(i < 40 for i in b.items)


def test_replayed_composition_matches_the_epochs(corpus, dataset):
    sampler = make(corpus, dataset, batch_size=10)  # 6 batches per epoch
    consumed = batches_consumed(sampler, 8)
    assert [b.rows for b in consumed] == [b.rows for b in many_batches(sampler, 2)[:8]]
    assert len(batches_consumed(sampler, 4, grad_accum=2)) == 8
    stats = composition(consumed)
    assert stats["batches"] == 8 and stats["pairs"] == 80
    assert stats["mono_batches"] + stats["cross_batches"] == 8
    assert sum(stats["pair_counts"].values()) == 80


def test_factory_follows_the_library_contract_and_pickles_small(corpus, dataset):
    factory = SamplerFactory({id(dataset): ("train", corpus, SamplingConfig("mono"), None)})
    sampler = factory(dataset, batch_size=4, drop_last=False, valid_label_columns=["label"], generator=None, seed=9)
    assert isinstance(sampler, LanguageBatchSampler) and sampler.seed == 9
    assert factory.created["train"] is sampler
    assert len(pickle.dumps(factory)) < 2000  # the trainer pickles its arguments per checkpoint
    with pytest.raises(ValueError, match="not built for"):
        factory(pair_dataset(toy_corpus(5)), 4, True)

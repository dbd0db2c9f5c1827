"""Monolingual, cross-lingual and hybrid(alpha) batches for ``SentenceTransformerTrainer``.

The training ``Dataset`` is a *virtual product*: row ``(pair * L + x) * L + y`` holds the
query of ``pair`` in language ``x`` and its passage in language ``y`` (``L`` languages).
Its only stored column is that row number, which ``pair_dataset``'s transform turns into
``query`` / ``passage`` text on access, so the data collator never sees (and never
tokenises) a language or item id. ``LanguageBatchSampler`` chooses the rows: it knows the
layout, the corpus' items and which (pair, x, y) exist, given to it by ``SamplerFactory``
beside the dataset.

Recommended for:
    - ``MultipleNegativesRankingLoss`` (and its cached/symmetric variants) on parallel data,
      where each batch's in-batch negatives should be all-monolingual or all-cross-lingual.

Relations:
    - Like ``NoDuplicatesBatchSampler`` it keeps duplicates out of a batch, but by *item id*
      (meaning), not by text: a translation of a positive is a false negative too.
    - ``strategy="mono"`` is X-X-mono of arXiv 2408.10536, ``"cross"`` is X-Y, and
      ``"hybrid"`` with alpha mixes them per batch (the paper) or per pair (ablation).
"""

from __future__ import annotations

import logging
import os
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from sentence_transformers.base.sampler import DefaultBatchSampler

from hybridir_core.config import SamplingConfig
from hybridir_core.data.corpora import ParallelCorpus

logger = logging.getLogger(__name__)

MONO, CROSS, MIXED = "mono", "cross", "mixed"


def world_size_from_env() -> int:
    """Number of training processes (``WORLD_SIZE`` under torchrun / accelerate launch)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


@dataclass(frozen=True)
class PairLayout:
    """The row layout of the virtual product dataset and what each row may be used for."""

    n_pairs: int
    languages: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return self.n_pairs * len(self.languages) ** 2

    def row(self, pair: int, query_lang: int, passage_lang: int) -> int:
        n_lang = len(self.languages)
        return (pair * n_lang + query_lang) * n_lang + passage_lang

    def decode(self, row: np.ndarray | int) -> tuple:
        """``(pair, query_lang, passage_lang)`` of row numbers."""
        n_lang = len(self.languages)
        pair, rest = np.divmod(row, n_lang * n_lang)
        query_lang, passage_lang = np.divmod(rest, n_lang)
        return pair, query_lang, passage_lang


def pair_dataset(corpus: ParallelCorpus):
    """The virtual product ``datasets.Dataset`` of ``corpus`` (columns seen: query, passage,
    and negative where the corpus has hard negatives: MNRL then takes the triplet)."""
    from datasets import Dataset

    layout = PairLayout(len(corpus), corpus.languages)
    dataset = Dataset.from_dict({"row": np.arange(layout.n_rows, dtype=np.int64)})

    def to_text(batch: dict) -> dict:
        pair, x, y = layout.decode(np.asarray(batch["row"], dtype=np.int64))
        texts = [corpus.text(int(k), int(q), int(p)) for k, q, p in zip(pair, x, y)]
        out = {"query": [t[0] for t in texts], "passage": [t[1] for t in texts]}
        if corpus.negatives is not None:
            out["negative"] = [corpus.negative(int(k), int(p)) for k, p in zip(pair, y)]
        return out

    dataset.set_transform(to_text)
    return dataset


@dataclass
class SampledBatch:
    """One batch as drawn: dataset rows, the (query, passage) language of each pair, its kind."""

    rows: list[int]
    langs: list[tuple[str, str]]
    kind: str
    items: list[int] = field(default_factory=list)


class LanguageBatchSampler(DefaultBatchSampler):
    """Batches of distinct items, monolingual with probability alpha, else cross-lingual.

    Per step (``world_size`` consecutive batches, one per rank: accelerate hands batch
    ``i`` to rank ``i % world_size``) one draw decides the batch type and, for monolingual
    batches, the language; so every rank agrees on them, and items are distinct across the
    whole step (needed when in-batch negatives are gathered across devices).

    - monolingual batch: one language X, uniform over the languages with usable pairs;
    - cross-lingual batch: each pair draws its own ordered (X, Y), X != Y, uniformly among
      the language pairs with usable pairs (``cross_pair_per_batch``: one per step);
    - ``mix="per-pair"``: each pair is monolingual with probability alpha.

    Items come from a fresh permutation each epoch (``np.random.default_rng(seed + epoch)``),
    each item at most once per epoch; an item with several pairs (XNLI: 3 hypotheses)
    rotates through them across epochs. A pair that cannot serve the slot's languages waits
    for a later slot. Batches are always full (``drop_last`` is ignored: in-batch negatives
    and DDP want equal batches), and ``len`` is exact: ``items // (batch * world) * world``.

    Args:
        dataset: ``pair_dataset(corpus)``.
        batch_size, drop_last, valid_label_columns, generator, seed: as
            ``DefaultBatchSampler`` (the torch generator is unused: the draws use numpy).
        corpus: the corpus the dataset was built from.
        sampling: strategy, alpha, mix.
        world_size: processes in data-parallel training (default: ``WORLD_SIZE``).
        num_batches: override ``len`` (e.g. a fixed number of validation batches).
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool = True,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        corpus: ParallelCorpus,
        sampling: SamplingConfig,
        world_size: int | None = None,
        num_batches: int | None = None,
    ) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
        self.corpus = corpus
        self.sampling = sampling
        self.alpha = sampling.alpha
        self.world_size = world_size or world_size_from_env()
        self.layout = PairLayout(len(corpus), corpus.languages)
        if len(dataset) != self.layout.n_rows:
            raise ValueError(f"dataset has {len(dataset)} rows; pair_dataset(corpus) has {self.layout.n_rows}")
        step_size = batch_size * self.world_size
        self._warned_refill = False
        self.n_items = len(np.unique(corpus.item))
        natural = (self.n_items // step_size) * self.world_size
        self.num_batches = natural if num_batches is None else num_batches
        if self.num_batches < self.world_size or self.num_batches % self.world_size:
            raise ValueError(
                f"{corpus.name}: {self.n_items} items give {natural} batches of {batch_size} "
                f"x {self.world_size} process(es); lower the batch size or add data")
        self._prepare(step_size)

    # -- set-up -----------------------------------------------------------------------------
    def _prepare(self, step_size: int) -> None:
        corpus, n_lang = self.corpus, len(self.corpus.languages)
        elig = corpus.eligibility()  # (pairs, L, L)
        _, inverse = np.unique(corpus.item, return_inverse=True)
        inverse = inverse.ravel()
        self.members: list[np.ndarray] = [np.empty(0, np.int64)] * self.n_items
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(self.n_items + 1))
        offsets = np.random.default_rng(self.seed).integers(0, 1 << 30, self.n_items)
        for i in range(self.n_items):
            self.members[i] = order[bounds[i]:bounds[i + 1]]
        self.item_offset = offsets
        item_elig = np.zeros((self.n_items, n_lang, n_lang), bool)
        np.logical_or.at(item_elig, inverse.ravel(), elig)
        self.item_elig = item_elig
        self.pair_elig = elig
        # signature of an item = which (x, y) it can serve; waiting items are kept per signature
        sigs, self.item_sig = np.unique(item_elig.reshape(self.n_items, -1), axis=0, return_inverse=True)
        self.item_sig = self.item_sig.ravel()
        self.sig_elig = sigs.reshape(-1, n_lang, n_lang)
        counts = item_elig.sum(axis=0)  # items per (x, y)
        need = step_size if self.sampling.mix == "per-batch" else 1
        self.mono_langs = [x for x in range(n_lang) if counts[x, x] >= need]
        cross_need = step_size if self.sampling.cross_pair_per_batch else 1
        self.cross_pairs = [(x, y) for x in range(n_lang) for y in range(n_lang)
                            if x != y and counts[x, y] >= cross_need]
        dropped = [corpus.languages[x] for x in range(n_lang) if x not in self.mono_langs]
        if self.alpha > 0 and not self.mono_langs:
            raise ValueError(f"{corpus.name}: no language has enough monolingual pairs for "
                             f"alpha={self.alpha} (bitext-only corpora allow only strategy=cross)")
        if self.alpha > 0 and dropped:
            logger.warning("monolingual batches skip %s (too few usable pairs)", dropped)
        if self.alpha < 1 and not self.cross_pairs:
            raise ValueError(f"{corpus.name}: no cross-lingual language pair has usable pairs")

    # -- drawing ----------------------------------------------------------------------------
    def _step_langs(self, rng: np.random.Generator) -> tuple[str, list[list[tuple[int, int]]]]:
        """The kind and the (x, y) of every slot of one step (world_size batches)."""
        n_slots, per = self.batch_size * self.world_size, self.batch_size
        if self.sampling.mix == "per-pair":
            mono = rng.random(n_slots) < self.alpha
            langs = rng.integers(0, max(len(self.mono_langs), 1), n_slots)
            pairs = rng.integers(0, max(len(self.cross_pairs), 1), n_slots)
            slots = [(self.mono_langs[lang],) * 2 if m else self.cross_pairs[c]
                     for m, lang, c in zip(mono, langs, pairs)]
            kinds = {MONO if m else CROSS for m in mono}
            kind = kinds.pop() if len(kinds) == 1 else MIXED
        elif rng.random() < self.alpha:
            lang = self.mono_langs[rng.integers(len(self.mono_langs))]
            slots, kind = [(lang, lang)] * n_slots, MONO
        else:
            if self.sampling.cross_pair_per_batch:
                slots = [self.cross_pairs[rng.integers(len(self.cross_pairs))]] * n_slots
            else:
                idx = rng.integers(0, len(self.cross_pairs), n_slots)
                slots = [self.cross_pairs[i] for i in idx]
            kind = CROSS
        return kind, [slots[b * per:(b + 1) * per] for b in range(self.world_size)]

    def sampled_batches(self, epoch: int | None = None) -> Iterator[SampledBatch]:
        """The batches of ``epoch`` (default: the current one) with their languages and kind."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng(self.seed + epoch)
        stream: deque[int] = deque(rng.permutation(self.n_items).tolist())
        waiting: dict[int, deque[int]] = {}
        refilled = [False]  # refilled the stream and took nothing since: the slot is impossible

        def take(x: int, y: int, used: set[int]) -> int:
            for sig, queue in waiting.items():
                if queue and self.sig_elig[sig, x, y]:
                    for _ in range(len(queue)):
                        item = queue.popleft()
                        if item not in used:
                            refilled[0] = False
                            return item
                        queue.append(item)
            while True:
                if not stream:
                    # only with holes (e.g. bitext items, which serve no monolingual slot):
                    # another pass over the items, so some repeat within this epoch
                    if refilled[0]:
                        raise RuntimeError(f"{self.corpus.name}: cannot fill a batch with "
                                           f"({self.corpus.languages[x]}, {self.corpus.languages[y]}) pairs")
                    if not self._warned_refill:
                        logger.warning("%s: items usable for some language pairs ran out within an "
                                       "epoch; reshuffling them (never twice in a batch)", self.corpus.name)
                        self._warned_refill = True
                    refilled[0] = True
                    stream.extend(rng.permutation(self.n_items).tolist())
                item = stream.popleft()
                if self.item_elig[item, x, y] and item not in used:
                    refilled[0] = False
                    return item
                waiting.setdefault(int(self.item_sig[item]), deque()).append(item)

        for _ in range(self.num_batches // self.world_size):
            kind, per_rank = self._step_langs(rng)
            used: set[int] = set()
            for slots in per_rank:
                rows, items = [], []
                for x, y in slots:
                    item = take(x, y, used)
                    used.add(item)
                    members = self.members[item]
                    start = (epoch + self.item_offset[item]) % len(members)
                    for j in range(len(members)):
                        pair = int(members[(start + j) % len(members)])
                        if self.pair_elig[pair, x, y]:
                            break
                    rows.append(self.layout.row(pair, x, y))
                    items.append(item)
                langs = self.corpus.languages
                yield SampledBatch(rows, [(langs[x], langs[y]) for x, y in slots], kind, items)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.sampled_batches():
            yield batch.rows

    def __len__(self) -> int:
        return self.num_batches


def composition(batches: list[SampledBatch]) -> dict:
    """Realised composition: batch kinds and counts per query-language x passage-language."""
    kinds = Counter(b.kind for b in batches)
    pairs = Counter(f"{x}-{y}" for b in batches for x, y in b.langs)
    n_pairs = sum(pairs.values())
    mono_pairs = sum(n for key, n in pairs.items() if key.split("-")[0] == key.split("-")[1])
    return {
        "batches": len(batches),
        "mono_batches": kinds.get(MONO, 0),
        "cross_batches": kinds.get(CROSS, 0),
        "mixed_batches": kinds.get(MIXED, 0),
        "pairs": n_pairs,
        "mono_pair_share": mono_pairs / n_pairs if n_pairs else 0.0,
        "pair_counts": dict(sorted(pairs.items())),
    }


def batches_consumed(sampler: LanguageBatchSampler, global_steps: int, grad_accum: int = 1) -> list[SampledBatch]:
    """Replay the batches that ``global_steps`` optimizer steps consumed (all ranks).

    Exact because the sampler is a pure function of (seed, epoch); it mirrors the trainer's
    epoch arithmetic (``ceil(batches_per_rank / grad_accum)`` updates per epoch).
    """
    per_rank = len(sampler) // sampler.world_size
    updates_per_epoch = max(1, -(-per_rank // grad_accum))
    out: list[SampledBatch] = []
    epoch, remaining = 0, global_steps
    while remaining > 0:
        steps = min(remaining, updates_per_epoch)
        n = min(steps * grad_accum, per_rank) * sampler.world_size
        for i, batch in enumerate(sampler.sampled_batches(epoch)):
            if i >= n:
                break
            out.append(batch)
        remaining -= steps
        epoch += 1
    return out


class SamplerFactory:
    """The ``batch_sampler`` for the training arguments, closing over each dataset's corpus.

    The trainer builds a sampler for the train and the eval dataset alike and calls this with
    the library's arguments ``(dataset, batch_size, drop_last, valid_label_columns,
    generator, seed)``; the corpus of each dataset is found by the dataset's identity.

    Args:
        roles: ``{id(dataset): (role, corpus, sampling, seed or None)}``; a fixed seed
            (validation) keeps the evaluation batches identical across evaluations and runs.
        world_size: processes (default: ``WORLD_SIZE``).

    Attributes:
        created: the samplers built so far, by role (for callbacks and statistics).
    """

    def __init__(self, roles: dict[int, tuple[str, ParallelCorpus, SamplingConfig, int | None]],
                 world_size: int | None = None) -> None:
        self.roles = roles
        self.world_size = world_size
        self.created: dict[str, LanguageBatchSampler] = {}

    def __call__(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        try:
            role, corpus, sampling, fixed_seed = self.roles[id(dataset)]
        except KeyError:
            raise ValueError("LanguageBatchSampler got a dataset it was not built for; "
                             "pass the datasets made by sampling.pair_dataset") from None
        sampler = LanguageBatchSampler(
            dataset, batch_size, drop_last, valid_label_columns, generator,
            seed if fixed_seed is None else fixed_seed,
            corpus=corpus, sampling=sampling, world_size=self.world_size,
        )
        self.created[role] = sampler
        return sampler

    def __getstate__(self) -> dict:
        # The trainer pickles its arguments into every checkpoint (training_args.bin, for
        # reference only): keep that small and leave the corpora out.
        return {"roles": {}, "world_size": self.world_size, "created": {},
                "description": {role: (corpus.name, len(corpus), sampling.to_dict(), seed)
                                for role, corpus, sampling, seed in self.roles.values()}}

    def __repr__(self) -> str:
        roles = ", ".join(f"{r}={c.name}/{s.strategy}" for r, c, s, _ in self.roles.values())
        return f"SamplerFactory({roles})"

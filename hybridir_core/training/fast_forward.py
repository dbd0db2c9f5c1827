"""Exact, faster training forward: texts in length-sorted sub-batches padded to their own length.

The trainer's collator pads each text column to its longest text, and sentence-transformers
forwards the queries, then the merged passage columns, as two padded blocks; on a CPU most of a
step goes into attention and feed-forward over padding (one long answer sentence sets the width
of the whole block). A sentence embedding depends only on its own text (the attention mask keeps
padding out of attention and of mean pooling), so forwarding the same texts sorted by length in
chunks padded to their own width gives the same embeddings up to float rounding.

Dropout is what ties a text to its block: each dropout draws a mask of the block's shape from
the global generator. ``embed_sorted`` therefore draws every mask first, in today's order and
shapes (one ``bernoulli_`` per dropout site per block, as ``torch.nn.functional.dropout`` does on
a CPU), then forwards the chunks while a dispatch mode hands each dropout the rows and columns
of its mask. Every real token sees the mask it sees today; the generator ends in the same state.
Where the dropouts are drawn otherwise (a fused CUDA kernel, other random ops), the library's
forward is used.

``sorted_mnrl`` is ``MultipleNegativesRankingLoss`` with that forward (``--train-backend auto``);
``--train-backend torch`` keeps the library's forward for comparison.
"""

from __future__ import annotations

import dataclasses
from typing import Any

CHUNK_TOKENS = 2048
"""Padded tokens (texts x longest length) per sub-batch: low padding, yet matrices large enough
to keep the kernels busy (bench part train-speed)."""
_PROBE_LENGTH = 5  # probe width: a number no hidden size or head count of the registry equals


@dataclasses.dataclass(frozen=True)
class Site:
    """One dropout draw of a forward: rank, which dims are the sequence, keep probability, dtype."""

    rank: int
    seq_dims: tuple[int, ...]
    other: tuple[int, ...]  # sizes of the dims that are neither batch nor sequence, by position
    keep: float
    dtype: Any

    def shape(self, batch: int, width: int) -> tuple[int, ...]:
        return tuple(batch if d == 0 else width if d in self.seq_dims else self.other[d] for d in range(self.rank))


def length_chunks(lengths: list[int], budget: int = CHUNK_TOKENS) -> list[list[int]]:
    """Indices of ``lengths`` sorted by length (longest first), cut into chunks whose padded
    size (texts x longest length in the chunk) stays within ``budget`` (at least one text each)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    chunks: list[list[int]] = []
    for index in order:
        if chunks and (len(chunks[-1]) + 1) * lengths[chunks[-1][0]] <= budget:
            chunks[-1].append(index)
        else:
            chunks.append([index])
    return chunks


def _draws_mode(masks: list | None = None, sites: list[Site] | None = None, rows=None, width: int = 0):
    """A dispatch mode that records the dropout draws of a forward (``masks`` None) or replays
    ``masks`` (rows ``rows``, sequence dims cut to ``width``) in place of fresh draws."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    bernoulli = torch.ops.aten.bernoulli_.float

    class Draws(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.recorded: list[tuple] = []
            self.foreign: list[str] = []
            self.calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is bernoulli and kwargs.get("generator") is None and masks is not None:
                return self._replay(args[0])
            if func is bernoulli and kwargs.get("generator") is None:
                keep = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
                self.recorded.append((tuple(args[0].shape), float(keep), args[0].dtype))
            elif torch.Tag.nondeterministic_seeded in func.tags:
                self.foreign.append(str(func))
            return func(*args, **kwargs)

        def _replay(self, target):
            mask, site = masks[self.calls], sites[self.calls]
            self.calls += 1
            mask = mask[rows]
            for dim in site.seq_dims:
                mask = mask.narrow(dim, 0, width)
            if tuple(mask.shape) != tuple(target.shape):
                raise RuntimeError(f"dropout replay: mask {tuple(mask.shape)} for a draw of {tuple(target.shape)}")
            return target.copy_(mask)

    return Draws()


def probe_sites(model, features: dict[str, Any]) -> list[Site] | None:
    """The dropout draws of one forward of ``model`` (none in eval mode), from a one-text probe;
    None where a forward draws randomness otherwise (fused dropout, other random ops)."""
    import torch

    if not model.training:  # modules draw no dropout masks in eval mode
        return []
    width = features["attention_mask"].shape[1]
    if width < _PROBE_LENGTH:
        return None
    tiny = _slice(features, torch.tensor([0]), _PROBE_LENGTH)
    tiny["attention_mask"] = torch.ones_like(tiny["attention_mask"])
    with torch.random.fork_rng(devices=[]), torch.no_grad(), _draws_mode() as mode:
        model(tiny)
    if mode.foreign:
        return None
    return [Site(len(shape), tuple(d for d in range(1, len(shape)) if shape[d] == _PROBE_LENGTH), shape, keep, dtype)
            for shape, keep, dtype in mode.recorded]


def _slice(features: dict[str, Any], rows, width: int) -> dict[str, Any]:
    """Rows ``rows`` of ``features`` (per-text tensors), token dims cut to ``width``."""
    import torch

    batch = features["attention_mask"].shape[0]
    out = {}
    for key, value in features.items():
        if torch.is_tensor(value) and value.dim() >= 1 and value.shape[0] == batch:
            value = value[rows]
            value = value[:, :width] if value.dim() == 2 else value
        out[key] = value
    return out


def today_blocks(features_list: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """The padded blocks the library forwards, in its order, with the columns each holds: the
    first column alone, the others merged where ``merge_feature_batches`` merges them
    (``embed_columns``)."""
    from sentence_transformers.base.losses.merged_forward import merge_feature_batches

    first, rest = features_list[0], features_list[1:]
    merged = merge_feature_batches(rest) if len(rest) > 1 else None
    return [(first, 1), *([(merged, len(rest))] if merged is not None else [(f, 1) for f in rest])]


def draw_masks(sites: list[Site], batch: int, width: int) -> list:
    """The dropout masks of one block's forward, drawn as ``dropout`` draws them (kept as bool)."""
    import torch

    return [torch.empty(s.shape(batch, width), dtype=s.dtype).bernoulli_(s.keep).bool() for s in sites]


def _embed_block(model, block: dict[str, Any], masks: list, sites: list[Site], budget: int):
    """Embeddings of one block's texts, forwarded in length-sorted chunks with replayed dropout."""
    import torch

    lengths = block["attention_mask"].sum(dim=1).tolist()
    pieces, order = [], []
    for chunk in length_chunks(lengths, budget):
        rows, width = torch.tensor(chunk), max(lengths[i] for i in chunk)
        with _draws_mode(masks, sites, rows, width) as mode:
            pieces.append(model(_slice(block, rows, width))["sentence_embedding"])
        if mode.calls != len(sites):
            raise RuntimeError(f"dropout replay: {mode.calls} draws in a forward, {len(sites)} probed")
        order.extend(chunk)
    stacked = torch.cat(pieces)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return stacked[inverse.to(stacked.device)]


def embed_sorted(model, features_list: list[dict[str, Any]], budget: int = CHUNK_TOKENS,
                 sites: list[Site] | None = None) -> list | None:
    """Each column's sentence embeddings as ``embed_columns`` gives them, computed in
    length-sorted chunks (module doc); None where the forward cannot be replayed exactly (not
    on a CPU, or no attention mask: a static embedding model has no padding to save)."""
    blocks = today_blocks(features_list)
    if any("attention_mask" not in block or block["attention_mask"].device.type != "cpu" for block, _ in blocks):
        return None
    sites = probe_sites(model, blocks[0][0]) if sites is None else sites
    if sites is None:
        return None
    masks = [draw_masks(sites, *block["attention_mask"].shape) for block, _ in blocks]  # today's order
    out = []
    for (block, columns), block_masks in zip(blocks, masks, strict=True):
        out.extend(_embed_block(model, block, block_masks, sites, budget).chunk(columns))
    return out


def sorted_mnrl(model, scale: float, gather_across_devices: bool):
    """``MultipleNegativesRankingLoss`` whose forward is ``embed_sorted`` (same loss, less padding)."""
    from sentence_transformers.base.losses.merged_forward import embed_columns
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    class SortedMNRL(MultipleNegativesRankingLoss):
        """MNRL over embeddings computed in length-sorted sub-batches with replayed dropout."""

        def forward(self, sentence_features, labels):
            features = list(sentence_features)
            embeddings = embed_sorted(self.model, features) or embed_columns(self.model, features)
            return self.compute_loss_from_embeddings(embeddings, labels)

    return SortedMNRL(model, scale=scale, gather_across_devices=gather_across_devices)

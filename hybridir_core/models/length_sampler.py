"""A batch sampler that groups texts of similar token length (the distillation's sampler).

It lives beside ``distill`` (the only trainer that uses it), not with the language samplers
of ``training.sampling``: building a student is part of the model registry, below training.
"""

from __future__ import annotations

import numpy as np
from sentence_transformers.base.sampler import DefaultBatchSampler


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """Shuffled batches of texts of similar token length (less padding, same texts per epoch).

    Each epoch: a seeded permutation, cut into pools of ``pool_batches`` batches; each pool
    sorted by length and cut into batches; then all batches shuffled. Called by the trainer
    like its own samplers, with ``tokenizer`` bound (``functools.partial``).
    """

    def __init__(self, dataset, batch_size: int, drop_last: bool, valid_label_columns=None, generator=None,
                 seed: int = 0, *, tokenizer, pool_batches: int = 50) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
        ids = tokenizer(list(dataset["text"]), add_special_tokens=False)["input_ids"]
        self.lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        self.pool = batch_size * pool_batches

    def _batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed + self.epoch)
        order, batches = rng.permutation(len(self.lengths)), []
        for start in range(0, len(order), self.pool):
            chunk = order[start:start + self.pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self):
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or not rest else full + 1

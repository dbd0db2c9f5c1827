"""A cheap deterministic encoder with non-trivial rankings, for the folder and TREC tests."""

import hashlib

import numpy as np
from fixtures_runs import fixture_model

DIM = 64


class NgramEncoder:
    """Hashed character-trigram counts, randomly projected and normalised: texts that share
    trigrams score high, identical texts score exactly the same (ties)."""

    def get_sentence_embedding_dimension(self):
        return DIM

    def encode(self, texts, prompt=None, **kwargs):
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            text = f"  {(prompt or '')}{text.lower()} "
            for i in range(len(text) - 2):
                h = int.from_bytes(hashlib.blake2b(text[i:i + 3].encode(), digest_size=4).digest(), "little")
                out[row, h % DIM] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def ngram_model():
    return fixture_model(NgramEncoder(), "ngram", params=0, layers=0, dim=DIM, scale="test",
                         query_prompt="", passage_prompt="")

"""A cheap deterministic encoder with non-trivial rankings, for the folder and TREC tests."""

import hashlib
from pathlib import Path

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


def lay_out_hub_cache(home: Path, hub_id: str, source: Path, commit: str) -> Path:
    """A Hugging Face cache (``$HF_HOME/hub``) holding ``source`` as snapshot ``commit`` of ``hub_id``
    (files linked, ``refs/main`` written), as ``huggingface_hub`` leaves it after a download."""
    repo = home / "hub" / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    for path in source.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            target = snapshot / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot

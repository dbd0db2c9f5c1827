"""Top-k retrieval with FAISS, for results shown to a person (and the scaling benchmark).

Metrics never use this path: they need the exact rank of every relevant candidate, which
``ranking.exact_ranks`` computes. FAISS answers "what are the k best candidates?".
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from hybridir_core.config import EvalConfig
from hybridir_core.data.lareqa import load_lareqa
from hybridir_core.evaluation.evaluate import encode_texts, make_encoder
from hybridir_core.evaluation.search_cache import cache_file, cached_embeddings, data_signature, model_signature
from hybridir_core.models.encoders import build
from hybridir_core.models.registry import load_model


def build_index(embeddings: np.ndarray) -> faiss.Index:
    """Exact inner-product index (cosine on normalised embeddings)."""
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def top_k(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and candidate indices of the ``k`` best candidates per query."""
    k = min(k, index.ntotal)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def check_query(query: str, k: int) -> None:
    """A ValueError (one line) for an empty query or a ``k`` that is not an integer >= 1."""
    if not query.strip():
        raise ValueError("the query is empty")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")


class Searcher:
    """One model over one dataset's candidates, ready to answer queries one after another.

    Building it loads the model and the candidates' embeddings (encoded on the first use of this
    model and data, ``progress`` shows it, then read from ``search_cache``); each ``search`` then
    encodes one query and asks a FAISS index, well under a second on a CPU.
    """

    def __init__(self, model: str, dataset: str, languages: list[str] | None = None,
                 data_dir: str | None = None, progress: Callable[[str, int, int], None] | None = None) -> None:
        loaded = load_model(model)
        data = load_lareqa(dataset, data_dir, languages)
        self.texts = data.candidates["text"].tolist()
        self.langs = data.candidates["lang"].tolist()
        prompt = loaded.spec.passage_prompt
        path = cache_file(loaded.spec.name, dataset, model_signature(loaded.local_dir, loaded.spec.name),
                          data_signature(self.texts, self.langs, prompt))

        def encode() -> np.ndarray:
            encoder = make_encoder(loaded, EvalConfig(model=model), self.texts, prompt)
            return encode_texts(encoder, self.texts, prompt, progress, f"encoding {len(self.texts)} candidates (once)")

        self.index = build_index(cached_embeddings(path, encode)[0])
        self.query_encoder = build("torch", loaded.model, 1)
        self.query_prompt = loaded.spec.query_prompt

    def search(self, query: str, k: int = 10) -> list[dict]:
        """The top ``k`` candidates for one free-text query: rank, score, language, text."""
        check_query(query, k)
        q = encode_texts(self.query_encoder, [query], self.query_prompt)
        scores, idx = top_k(self.index, q, k)
        return [{"rank": r + 1, "score": float(s), "lang": self.langs[i], "text": self.texts[i]}
                for r, (s, i) in enumerate(zip(scores[0], idx[0]))]


def search_dataset(model: str, dataset: str, query: str, k: int = 10,
                   languages: list[str] | None = None, data_dir: str | None = None,
                   progress: Callable[[str, int, int], None] | None = None) -> list[dict]:
    """The top ``k`` candidates of a dataset for one free-text query (``Searcher`` for many)."""
    check_query(query, k)  # before the model loads
    return Searcher(model, dataset, languages, data_dir, progress).search(query, k)

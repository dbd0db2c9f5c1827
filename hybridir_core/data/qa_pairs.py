"""XQuAD-R as question -> answer-sentence training triplets, kept apart from MLQA-R.

The study's main training protocol. The paper (arXiv 2408.10536) trains on parallel
question-answer triplets; XQuAD-R is 11-way parallel (professional translations), so each
of its 1,190 questions gives a pair in every language: query = the question in language X,
positive = the sentence holding its answer in language Y, hard negative = another sentence
of the same paragraph in Y (a seeded choice per question and language; of the same article
where the paragraph is one sentence).

- Training keeps the paper's nine languages by default; el and vi stay unseen.
- Item = paragraph: two questions of one paragraph never share a batch, so no in-batch
  passage is another query's answer sentence or its hard negative.
- Group = article: the validation slice holds out whole articles (``ParallelCorpus.split``).
- MLQA-R is the evaluation set and is never trained on. ``OverlapIndex`` finds XQuAD-R
  texts that appear in MLQA-R exactly or share an 8-word sequence with it (16 characters in
  scripts written without spaces); ``load_xquad_qa`` drops every pair
  with such a text in any language, and ``measure_overlap`` reports the counts.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridir_core.config import PAPER_TRAIN_LANGUAGES
from hybridir_core.data import DataError
from hybridir_core.data.corpora import ParallelCorpus
from hybridir_core.data.lareqa import LareqaData, load_lareqa

logger = logging.getLogger(__name__)

NGRAM = 8
UNSPACED_NGRAM = 16
"""Scripts written without spaces count characters: 16 of them stand for about 8 words."""
UNSPACED_LANGUAGES = ("zh", "th", "ja", "km", "lo", "my")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFC, case-folded, whitespace collapsed: the key of an exact match."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZ"


def tokens(text: str, lang: str) -> list[str]:
    """Words of ``text`` (split at spaces, punctuation stripped; combining vowel signs stay
    in their word), or its letters and digits in scripts written without spaces."""
    text = normalise(text)
    if lang in UNSPACED_LANGUAGES:
        return [ch for ch in text if not _is_mark(ch)]
    words = ("".join(ch for ch in word if not _is_mark(ch)) for word in text.split())
    return [word for word in words if word]


def ngrams(text: str, lang: str) -> set[tuple[str, ...]]:
    """The token n-grams of ``text``: 8 words, or 16 characters in unspaced scripts."""
    n = UNSPACED_NGRAM if lang in UNSPACED_LANGUAGES else NGRAM
    toks = tokens(text, lang)
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


@dataclass
class OverlapIndex:
    """Every text of one dataset (sentences and questions), for exact and 8-gram lookups."""

    exact: set[str] = field(default_factory=set)
    grams: set[tuple[str, ...]] = field(default_factory=set)

    @classmethod
    def of(cls, data: LareqaData) -> "OverlapIndex":
        index = cls()
        texts = [*zip(data.candidates["text"], data.candidates["lang"]),
                 *zip(data.questions["text"], data.questions["lang"])]
        for text, lang in texts:
            index.exact.add(normalise(text))
            index.grams |= ngrams(text, lang)
        return index

    def match(self, text: str, lang: str) -> str | None:
        """``exact``, ``ngram`` (shares an n-gram with the indexed data) or None."""
        if normalise(text) in self.exact:
            return "exact"
        if not self.grams.isdisjoint(ngrams(text, lang)):
            return "ngram"
        return None


def measure_overlap(source: LareqaData, index: OverlapIndex) -> dict[str, dict[str, int]]:
    """How many of ``source``'s sentences and questions match ``index`` exactly or by an n-gram."""
    out = {}
    for kind, frame in (("sentences", source.candidates), ("questions", source.questions)):
        found = [index.match(text, lang) for text, lang in zip(frame["text"], frame["lang"])]
        out[kind] = {"total": len(found), "exact": found.count("exact"), "ngram": found.count("ngram")}
    return out


def _negative_choice(question_id: str, lang: str, n_others: int, seed: int) -> int:
    """A stable choice in ``range(n_others)`` for one question and language."""
    digest = hashlib.sha256(f"{seed}:{question_id}:{lang}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n_others


def _cells(data: LareqaData, seed: int) -> dict[tuple[str, str], tuple[str, str, str | None, int, int]]:
    """(question id, lang) -> question, answer sentence, hard negative, paragraph, article."""
    cand = data.candidates
    sentences = cand.groupby(["lang", "paragraph"]).indices
    article_sentences = cand.groupby(["lang", "article"]).indices
    cells = {}
    for qid, lang, text, answer in data.questions[["question_id", "lang", "text", "answer_candidate"]].itertuples(
            index=False):
        paragraph, article = int(cand.at[answer, "paragraph"]), int(cand.at[answer, "article"])
        others = [int(i) for i in sentences[(lang, paragraph)] if i != answer]
        if not others:  # a one-sentence paragraph: a sentence of the same article instead
            others = [int(i) for i in article_sentences[(lang, article)] if i != answer]
        negative = cand.at[others[_negative_choice(qid, lang, len(others), seed)], "text"] if others else None
        cells[(qid, lang)] = (text, cand.at[answer, "text"], negative, paragraph, article)
    return cells


def load_xquad_qa(
    data_dir: str | Path | None = None,
    languages: Sequence[str] = PAPER_TRAIN_LANGUAGES,
    limit_items: int | None = None,
    exclude: OverlapIndex | None | str = "mlqa-r",
    seed: int = 0,
) -> ParallelCorpus:
    """XQuAD-R question -> answer-sentence pairs with hard negatives, in ``languages``.

    Args:
        data_dir: the LAReQA data folder (``data.resolve_data_dir``).
        languages: XQuAD-R languages, in the corpus' column order.
        limit_items: keep the first N paragraphs (quick runs, tests).
        exclude: drop pairs with a text in this index (default: all of MLQA-R); None keeps all.
        seed: the hard-negative choice.

    Raises:
        DataError: a language XQuAD-R lacks, or a question whose translations sit in
            different paragraphs (the files are not parallel).
    """
    langs = tuple(languages)
    data = load_lareqa("xquad-r", data_dir, list(langs))
    if isinstance(exclude, str):
        exclude = OverlapIndex.of(load_lareqa(exclude, data_dir))
    cells = _cells(data, seed)
    qids = sorted(data.questions["question_id"].unique())
    n = len(qids)
    queries, passages, negatives = (np.full((n, len(langs)), None, dtype=object) for _ in range(3))
    item, group, drop = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, bool)
    for row, qid in enumerate(qids):
        places = set()
        for col, lang in enumerate(langs):
            cell = cells.get((qid, lang))
            if cell is None:
                continue
            queries[row, col], passages[row, col], negatives[row, col] = cell[:3]
            places.add(cell[3:])
            drop[row] |= exclude is not None and any(
                exclude.match(text, lang) for text in cell[:3] if text is not None)
        if len(places) != 1:
            raise DataError(f"xquad-r: question {qid} sits in different paragraphs across languages")
        item[row], group[row] = places.pop()
    if drop.any():
        logger.info("xquad: %d of %d questions left out: a text of theirs is in the evaluation data",
                    int(drop.sum()), n)
    corpus = ParallelCorpus("xquad", langs, item, queries, passages, np.full(n, "xquad", dtype=object),
                            negatives, group)
    return corpus.subset(~drop).limit_items(limit_items)


def overlap_report(data_dir: str | Path | None = None,
                   languages: Sequence[str] = PAPER_TRAIN_LANGUAGES) -> dict:
    """XQuAD-R's overlap with MLQA-R (every language) and the training pairs it leaves out."""
    index = OverlapIndex.of(load_lareqa("mlqa-r", data_dir))
    xquad = load_lareqa("xquad-r", data_dir)
    counts = measure_overlap(xquad, index)
    kept = load_xquad_qa(data_dir, languages, exclude=index)
    total = xquad.questions.loc[xquad.questions["lang"].isin(languages), "question_id"].nunique()
    return {"source": "xquad-r", "against": "mlqa-r",
            "match": f"exact (normalised) or a shared {NGRAM}-word sequence ({UNSPACED_NGRAM} characters "
                     f"in {', '.join(UNSPACED_LANGUAGES)})",
            **counts, "training_languages": list(languages),
            "questions_kept": len(kept), "questions_left_out": total - len(kept)}

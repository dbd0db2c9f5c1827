"""XQuAD-R and MLQA-R under the LAReQA protocol.

Candidates are every sentence of every paragraph of every language
(``context[s:e]`` for each ``[s, e]`` in ``sentence_breaks``). A question with id I in
language X is relevant to the sentence holding its ``answer_start`` in every language where
id I exists (11 relevant candidates per question in XQuAD-R, 2 to 4 in MLQA-R).

Quick mode (``limit_per_lang=N``) keeps whole question ids: an id is kept when it is among
the first N ids (sorted) of at least one loaded language, and then kept as a query in every
loaded language where it exists. Each language so keeps at least min(N, its questions); on
XQuAD-R (every id in every language) exactly N; on MLQA-R more, since English holds every id
(N = 50: en 127, others 50-62). Relevance always comes from the full data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybridir_core import paths
from hybridir_core.config import EVAL_LANGUAGES
from hybridir_core.data import DataError, pins
from hybridir_core.data.fetch import LAREQA_DATASETS, fetch_all
from hybridir_core.paths import REPO_ROOT

LAREQA_LANGUAGES = EVAL_LANGUAGES


@dataclass
class LareqaData:
    """One LAReQA dataset, flattened.

    Attributes:
        name: ``xquad-r`` or ``mlqa-r``.
        languages: the languages loaded, sorted.
        questions: the queries, one row per (question id, language): ``question_id, lang,
            text, answer_candidate`` (row index into ``candidates`` of the sentence holding
            the answer). In quick mode, a subset.
        candidates: one row per sentence: ``lang, text, context, paragraph, article``; sorted by
            language so that each language is a contiguous block.
        answers: every (question id, language) of the loaded languages, whether kept as a
            query or not: ``question_id, lang, answer_candidate``; relevance comes from here.
            None means ``questions`` (no query was left out).
    """

    name: str
    languages: list[str]
    questions: pd.DataFrame
    candidates: pd.DataFrame
    answers: pd.DataFrame | None = None
    qrels: dict[tuple[str, str], np.ndarray] | None = None
    """Per-query relevance ((question id, lang) -> sorted candidate rows), for collections whose
    relevance is not LAReQA's (a BEIR folder's qrels); None = LAReQA's, from ``answers``."""
    source: dict | None = None
    """Where a folder dataset came from (path, format, content hash); for a built-in one, None, or
    ``{"unpinned": {file: sha256}}`` where its files are not the pinned ones (``pins``)."""

    def relevant_candidates(self) -> list[np.ndarray]:
        """For each question row, the answer sentence of its id in every language (sorted)."""
        if self.qrels is not None:
            return [self.qrels[key] for key in zip(self.questions["question_id"], self.questions["lang"])]
        answers = self.questions if self.answers is None else self.answers
        by_id = answers.groupby("question_id")["answer_candidate"].apply(
            lambda s: np.sort(s.to_numpy())
        )
        return [by_id[qid] for qid in self.questions["question_id"]]

    def language_slices(self) -> dict[str, slice]:
        """The contiguous block of candidate rows of each language."""
        langs = self.candidates["lang"].to_numpy()
        out = {}
        for lang in self.languages:
            idx = np.flatnonzero(langs == lang)
            out[lang] = slice(int(idx[0]), int(idx[-1]) + 1) if len(idx) else slice(0, 0)
        return out


def resolve_data_dir(explicit: str | Path | None = None, download: bool = True) -> Path:
    """Find the directory holding ``xquad-r/`` and ``mlqa-r/`` (order in ``paths.data_roots``).

    A folder the user names (``explicit`` or the env variable) is used as it is. Otherwise, if
    no default folder holds the files and ``download`` is set, fetch them from the pinned
    public source into ``data/`` (verifying checksums).
    """
    try:
        roots = paths.data_roots(explicit)
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None
    if paths.user_chose_data_dir(explicit):
        return roots[0]
    found = paths.find_data("xquad-r/en.json")
    if found is not None:
        return found
    if download:  # the pinned public source (MLQA-R was later removed upstream), sha256-checked
        fetch_all(REPO_ROOT / "data", datasets=LAREQA_DATASETS)
        return REPO_ROOT / "data"
    raise DataError(
        "No XQuAD-R/MLQA-R files found in " + ", ".join(str(p) for p in roots)
        + f"; set {paths.DATA_DIR_ENV} or pass --data-dir."
    )


def read_checksums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` file into ``{relative path: digest}``."""
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*").removeprefix("./")] = digest
    return sums


def verify_checksum(path: Path, expected: str) -> None:
    actual = pins.file_digest(path)
    if actual != expected:
        raise DataError(f"{path}: checksum mismatch (sha256 {actual}, expected {expected})")


def _read_language_file(path: Path) -> list[tuple[int, dict]]:
    """The (article index, paragraph) of a SQuAD-style file; a DataError names the file and what is wrong."""
    if not path.is_file():
        raise DataError(f"{path}: missing language file")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                        f"{exc.start}); save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON ({exc})") from None
    articles = _field(path, payload, "data", list, "the file")
    paragraphs = []
    for a_index, article in enumerate(articles):
        paragraphs.extend((a_index, p) for p in _field(path, article, "paragraphs", list, f"article {a_index}"))
    return paragraphs


_KIND_NAMES = {str: "a string", list: "a list", int: "an integer", dict: "an object"}


def _field(path: Path, obj: Any, key: str, kind: type, where: str) -> Any:
    """``obj[key]`` if ``obj`` is an object holding a ``kind`` there, else a DataError naming it."""
    if not isinstance(obj, dict):
        raise DataError(f"{path}: {where} must be an object, got {_shown(obj)}")
    if key not in obj:
        raise DataError(f"{path}: {where} lacks {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"{path}: {where}: {key!r} must be {_KIND_NAMES[kind]}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r:.40}"


def _sentence_breaks(path: Path, paragraph: dict, where: str) -> list[tuple[int, int]]:
    """``sentence_breaks`` as ``[start, end]`` integer pairs within the context."""
    context = _field(path, paragraph, "context", str, where)
    breaks = _field(path, paragraph, "sentence_breaks", list, where)
    for pair in breaks:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
                or not 0 <= pair[0] < pair[1] <= len(context)):
            raise DataError(f"{path}: {where}: 'sentence_breaks' must hold [start, end] integer pairs "
                            f"within the context, got {pair!r:.40}")
    return [(begin, end) for begin, end in breaks]


def _question(path: Path, qa: Any, where: str) -> tuple[str, str, int]:
    """``(id, question text, answer_start)`` of one entry of ``qas``."""
    qid = _field(path, qa, "id", str, where)
    where = f"{where} (id {qid})"
    text = _field(path, qa, "question", str, where)
    answers = _field(path, qa, "answers", list, where)
    if not answers:
        raise DataError(f"{path}: {where}: 'answers' is empty")
    start = _field(path, answers[0], "answer_start", int, f"{where}, answer 0")
    return qid, text, start


def _sentence_of(breaks: list[tuple[int, int]], start: int) -> int | None:
    for i, (begin, end) in enumerate(breaks):
        if begin <= start < end:
            return i
    return None


def _parse_language(path: Path, lang: str) -> tuple[list[dict], list[dict]]:
    """Rows of candidates and questions (answer as a local candidate offset)."""
    candidates, questions = [], []
    for p_index, (a_index, paragraph) in enumerate(_read_language_file(path)):
        where = f"paragraph {p_index}"
        breaks = _sentence_breaks(path, paragraph, where)
        context, qas = paragraph["context"], _field(path, paragraph, "qas", list, where)
        first = len(candidates)
        for begin, end in breaks:
            candidates.append({"lang": lang, "text": context[begin:end], "context": context,
                               "paragraph": p_index, "article": a_index})
        for q_index, qa in enumerate(qas):
            qid, text, start = _question(path, qa, f"{where}, question {q_index}")
            sentence = _sentence_of(breaks, start)
            if sentence is None:
                raise DataError(f"{path}: question {qid}: answer_start {start} falls in no sentence")
            questions.append({"question_id": qid, "lang": lang, "text": text,
                              "local_candidate": first + sentence})
    if not questions:
        raise DataError(f"{path}: no questions (its 'data' holds no paragraph with a question)")
    return candidates, questions


def load_lareqa(
    name: str,
    data_dir: str | Path | None = None,
    languages: list[str] | tuple[str, ...] | None = None,
    limit_per_lang: int | None = None,
) -> LareqaData:
    """Load XQuAD-R or MLQA-R as flat question and candidate tables.

    Args:
        name: ``xquad-r`` or ``mlqa-r``.
        data_dir: see ``resolve_data_dir``.
        languages: a subset of the dataset's languages (default all).
        limit_per_lang: quick mode: keep the ids among the first N (sorted) of at least one
            language, in every language where they exist (``whole_ids``); relevance and
            candidates stay whole.

    Raises:
        DataError: unknown dataset or language, missing or malformed file, bad checksum,
            an answer outside every sentence.
    """
    if name not in LAREQA_LANGUAGES:
        raise DataError(f"unknown dataset {name!r}; choose from {sorted(LAREQA_LANGUAGES)}")
    all_langs = LAREQA_LANGUAGES[name]
    langs = sorted(languages) if languages else list(all_langs)
    if len(set(langs)) != len(langs):
        raise DataError(f"{name}: duplicate language(s) {sorted({x for x in langs if langs.count(x) > 1})}")
    unknown = sorted(set(langs) - set(all_langs))
    if unknown:
        raise DataError(f"{name}: unknown language(s) {unknown}; it has {list(all_langs)}")
    root = resolve_data_dir(data_dir)
    sums_file = root / "SHA256SUMS"
    sums = read_checksums(sums_file) if sums_file.is_file() else {}
    files = {lang: root / name / f"{lang}.json" for lang in langs}
    for lang, path in files.items():
        if f"{name}/{lang}.json" in sums and path.is_file():
            verify_checksum(path, sums[f"{name}/{lang}.json"])
    data = load_language_files(name, files, limit_per_lang)
    changed = pins.unpinned(root, [f"{name}/{lang}.json" for lang in langs])
    data.source = {"unpinned": changed} if changed else None
    return data


def unpinned_sources(datasets: Sequence[str], languages: Sequence[str] | None = None,
                     data_dir: str | Path | None = None) -> dict[str, dict]:
    """What ``load_lareqa`` will put in ``source`` for each built-in dataset whose files (of
    ``languages``, default all) are not the pinned ones: ``{name: {"unpinned": {file: sha256}}}``.
    A sweep compares it with complete runs before any work."""
    out, built_in = {}, [name for name in datasets if name in LAREQA_LANGUAGES]  # a folder's name holds its hash
    root = resolve_data_dir(data_dir, download=False) if built_in else None
    for name in built_in:
        langs = [x for x in LAREQA_LANGUAGES[name] if not languages or x in languages]
        changed = pins.unpinned(root, [f"{name}/{x}.json" for x in langs])
        if changed:
            out[name] = {"unpinned": changed}
    return out


def load_language_files(name: str, files: dict[str, Path], limit_per_lang: int | None = None) -> LareqaData:
    """A ``LareqaData`` from one LAReQA-style (SQuAD v1.1 + ``sentence_breaks``) file per language.

    ``files`` maps each language to its file; candidates follow the languages' sorted order.
    """
    cand_rows: list[dict] = []
    q_rows: list[dict] = []
    for lang in sorted(files):
        candidates, questions = _parse_language(files[lang], lang)
        for q in questions:
            q["answer_candidate"] = q.pop("local_candidate") + len(cand_rows)
        cand_rows.extend(candidates)
        q_rows.extend(questions)
    questions = pd.DataFrame(q_rows, columns=["question_id", "lang", "text", "answer_candidate"])
    if questions.duplicated(["question_id", "lang"]).any():
        dup = questions[questions.duplicated(["question_id", "lang"])].iloc[0]
        raise DataError(f"{files[dup.lang]}: duplicate question id {dup.question_id}")
    answers = questions[["question_id", "lang", "answer_candidate"]].reset_index(drop=True)
    if limit_per_lang is not None:
        questions = whole_ids(questions, limit_per_lang)
    questions = questions.sort_values(["lang", "question_id"]).reset_index(drop=True)
    candidates = pd.DataFrame(cand_rows, columns=["lang", "text", "context", "paragraph", "article"])
    return LareqaData(name, sorted(files), questions, candidates, answers)


def whole_ids(questions: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Rows of the ids among the first ``limit`` ids (sorted) of at least one language.

    An id is never split: its rows in every language are kept together. A language keeps its
    own first ``limit`` ids plus those picked by other languages that it also holds.
    """
    first = questions.sort_values("question_id").groupby("lang").head(limit)["question_id"]
    return questions[questions["question_id"].isin(set(first))]

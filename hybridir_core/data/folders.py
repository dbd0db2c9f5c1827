"""Datasets from a folder: LAReQA-style ``<lang>.json`` files or a BEIR folder with a ``lang`` field.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``text``, optional ``title``, and ``lang``),
``queries.jsonl`` (``_id``, ``text``, ``lang``, optional ``group``) and ``qrels/test.tsv``
(``query-id  corpus-id  score``, a header line allowed; score > 0 is relevant). ``group`` names
the question a translated query belongs to: it is the query's question id, so the queries of
one group are one bootstrap cluster (default: each query its own). Candidates keep the corpus
file's order within each language; languages are sorted.

A folder dataset is named ``<folder name>-<content hash>`` (``dataset_name``), so two different
folders never pool in a report. Every bad record gives a ``DataError`` naming the file, the
line and the field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hybridir_core.data.lareqa import DataError, LareqaData, load_language_files, whole_ids

BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")


def folder_format(folder: Path) -> str:
    """``beir`` (a ``corpus.jsonl`` is there) or ``lareqa`` (``<lang>.json`` files), else a DataError."""
    if (folder / "corpus.jsonl").is_file():
        return "beir"
    if any(folder.glob("*.json")):
        return "lareqa"
    raise DataError(f"{folder}: neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) "
                    "nor LAReQA-style <lang>.json files")


def data_files(folder: Path) -> list[Path]:
    """The files a folder dataset is read from, in a fixed order."""
    if folder_format(folder) == "beir":
        return [folder / name for name in BEIR_FILES]
    return sorted(folder.glob("*.json"))


def content_hash(folder: Path) -> str:
    """sha256 (8 hex) over the data files' relative names and bytes."""
    digest = hashlib.sha256()
    for path in data_files(folder):
        if not path.is_file():
            raise DataError(f"{path}: missing (a BEIR folder needs {', '.join(BEIR_FILES)})")
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def dataset_name(folder: str | Path) -> str:
    """``<folder name>-<content hash>``: the dataset's name in run files."""
    folder = Path(folder).resolve()
    return f"{folder.name}-{content_hash(folder)}"


def load_folder(folder: str | Path, languages=None, limit_per_lang: int | None = None) -> LareqaData:
    """A folder dataset (LAReQA-style or BEIR), restricted to ``languages`` (None: all of its own)."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such dataset folder")
    kind, name = folder_format(folder), dataset_name(folder)
    if kind == "lareqa":
        files = {p.stem: p for p in sorted(folder.glob("*.json"))}
        data = load_language_files(name, _chosen(folder, files, languages), limit_per_lang)
    else:
        data = load_beir(folder, name, languages, limit_per_lang)
    data.source = {"path": str(folder), "format": kind, "content_hash": name.rsplit("-", 1)[1]}
    return data


def _chosen(folder: Path, held: dict[str, Any], languages) -> dict[str, Any]:
    """``held`` restricted to ``languages``; a DataError names the languages the folder lacks."""
    if not languages:
        return held
    missing = sorted(set(languages) - set(held))
    if missing:
        raise DataError(f"{folder}: no {', '.join(missing)} (it has {', '.join(sorted(held))})")
    return {lang: held[lang] for lang in sorted(languages)}


def _records(path: Path, required: tuple[str, ...]) -> list[dict]:
    """The JSON objects of a JSON-lines file, each holding string ``required`` fields."""
    if not path.is_file():
        raise DataError(f"{path}: missing")
    out = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {line_no}: malformed JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {line_no}: expected a JSON object")
            for field in required:
                if not isinstance(record.get(field), str) or not record[field]:
                    raise DataError(f"{path}: line {line_no} (_id {record.get('_id')!r}): "
                                    f"field {field!r} must be a non-empty string, got {record.get(field)!r:.40}")
            record["_line"] = line_no
            out.append(record)
    if not out:
        raise DataError(f"{path}: no records")
    return out


def _qrels(path: Path, query_ids: set[str], doc_ids: set[str]) -> dict[str, list[str]]:
    """Relevant corpus ids per query id (score > 0) from a BEIR ``qrels/test.tsv``."""
    if not path.is_file():
        raise DataError(f"{path}: missing")
    relevant: dict[str, list[str]] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        cols = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or (line_no == 1 and cols[0] == "query-id"):
            continue
        if len(cols) != 3:
            raise DataError(f"{path}: line {line_no}: expected query-id, corpus-id, score, got {line!r:.60}")
        qid, did, score = cols
        try:
            value = float(score)
        except ValueError:
            raise DataError(f"{path}: line {line_no}: score {score!r} is not a number") from None
        for what, key, known in (("query-id", qid, query_ids), ("corpus-id", did, doc_ids)):
            if key not in known:
                raise DataError(f"{path}: line {line_no}: {what} {key!r} is not in the "
                                f"{'queries' if what == 'query-id' else 'corpus'} file")
        if value > 0:
            relevant.setdefault(qid, []).append(did)
    return relevant


def load_beir(folder: Path, name: str, languages=None, limit_per_lang: int | None = None) -> LareqaData:
    """A BEIR folder whose corpus and query records carry ``lang`` as a ``LareqaData``."""
    corpus = _records(folder / "corpus.jsonl", ("_id", "text", "lang"))
    queries = _records(folder / "queries.jsonl", ("_id", "text", "lang"))
    _unique_ids(folder / "corpus.jsonl", corpus)
    _unique_ids(folder / "queries.jsonl", queries)
    langs = sorted(_chosen(folder, {r["lang"]: True for r in corpus}, languages))
    cand = pd.DataFrame([{"_id": r["_id"], "lang": r["lang"], "text": r["text"],
                          "context": r.get("context") or r.get("title") or "", "paragraph": i, "article": 0}
                         for i, r in enumerate(corpus) if r["lang"] in langs])
    cand = cand.sort_values("lang", kind="stable").reset_index(drop=True)
    row_of = dict(zip(cand["_id"], cand.index))
    relevant = _qrels(folder / "qrels" / "test.tsv", {r["_id"] for r in queries}, {r["_id"] for r in corpus})
    rows, qrels = [], {}
    for r in queries:
        rel = np.sort([row_of[d] for d in relevant.get(r["_id"], []) if d in row_of]).astype(np.int64)
        if r["lang"] not in langs or not len(rel):
            continue  # a query without a relevant candidate in the loaded languages is not scored
        key = (str(r.get("group") or r["_id"]), r["lang"])
        if key in qrels:
            raise DataError(f"{folder / 'queries.jsonl'}: line {r['_line']}: a second {r['lang']} query "
                            f"in group {key[0]!r} (a group holds one query per language)")
        qrels[key] = rel
        rows.append({"question_id": key[0], "lang": r["lang"], "text": r["text"], "answer_candidate": int(rel[0])})
    if not rows:
        raise DataError(f"{folder}: no query has a relevant candidate in {', '.join(langs)}")
    questions = pd.DataFrame(rows)
    if limit_per_lang is not None:
        questions = whole_ids(questions, limit_per_lang)
    questions = questions.sort_values(["lang", "question_id"]).reset_index(drop=True)
    return LareqaData(name, langs, questions, cand.drop(columns="_id"), None, qrels)


def _unique_ids(path: Path, records: list[dict]) -> None:
    seen: set[str] = set()
    for r in records:
        if r["_id"] in seen:
            raise DataError(f"{path}: line {r['_line']}: duplicate _id {r['_id']!r}")
        seen.add(r["_id"])


def write_beir(data: LareqaData, folder: str | Path) -> Path:
    """Write ``data`` (whole, all its languages) as a BEIR folder with ``lang`` and ``group`` fields.

    Corpus ids are ``<lang>:<index within the language>`` and query ids ``<question id>@<lang>``
    (the TREC ids of ``trec``); ``context`` keeps the paragraph for ``--with-context``; the qrels
    are every relevant candidate of every query. Loading the folder gives the same questions,
    candidates and relevance, hence the same ranks.
    """
    from hybridir_core.data.trec import doc_ids, query_ids

    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    docs = doc_ids(data.candidates["lang"])
    qids = query_ids(data.questions["question_id"], data.questions["lang"])
    cand, ques = data.candidates, data.questions
    corpus = ({"_id": d, "title": "", "text": t, "context": c, "lang": lang}
              for d, t, c, lang in zip(docs, cand["text"], cand["context"], cand["lang"]))
    queries = ({"_id": q, "text": t, "lang": lang, "group": g}
               for q, t, lang, g in zip(qids, ques["text"], ques["lang"], ques["question_id"]))
    for name, records in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        with (folder / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    qrels = [f"{q}\t{docs[c]}\t1" for q, rel in zip(qids, data.relevant_candidates()) for c in rel]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n",
                                               encoding="utf-8")
    return folder

"""Parallel training corpora: XNLI, Tatoeba and Hugging Face datasets.

A ``ParallelCorpus`` is a table of *pairs* (one query and its positive passage) with a
text per language, and holes where a language is missing. Pairs are grouped into
*items*: the unit that may appear at most once in a training batch. Two pairs of one item
share meaning (the same premise, the same English sentence), so meeting in one batch would
make one the other's false in-batch negative.

- XNLI: pair = one (hypothesis, premise) row; query = hypothesis, passage = premise; item =
  the premise group (each premise has 3 hypotheses). Row i is the same pair in every
  language, so every pair exists in every language.
- Tatoeba: pair = one English-X sentence pair; the same sentence is query and passage, so
  only cross-lingual (en -> X, X -> en) pairs are useful: monolingual ones would be trivial
  (``ParallelCorpus.eligibility`` excludes them). Item = the English sentence.
- Hugging Face / local datasets (mMARCO-style): a query and a passage column per language,
  or one load per language with aligned rows; see ``load_hf_parallel``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridir_core import paths
from hybridir_core.config import PAPER_TRAIN_LANGUAGES
from hybridir_core.data import DataError, pins
from hybridir_core.data.lareqa import LAREQA_LANGUAGES, resolve_data_dir

logger = logging.getLogger(__name__)

XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
XNLI_SPLITS = {"dev": (3,), "test": (2, 3)}  # columns per row: premise, hypothesis[, label]
# (test: 2 in the XTREME dump, whose test labels were removed; 3 from XNLI 1.0, see fetch.py)
# ISO 639-1 -> the ISO 639-3 code of LASER's Tatoeba file names.
TATOEBA_CODES = {"ar": "ara", "zh": "cmn", "de": "deu", "el": "ell", "hi": "hin", "ru": "rus",
                 "es": "spa", "th": "tha", "tr": "tur", "vi": "vie"}


@dataclass
class ParallelCorpus:
    """Pairs x languages, with holes.

    Attributes:
        name: e.g. ``xnli``, ``xnli+tatoeba``.
        languages: column order of ``queries`` and ``passages``.
        item: ``(n_pairs,)`` int item id; pairs of one item never share a batch.
        queries: ``(n_pairs, n_languages)`` object array of str, ``None`` where missing.
        passages: same shape as ``queries``.
        source: ``(n_pairs,)`` name of the source of each pair.
        negatives: ``(n_pairs, n_languages)`` hard negative passage of each pair per language
            (QA triplets), or None: in-batch negatives only.
        group: ``(n_pairs,)`` unit of the validation split (XQuAD: the article), or None: the item.
    """

    name: str
    languages: tuple[str, ...]
    item: np.ndarray
    queries: np.ndarray
    passages: np.ndarray
    source: np.ndarray
    negatives: np.ndarray | None = None
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, n_lang = len(self.item), len(self.languages)
        if self.queries.shape != (n, n_lang) or self.passages.shape != (n, n_lang):
            raise ValueError(f"queries/passages must have shape {(n, n_lang)}")
        if self.negatives is not None and self.negatives.shape != (n, n_lang):
            raise ValueError(f"negatives must have shape {(n, n_lang)}")
        if self.group is not None and self.group.shape != (n,):
            raise ValueError(f"group must have shape {(n,)}")
        if len(set(self.languages)) != n_lang:
            raise ValueError(f"duplicate languages in {self.languages}")

    def __len__(self) -> int:
        return len(self.item)

    @property
    def n_items(self) -> int:
        return len(np.unique(self.item))

    def text(self, pair: int, query_lang: int, passage_lang: int) -> tuple[str, str]:
        """The (query, passage) of ``pair`` with languages given as column indices."""
        return self.queries[pair, query_lang] or "", self.passages[pair, passage_lang] or ""

    def negative(self, pair: int, passage_lang: int) -> str:
        """The hard negative of ``pair`` in the passage language ("" without negatives)."""
        return "" if self.negatives is None else self.negatives[pair, passage_lang] or ""

    def eligibility(self) -> np.ndarray:
        """``(n_pairs, L, L)`` bool: can ``pair`` serve as (query lang X, passage lang Y)?

        Both texts must exist (and the hard negative in Y, where the corpus has them); a
        monolingual (X, X) pair also needs query != passage, which rules out bitext (Tatoeba)
        pairs whose query and passage are one sentence.
        """
        present = np.vectorize(bool, otypes=[bool])
        has_q = present(self.queries) if len(self) else np.zeros((0, len(self.languages)), bool)
        has_p = present(self.passages) if len(self) else has_q
        if self.negatives is not None and len(self):
            has_p = has_p & present(self.negatives)
        out = has_q[:, :, None] & has_p[:, None, :]
        for lang in range(len(self.languages)):
            same = self.queries[:, lang] == self.passages[:, lang]
            out[:, lang, lang] &= ~same.astype(bool)
        return out

    def subset(self, pairs: np.ndarray) -> "ParallelCorpus":
        """The pairs at the given indices (or boolean mask), in that order."""
        return ParallelCorpus(self.name, self.languages, self.item[pairs], self.queries[pairs],
                              self.passages[pairs], self.source[pairs],
                              None if self.negatives is None else self.negatives[pairs],
                              None if self.group is None else self.group[pairs])

    def select_languages(self, languages: Sequence[str]) -> "ParallelCorpus":
        """Keep these languages (in this order); pairs left with no text at all are dropped."""
        missing = [lang for lang in languages if lang not in self.languages]
        if missing:
            raise DataError(f"{self.name}: no data for languages {missing} (has {list(self.languages)})")
        cols = [self.languages.index(lang) for lang in languages]
        corpus = ParallelCorpus(self.name, tuple(languages), self.item, self.queries[:, cols],
                                self.passages[:, cols], self.source,
                                None if self.negatives is None else self.negatives[:, cols], self.group)
        keep = corpus.eligibility().any(axis=(1, 2))
        return corpus if keep.all() else corpus.subset(keep)

    def limit_items(self, n_items: int | None) -> "ParallelCorpus":
        """The pairs of the first ``n_items`` items (in order of first appearance)."""
        if n_items is None:
            return self
        _, first = np.unique(self.item, return_index=True)
        kept = self.item[np.sort(first)[:n_items]]
        return self.subset(np.isin(self.item, kept))

    def split(self, validation_items: int, seed: int = 0) -> tuple["ParallelCorpus", "ParallelCorpus"]:
        """Hold out ``validation_items`` whole items (all their pairs, every language).

        Items are drawn with a fixed seed among those usable in every language of the
        corpus (for XNLI: all), so the validation slice measures every language pair. A
        corpus with groups (XQuAD: articles) holds out whole groups instead, in a seeded
        order, until at least ``validation_items`` items are held out.
        """
        items = np.unique(self.item)
        if validation_items <= 0:
            return self, self.subset(np.zeros(len(self), bool))
        if validation_items >= len(items):
            raise ValueError(f"{self.name}: validation_items={validation_items} leaves no training items "
                             f"(the corpus has {len(items)})")
        if self.group is not None:
            return self._split_groups(validation_items, seed)
        elig = self.eligibility()
        full = np.zeros(len(items), bool)
        pos = np.searchsorted(items, self.item)
        np.logical_or.at(full, pos, elig.reshape(len(self), -1).sum(axis=1) >= elig.shape[1] * (elig.shape[1] - 1))
        pool = items[full] if full.sum() >= validation_items else items
        chosen = np.random.default_rng(seed).choice(pool, size=validation_items, replace=False)
        held = np.isin(self.item, chosen)
        return self.subset(~held), self.subset(held)

    def _split_groups(self, validation_items: int, seed: int) -> tuple["ParallelCorpus", "ParallelCorpus"]:
        held_groups: list = []
        for group in np.random.default_rng(seed).permutation(np.unique(self.group)):
            held_groups.append(group)
            if len(np.unique(self.item[np.isin(self.group, held_groups)])) >= validation_items:
                break
        held = np.isin(self.group, held_groups)
        if held.all():
            raise ValueError(f"{self.name}: validation_items={validation_items} leaves no training groups")
        return self.subset(~held), self.subset(held)

    @staticmethod
    def concat(corpora: Sequence["ParallelCorpus"], languages: Sequence[str]) -> "ParallelCorpus":
        """Stack corpora over ``languages`` (holes where a corpus lacks one); item ids stay distinct."""
        parts, offset = [], 0
        langs = tuple(languages)
        for corpus in corpora:
            q = np.full((len(corpus), len(langs)), None, dtype=object)
            p = np.full((len(corpus), len(langs)), None, dtype=object)
            for j, lang in enumerate(langs):
                if lang in corpus.languages:
                    q[:, j] = corpus.queries[:, corpus.languages.index(lang)]
                    p[:, j] = corpus.passages[:, corpus.languages.index(lang)]
            _, item = np.unique(corpus.item, return_inverse=True)
            parts.append((item.ravel() + offset, q, p, corpus.source))
            offset += int(item.max()) + 1 if len(item) else 0
        name = "+".join(c.name for c in corpora)
        if not parts:
            raise ValueError("nothing to concatenate")
        if any(c.negatives is not None for c in corpora):
            raise ValueError(f"{name}: a corpus with hard negatives (QA triplets) cannot be joined "
                             "with others; train on it alone")
        return ParallelCorpus(name, langs, np.concatenate([x[0] for x in parts]).astype(np.int64),
                              np.concatenate([x[1] for x in parts]), np.concatenate([x[2] for x in parts]),
                              np.concatenate([x[3] for x in parts]))


def find_corpus_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder ``<root>/<name>``, roots as in ``paths.data_roots`` (never downloads)."""
    try:
        root = paths.find_data(name, data_dir)
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None
    if root is None:
        raise DataError(f"no {name}/ folder in " + ", ".join(str(r) for r in paths.data_roots(data_dir))
                        + f"; pass --data-dir or set {paths.DATA_DIR_ENV}")
    return root / name


def _read_tsv(path: Path, n_columns: tuple[int, ...]) -> list[list[str]]:
    """XNLI TSV: no header, CRLF, no quoting. Split on newlines only: some fields hold other
    Unicode line separators that ``str.splitlines`` would break on."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc})") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines]
    for i, row in enumerate(rows):
        if len(row) not in n_columns or len(row) != len(rows[0]):
            raise DataError(f"{path}: line {i + 1} has {len(row)} columns, expected "
                            f"{' or '.join(map(str, n_columns))}, the same on every line")
    return rows


def load_xnli(
    data_dir: str | Path | None = None,
    languages: Sequence[str] = PAPER_TRAIN_LANGUAGES,
    splits: Sequence[str] = ("dev", "test"),
    limit_items: int | None = None,
    entailment_only: bool = False,
) -> ParallelCorpus:
    """XNLI as parallel (hypothesis -> premise) pairs; item = premise group.

    Args:
        data_dir: folder holding ``xnli/`` (default: see ``find_corpus_dir``).
        languages: XNLI languages to load.
        splits: ``dev`` (2490 rows) and/or ``test`` (5010 rows).
        limit_items: keep the first N premise groups (quick runs, tests).
        entailment_only: keep only rows labelled ``entailment`` (as retrieval pairs: a
            contradiction is never a positive); a split without labels (the XTREME dump's
            test) is then left out with a warning. English's labels hold for every language.

    Raises:
        DataError: a missing file, a malformed row, or languages whose row counts differ.
    """
    unknown = [lang for lang in languages if lang not in XNLI_LANGUAGES]
    if unknown:
        raise DataError(f"XNLI has no languages {unknown}; it has {list(XNLI_LANGUAGES)}")
    root = find_corpus_dir("xnli", data_dir)
    queries, passages, items = [], [], []
    for split in splits:
        if split not in XNLI_SPLITS:
            raise DataError(f"unknown XNLI split {split!r}; use dev and/or test")
        # English fixes the premise groups (translations of one premise are identical too).
        pivot = _read_tsv(root / f"{split}-en.tsv", XNLI_SPLITS[split])
        by_lang = {lang: pivot if lang == "en" else _read_tsv(root / f"{split}-{lang}.tsv", XNLI_SPLITS[split])
                   for lang in languages}
        for lang, rows in by_lang.items():
            if len(rows) != len(pivot):
                raise DataError(f"{root / f'{split}-{lang}.tsv'}: {len(rows)} rows, English has {len(pivot)}")
        if entailment_only:
            keep = [i for i, row in enumerate(pivot) if len(row) > 2 and row[2] == "entailment"]
            if not keep:
                logger.warning("XNLI %s has no entailment labels here; left out of entailment-only training",
                               split)
                continue
            pivot = [pivot[i] for i in keep]
            by_lang = {lang: [rows[i] for i in keep] for lang, rows in by_lang.items()}
        group_of: dict[str, int] = {}
        base = (max(items) + 1) if items else 0
        for row in pivot:
            items.append(base + group_of.setdefault(row[0], len(group_of)))
        queries.append(np.array([[by_lang[lang][i][1] for lang in languages] for i in range(len(pivot))],
                                dtype=object).reshape(len(pivot), len(languages)))
        passages.append(np.array([[by_lang[lang][i][0] for lang in languages] for i in range(len(pivot))],
                                 dtype=object).reshape(len(pivot), len(languages)))
    corpus = ParallelCorpus("xnli", tuple(languages), np.asarray(items, dtype=np.int64),
                            np.concatenate(queries), np.concatenate(passages),
                            np.full(len(items), "xnli", dtype=object))
    return corpus.limit_items(limit_items)


def load_tatoeba(
    data_dir: str | Path | None = None,
    languages: Sequence[str] = PAPER_TRAIN_LANGUAGES,
    limit_items: int | None = None,
) -> ParallelCorpus:
    """Tatoeba English-X sentence pairs (LASER test files) as cross-lingual-only pairs.

    Each pair has text in ``en`` and X only; query and passage are the same sentence, so
    the sampler uses it only as (en, X) or (X, en). Pairs sharing an English sentence form
    one item. Languages without a Tatoeba file are skipped (with a log line).
    """
    if "en" not in languages:
        raise DataError("Tatoeba pairs are English-X: include 'en' in the languages")
    root = find_corpus_dir("tatoeba", data_dir)
    langs = tuple(languages)
    en = langs.index("en")
    rows, english = [], []
    for lang in langs:
        if lang == "en":
            continue
        code = TATOEBA_CODES.get(lang)
        if code is None or not (root / f"tatoeba.{code}-eng.{code}").is_file():
            logger.info("no Tatoeba file for %s", lang)
            continue
        try:
            xs = (root / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8").split("\n")
            es = (root / f"tatoeba.{code}-eng.eng").read_text(encoding="utf-8").split("\n")
        except FileNotFoundError as exc:
            raise DataError(f"{exc.filename}: missing") from None
        xs, es = [x.strip() for x in xs if x.strip()], [e.strip() for e in es if e.strip()]
        if len(xs) != len(es):
            raise DataError(f"{root}: tatoeba {code}-eng has {len(xs)} {code} and {len(es)} eng lines")
        for x, e in zip(xs, es):
            row = [None] * len(langs)
            row[langs.index(lang)], row[en] = x, e
            rows.append(row)
            english.append(e)
    if not rows:
        raise DataError(f"{root}: no Tatoeba pairs for {list(langs)}")
    text = np.array(rows, dtype=object).reshape(len(rows), len(langs))
    _, item = np.unique(np.array(english, dtype=object), return_inverse=True)
    corpus = ParallelCorpus("tatoeba", langs, item.ravel().astype(np.int64), text, text.copy(),
                            np.full(len(rows), "tatoeba", dtype=object))
    return corpus.limit_items(limit_items)


def load_hf_parallel(
    path: str,
    languages: Sequence[str],
    query_column: str = "query_{lang}",
    passage_column: str = "passage_{lang}",
    config: str | None = None,
    data_files: str | None = None,
    split: str = "train",
    item_column: str | None = None,
    limit_items: int | None = None,
    name: str | None = None,
    cache_dir: str | None = None,
) -> ParallelCorpus:
    """A Hugging Face dataset (hub name, local folder or a builder such as ``json``) as pairs.

    Two layouts, told apart by where ``{lang}`` appears:

    - columns per language: ``query_column="query_{lang}"``, ``passage_column="passage_{lang}"``
      in one table; row i is one pair, empty cells are holes;
    - one load per language (mMARCO: a config per language with aligned rows):
      ``config="{lang}"`` or ``data_files="train-{lang}.jsonl"`` with plain column names
      (e.g. ``query``, ``positive``); row i of each language is the same pair.

    Args:
        item_column: rows sharing this column's value form one item (default: each row).
        limit_items: keep the first N rows (pairs) before grouping.
        name: corpus name in ``train_stats.json`` (default: ``path``'s last component).

    Raises:
        DataError: missing columns, unaligned languages or an unreadable dataset.
    """
    langs = tuple(languages)
    per_column = "{lang}" in query_column
    if per_column != ("{lang}" in passage_column):
        raise DataError("query_column and passage_column must both or neither contain {lang}")
    if not per_column and not any("{lang}" in (s or "") for s in (config, data_files)):
        raise DataError("give {lang} in the column names, or in config / data_files (one load per language)")
    source = _HfSource(path, config, data_files, split, limit_items, cache_dir)
    if per_column:
        ds = source.load(None)
        q_cols = [source.column(ds, query_column.format(lang=lang)) for lang in langs]
        p_cols = [source.column(ds, passage_column.format(lang=lang)) for lang in langs]
        item_values = source.column(ds, item_column) if item_column else None
    else:
        q_cols, p_cols, item_values = source.aligned_columns(langs, query_column, passage_column, item_column)
    label = name or Path(str(path).rstrip("/")).name or "hf"
    return _corpus_from_columns(label, langs, q_cols, p_cols, item_values)


@dataclass(frozen=True)
class _HfSource:
    """How ``load_hf_parallel`` loads one dataset, once or once per language."""

    path: str
    config: str | None
    data_files: str | None
    split: str
    limit_items: int | None
    cache_dir: str | None

    def load(self, lang: str | None):
        """The dataset (for ``lang`` where config / data_files hold ``{lang}``), cut to the limit."""
        import datasets

        kwargs = {"split": self.split, "cache_dir": self.cache_dir}
        if self.config:
            kwargs["name"] = self.config.format(lang=lang) if lang else self.config
        if self.data_files:
            kwargs["data_files"] = self.data_files.format(lang=lang) if lang else self.data_files
        try:
            ds = datasets.load_dataset(self.path, **kwargs)
        except Exception as exc:  # datasets raises many types (missing file, hub errors)
            raise DataError(f"cannot load dataset {self.path!r} ({kwargs}): {exc}") from None
        if self.limit_items is not None:
            ds = ds.select(range(min(self.limit_items, len(ds))))
        return ds

    def column(self, ds, col: str) -> list:
        if col not in ds.column_names:
            raise DataError(f"dataset {self.path!r}: no column {col!r} (has {ds.column_names})")
        return ds[col]

    def aligned_columns(self, langs: tuple[str, ...], query_column: str, passage_column: str,
                        item_column: str | None) -> tuple[list, list, list | None]:
        """Query and passage columns of one load per language; row i must be the same pair."""
        q_cols, p_cols, item_values, n_rows = [], [], None, None
        for lang in langs:
            ds = self.load(lang)
            if n_rows is not None and len(ds) != n_rows:
                raise DataError(f"dataset {self.path!r}: {lang} has {len(ds)} rows, {langs[0]} has {n_rows}; "
                                "one-load-per-language needs aligned rows")
            n_rows = len(ds)
            q_cols.append(self.column(ds, query_column))
            p_cols.append(self.column(ds, passage_column))
            if item_column and item_values is None:
                item_values = self.column(ds, item_column)
        return q_cols, p_cols, item_values


def _corpus_from_columns(label: str, langs: tuple[str, ...], q_cols: list, p_cols: list,
                         item_values: list | None) -> ParallelCorpus:
    """A corpus from per-language text columns; blank cells are holes, empty rows are dropped."""
    n = len(q_cols[0])
    queries = np.empty((n, len(langs)), dtype=object)
    passages = np.empty((n, len(langs)), dtype=object)
    for j in range(len(langs)):
        queries[:, j] = [q.strip() if isinstance(q, str) and q.strip() else None for q in q_cols[j]]
        passages[:, j] = [p.strip() if isinstance(p, str) and p.strip() else None for p in p_cols[j]]
    if item_values is None:
        item = np.arange(n, dtype=np.int64)
    else:
        _, item = np.unique(np.array([str(v) for v in item_values], dtype=object), return_inverse=True)
    corpus = ParallelCorpus(label, langs, item.ravel().astype(np.int64), queries, passages,
                            np.full(n, label, dtype=object))
    keep = corpus.eligibility().any(axis=(1, 2))
    return corpus if keep.all() else corpus.subset(keep)


def corpus_unpinned(corpus: str, languages: Sequence[str], data_dir: str | Path | None = None) -> dict[str, str]:
    """``pins.unpinned`` over the built-in files a training corpus reads: XQuAD-R's files of the
    training languages and all of MLQA-R (its texts are excluded from training), Tatoeba's
    files of those languages; other sources (XNLI, hub datasets) have no pinned files."""
    langs, out = list(languages), {}
    for source in corpus.split("+"):
        if source == "xquad":
            rels = [f"xquad-r/{lang}.json" for lang in langs]
            rels += [f"mlqa-r/{lang}.json" for lang in LAREQA_LANGUAGES["mlqa-r"]]
            out.update(pins.unpinned(resolve_data_dir(data_dir, download=False), rels))
        elif source == "tatoeba":
            codes = [TATOEBA_CODES[lang] for lang in langs if lang in TATOEBA_CODES]
            rels = [f"tatoeba/tatoeba.{c}-eng.{suffix}" for c in codes for suffix in (c, "eng")]
            out.update(pins.unpinned(find_corpus_dir("tatoeba", data_dir).parent, rels))
    return out

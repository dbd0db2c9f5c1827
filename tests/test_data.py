"""LAReQA loading on the real files, and every bad input giving one clear error."""

import hashlib
import json
import shutil

import pandas as pd
import pytest

from hybridir_core.data import DataError
from hybridir_core.data import lareqa as data
from hybridir_core.data.lareqa import load_lareqa


@pytest.fixture(scope="module")
def xquad():
    return load_lareqa("xquad-r")


@pytest.fixture(scope="module")
def mlqa():
    return load_lareqa("mlqa-r")


def test_xquad_counts_match_lareqa(xquad):
    assert xquad.questions.groupby("lang").size().eq(1190).all()
    assert len(xquad.languages) == 11
    assert len(xquad.candidates) == 13014
    assert {len(r) for r in xquad.relevant_candidates()} == {11}


def test_mlqa_counts_match_lareqa(mlqa):
    expected = {"ar": (517, 2545), "de": (512, 2362), "en": (1148, 6264), "es": (500, 1787),
                "hi": (507, 2426), "vi": (511, 2828), "zh": (504, 2322)}
    q = mlqa.questions.groupby("lang").size().to_dict()
    c = mlqa.candidates.groupby("lang").size().to_dict()
    assert {lang: (q[lang], c[lang]) for lang in expected} == expected
    assert len(mlqa.questions) == 4199 and len(mlqa.candidates) == 20534
    assert {len(r) for r in mlqa.relevant_candidates()} == {2, 3, 4}


def test_relevant_sentence_holds_the_answer(xquad):
    raw = json.loads((data.resolve_data_dir() / "xquad-r" / "de.json").read_text())
    qa = raw["data"][0]["paragraphs"][0]["qas"][0]
    row = xquad.questions[(xquad.questions.question_id == qa["id"]) & (xquad.questions.lang == "de")].iloc[0]
    assert qa["answers"][0]["text"] in xquad.candidates.at[row.answer_candidate, "text"]
    relevant = xquad.relevant_candidates()[row.name]
    assert sorted(xquad.candidates.loc[relevant, "lang"]) == xquad.languages


def test_language_blocks_are_contiguous(mlqa):
    slices = mlqa.language_slices()
    for lang, block in slices.items():
        assert (mlqa.candidates["lang"].iloc[block] == lang).all()
    assert sum(s.stop - s.start for s in slices.values()) == len(mlqa.candidates)


def test_limit_per_lang_keeps_parallel_ids():
    small = load_lareqa("xquad-r", languages=["en", "de"], limit_per_lang=25)
    assert small.questions.groupby("lang").size().to_dict() == {"de": 25, "en": 25}
    ids = small.questions.groupby("lang")["question_id"].apply(set)
    assert ids["en"] == ids["de"]
    assert len(small.candidates) == 1180 + 1276  # the pool stays whole


def _relevant_by_query(loaded):
    """``{(question id, lang): set of relevant candidate texts}`` of each query."""
    texts = loaded.candidates["text"].to_numpy()
    return {(q, lang): set(texts[rel]) for q, lang, rel in
            zip(loaded.questions["question_id"], loaded.questions["lang"], loaded.relevant_candidates())}


def _write_lareqa(root, name, lang, ids):
    """A LAReQA-format file: one paragraph, one sentence per id, each id's answer in its sentence."""
    sentences = [f"{lang} answer {qid}." for qid in ids]
    context = " ".join(sentences)
    breaks, qas, start = [], [], 0
    for qid, sentence in zip(ids, sentences):
        breaks.append([start, start + len(sentence)])
        qas.append({"id": qid, "question": f"{lang} question {qid}?",
                    "answers": [{"text": "answer", "answer_start": start + len(lang) + 1}]})
        start += len(sentence) + 1
    paragraph = {"context": context, "sentences": sentences, "sentence_breaks": breaks, "qas": qas}
    path = root / name / f"{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [paragraph]}]}))


@pytest.fixture
def uneven_ids(tmp_path):
    """Ids that differ per language, as in MLQA-R: no language's first id is another's."""
    layout = {"en": ["a", "b", "c", "d", "e"], "de": ["b", "d", "e"], "es": ["c", "d"]}
    for lang, ids in layout.items():
        _write_lareqa(tmp_path, "mlqa-r", lang, ids)
    return tmp_path, layout


def test_quick_mode_keeps_whole_ids(uneven_ids):
    root, layout = uneven_ids
    small = load_lareqa("mlqa-r", data_dir=root, languages=list(layout), limit_per_lang=1)
    # first id per language: en a, de b, es c -> ids {a, b, c}, kept wherever they exist
    kept = small.questions.groupby("lang")["question_id"].apply(list).to_dict()
    assert kept == {"de": ["b"], "en": ["a", "b", "c"], "es": ["c"]}
    assert len(small.candidates) == 5 + 3 + 2


def test_quick_mode_loses_no_relevant_candidate(uneven_ids):
    root, layout = uneven_ids
    full = _relevant_by_query(load_lareqa("mlqa-r", data_dir=root, languages=list(layout)))
    for limit in (1, 2, 3):
        small = _relevant_by_query(load_lareqa("mlqa-r", data_dir=root, languages=list(layout),
                                               limit_per_lang=limit))
        assert small == {key: full[key] for key in small}
    assert full[("b", "de")] == {"en answer b.", "de answer b."}


def test_relevance_comes_from_answers_not_from_kept_queries():
    questions = pd.DataFrame({"question_id": ["x"], "lang": ["de"], "text": ["q"], "answer_candidate": [3]})
    answers = pd.DataFrame({"question_id": ["x", "x", "y"], "lang": ["en", "de", "en"],
                            "answer_candidate": [0, 3, 1]})
    candidates = pd.DataFrame({"lang": ["en", "en", "de", "de"], "text": list("abcd"),
                               "context": list("abcd"), "paragraph": [0, 0, 0, 0]})
    loaded = data.LareqaData("mlqa-r", ["de", "en"], questions, candidates, answers)
    assert [r.tolist() for r in loaded.relevant_candidates()] == [[0, 3]]
    alone = data.LareqaData("mlqa-r", ["de", "en"], questions, candidates)
    assert [r.tolist() for r in alone.relevant_candidates()] == [[3]]


def test_mlqa_quick_mode_relevance_matches_full_load(mlqa):
    small = load_lareqa("mlqa-r", limit_per_lang=50)
    full = _relevant_by_query(mlqa)
    kept = _relevant_by_query(small)
    assert kept == {key: full[key] for key in kept}  # was 166 of 350 queries before whole ids
    sizes = small.questions.groupby("lang").size()
    assert sizes.min() >= 50 and sizes["en"] == small.questions["question_id"].nunique()
    per_id = small.questions.groupby("question_id").size()
    assert per_id.to_dict() == mlqa.questions.groupby("question_id").size()[per_id.index].to_dict()


def _copy_lang(tmp_path, name="xquad-r", langs=("en", "de")):
    root = tmp_path / "ds"
    (root / name).mkdir(parents=True)
    for lang in langs:
        shutil.copy(data.resolve_data_dir() / name / f"{lang}.json", root / name / f"{lang}.json")
    return root


def test_missing_language_file(tmp_path):
    root = _copy_lang(tmp_path, langs=("en",))
    with pytest.raises(DataError, match=r"de\.json: missing language file"):
        load_lareqa("xquad-r", data_dir=root, languages=["en", "de"])


def test_malformed_json(tmp_path):
    root = _copy_lang(tmp_path)
    (root / "xquad-r" / "de.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"de\.json: malformed JSON"):
        load_lareqa("xquad-r", data_dir=root, languages=["en", "de"])


def test_answer_in_no_sentence(tmp_path):
    root = _copy_lang(tmp_path)
    path = root / "xquad-r" / "en.json"
    raw = json.loads(path.read_text())
    paragraph = raw["data"][0]["paragraphs"][0]
    paragraph["qas"][0]["answers"][0]["answer_start"] = len(paragraph["context"]) + 5
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"en\.json: question .* falls in no sentence"):
        load_lareqa("xquad-r", data_dir=root, languages=["en"])


def test_checksum_mismatch(tmp_path):
    root = _copy_lang(tmp_path)
    good = hashlib.sha256((root / "xquad-r" / "en.json").read_bytes()).hexdigest()
    (root / "SHA256SUMS").write_text(f"{good}  ./xquad-r/en.json\n{'0' * 64}  ./xquad-r/de.json\n")
    assert len(load_lareqa("xquad-r", data_dir=root, languages=["en"]).questions) == 1190
    with pytest.raises(DataError, match=r"de\.json: checksum mismatch"):
        load_lareqa("xquad-r", data_dir=root, languages=["en", "de"])


def test_unknown_dataset_and_language():
    with pytest.raises(DataError, match="unknown dataset"):
        load_lareqa("squad")
    with pytest.raises(DataError, match=r"unknown language\(s\) \['el'\]"):
        load_lareqa("mlqa-r", languages=["en", "el"])


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    monkeypatch.setenv("HYBRIDIR_DATA_DIR", str(tmp_path))
    assert data.resolve_data_dir(explicit) == explicit
    assert data.resolve_data_dir() == tmp_path
    monkeypatch.setenv("HYBRIDIR_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="does not exist"):
        data.resolve_data_dir()


def test_missing_data_is_fetched_by_the_one_downloader(tmp_path, monkeypatch):
    """With no LAReQA files anywhere, ``resolve_data_dir`` asks ``fetch`` for XQuAD-R and MLQA-R."""
    asked = []
    monkeypatch.delenv("HYBRIDIR_DATA_DIR", raising=False)
    monkeypatch.setattr(data.paths, "find_data", lambda name: None)
    monkeypatch.setattr(data, "fetch_all", lambda dest, datasets: asked.append((dest, datasets)))
    assert data.resolve_data_dir() == data.REPO_ROOT / "data"
    assert asked == [(data.REPO_ROOT / "data", ("xquad-r", "mlqa-r"))]
    with pytest.raises(DataError, match="No XQuAD-R/MLQA-R files found"):
        data.resolve_data_dir(download=False)

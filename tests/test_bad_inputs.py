"""Every bad input a user can give ends in one clear line (exit 2) naming the file and the field.

Each case is a hand-built LAReQA folder or run folder under tmp_path; no model is loaded: the
data are read and validated before the model is built.
"""

import json
from pathlib import Path

import pytest

from hybridir_core import cli
from hybridir_core.config import EvalConfig
from hybridir_core.data import lareqa as data
from hybridir_core.runs import directory as runs


def paragraph(qas=None, context="Alpha is first. Beta is second.", breaks=((0, 15), (16, 31))):
    return {"context": context, "sentence_breaks": [list(b) for b in breaks],
            "qas": qas if qas is not None else [
                {"id": "q1", "question": "Which is first?", "answers": [{"answer_start": 0, "text": "Alpha"}]}]}


def lareqa_dir(tmp_path: Path, en=None, en_bytes: bytes | None = None) -> Path:
    """A two-language XQuAD-R folder; ``en`` (a JSON payload) or ``en_bytes`` replace en.json."""
    root = tmp_path / "ds"
    (root / "xquad-r").mkdir(parents=True)
    good = {"data": [{"paragraphs": [paragraph()]}]}
    (root / "xquad-r" / "de.json").write_text(json.dumps(good), encoding="utf-8")
    path = root / "xquad-r" / "en.json"
    if en_bytes is not None:
        path.write_bytes(en_bytes)
    else:
        path.write_text(json.dumps(good if en is None else en), encoding="utf-8")
    return root


def evaluate_argv(tmp_path: Path, root: Path, *extra: str) -> list[str]:
    return ["evaluate", "--model", "no-such-model-is-loaded", "--dataset", "xquad-r", "--languages", "en", "de",
            "--data-dir", str(root), "--out", str(tmp_path / "runs" / "bad"), *extra]


def one_error_line(capsys) -> str:
    """The single ``error:`` line on stderr (and no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def with_en_question(**changes):
    qa = {"id": "q1", "question": "Which is first?", "answers": [{"answer_start": 0}]}
    qa.update(changes)
    return {"data": [{"paragraphs": [paragraph([{k: v for k, v in qa.items() if v is not KeyError}])]}]}


BAD_EN_FILES = {
    "empty data": ({"data": []}, "en.json: no questions"),
    "answer_start as a string": (with_en_question(answers=[{"answer_start": "0"}]),
                                 "en.json: paragraph 0, question 0 (id q1), answer 0: "
                                 "'answer_start' must be an integer, got str '0'"),
    "answers empty": (with_en_question(answers=[]), "en.json: paragraph 0, question 0 (id q1): 'answers' is empty"),
    "question without id": (with_en_question(id=KeyError), "en.json: paragraph 0, question 0 lacks 'id'"),
    "question text null": (with_en_question(question=None),
                           "en.json: paragraph 0, question 0 (id q1): 'question' must be a string, got null"),
    "null question": ({"data": [{"paragraphs": [paragraph([None])]}]},
                      "en.json: paragraph 0, question 0 must be an object, got null"),
    "string sentence_breaks": ({"data": [{"paragraphs": [{**paragraph(), "sentence_breaks": "0 15"}]}]},
                               "en.json: paragraph 0: 'sentence_breaks' must be a list, got str"),
    "sentence break outside the context": ({"data": [{"paragraphs": [paragraph(breaks=((0, 99),))]}]},
                                           "'sentence_breaks' must hold [start, end] integer pairs"),
    "numeric context": ({"data": [{"paragraphs": [{**paragraph(), "context": 5}]}]},
                        "en.json: paragraph 0: 'context' must be a string, got int 5"),
    "data not a list": ({"data": {"paragraphs": []}}, "en.json: the file: 'data' must be a list, got dict"),
    "no data key": ({"version": 1}, "en.json: the file lacks 'data'"),
    "article without paragraphs": ({"data": [{"title": "x"}]}, "en.json: article 0 lacks 'paragraphs'"),
}


@pytest.mark.parametrize("case", sorted(BAD_EN_FILES))
def test_a_malformed_language_file_is_one_line_naming_file_and_field(tmp_path, capsys, case):
    payload, expected = BAD_EN_FILES[case]
    root = lareqa_dir(tmp_path, en=payload)
    assert cli.main(evaluate_argv(tmp_path, root)) == 2
    line = one_error_line(capsys)
    assert str(root / "xquad-r") in line and expected in line, line
    assert runs.read_status(tmp_path / "runs" / "bad")["state"] == "failed"
    assert not runs.is_complete(tmp_path / "runs" / "bad")  # never a "complete" run with a NaN Cross


def test_latin1_bytes_name_the_file(tmp_path, capsys):
    text = json.dumps({"data": [{"paragraphs": [paragraph(context="Alphé is first. Beta is second.")]}]},
                      ensure_ascii=False)
    root = lareqa_dir(tmp_path, en_bytes=text.encode("latin-1"))
    assert cli.main(evaluate_argv(tmp_path, root)) == 2
    line = one_error_line(capsys)
    assert f"{root / 'xquad-r' / 'en.json'}: not UTF-8 text (byte 0xe9" in line


def test_the_hand_built_folder_itself_is_valid(tmp_path):
    loaded = data.load_lareqa("xquad-r", lareqa_dir(tmp_path), ["en", "de"])
    assert len(loaded.questions) == 2 and len(loaded.candidates) == 4
    assert [r.tolist() for r in loaded.relevant_candidates()] == [[0, 2], [0, 2]]


def test_duplicate_languages_are_named_as_such(tmp_path, capsys):
    root = lareqa_dir(tmp_path)
    argv = evaluate_argv(tmp_path, root)
    argv[argv.index("--languages"):argv.index("--data-dir")] = ["--languages", "en", "en", "de"]
    assert cli.main(argv) == 2
    line = one_error_line(capsys)
    assert "duplicate language(s) ['en']" in line and "question id" not in line
    with pytest.raises(data.DataError, match=r"duplicate language\(s\) \['en'\]"):
        data.load_lareqa("xquad-r", root, ["en", "de", "en"])


def test_a_language_missing_from_any_dataset_is_refused_before_any_work(tmp_path, capsys):
    argv = ["evaluate", "--model", "no-such-model-is-loaded", "--dataset", "all", "--languages", "en", "el",
            "--out", str(tmp_path / "runs" / "el")]
    assert cli.main(argv) == 2
    assert "languages: mlqa-r has no el" in one_error_line(capsys)
    with pytest.raises(ValueError, match="mlqa-r has no el"):
        EvalConfig(datasets=("xquad-r", "mlqa-r"), languages=("en", "el"))
    assert EvalConfig(datasets=("xquad-r",), languages=("en", "el")).languages == ("en", "el")
    assert data.LAREQA_LANGUAGES["mlqa-r"] == ("ar", "de", "en", "es", "hi", "vi", "zh")


def test_out_that_is_a_file_or_under_a_file(tmp_path, capsys):
    root = lareqa_dir(tmp_path)
    a_file = tmp_path / "runs" / "afile"
    a_file.parent.mkdir()
    a_file.write_text("x")
    argv = evaluate_argv(tmp_path, root)
    argv[-1] = str(a_file)
    assert cli.main(argv) == 2
    assert f"--out {a_file}: a file of that name exists" in one_error_line(capsys)
    argv[-1] = str(a_file / "run")
    assert cli.main(argv) == 2
    assert f"--out {a_file / 'run'}: cannot write the run directory (Not a directory" in one_error_line(capsys)
    assert a_file.read_text() == "x"


def test_out_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    """A read-only folder (simulated: the tests may run as root, who writes anywhere)."""
    def refuse(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(runs, "write_json", refuse)
    argv = evaluate_argv(tmp_path, lareqa_dir(tmp_path))
    assert cli.main(argv) == 2
    line = one_error_line(capsys)
    assert "cannot write the run directory (Permission denied" in line and "status.json" in line


def test_an_error_handler_that_cannot_write_still_says_one_line(tmp_path, capsys, monkeypatch):
    """A full disk: the job fails, then so does writing error.log and status.json."""
    def disk_full(args, progress):
        monkeypatch.setattr(runs, "write_json", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
        monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left")))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.commands, "cmd_job", disk_full)  # the parser is built inside main
    assert cli.main(evaluate_argv(tmp_path, lareqa_dir(tmp_path))) == 1
    line = one_error_line(capsys)
    assert "No space left on device" in line and "status.json not updated" in line


@pytest.mark.parametrize("k", ["0", "-3", "ten"])
def test_search_k_is_checked_before_any_encoding(capsys, k):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["search", "who?", "-k", k, "--model", "no-such-model-is-loaded"])
    assert exit_.value.code == 2
    assert "argument -k" in one_error_line(capsys)


def test_search_dataset_refuses_k_below_one():
    from hybridir_core.evaluation.retrieval import search_dataset

    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        search_dataset("no-such-model-is-loaded", "xquad-r", "who?", k=0)


def test_export_of_a_run_whose_model_is_a_string(tmp_path, capsys):
    import pandas as pd

    run_dir = tmp_path / "runs" / "stringly"
    matrix = pd.DataFrame([["xquad-r", "en", "en", 0.5, 0.4, 0.9, 10]], columns=runs.MATRIX_COLUMNS)
    ranks = pd.DataFrame([["xquad-r", "q1", "en", "en", 1, 1]], columns=runs.RANK_COLUMNS)
    runs.write_eval_files(run_dir, {"run_id": "stringly", "model": "me5-small"},
                          {"xquad-r": {"mono_map": 0.5}}, matrix, ranks)
    out = tmp_path / "c.csv"
    assert cli.main(["export", str(run_dir), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert f"{run_dir / 'config.json'}: 'model' must be an object, got str 'me5-small'" in line
    assert not out.exists()
    assert runs.list_runs(tmp_path / "runs").unreadable == {run_dir: line.split("error: ", 1)[1]}

"""The evaluation pipeline end to end with encoders whose answers are known exactly."""

import json

import numpy as np
import pandas as pd
import pytest
from fixtures_runs import fixture_model

from hybridir_core.analysis import export
from hybridir_core.config import EvalConfig
from hybridir_core.data.lareqa import load_lareqa
from hybridir_core.evaluation import bias, evaluate, metrics
from hybridir_core.runs import directory as runs


class ConstantEncoder:
    """Every text gets the same vector: every score ties, so ranks are the worst possible."""

    def __init__(self):
        self.seen = []

    def get_sentence_embedding_dimension(self):
        return 4

    def encode(self, texts, prompt=None, **kwargs):
        self.seen.extend((prompt, t) for t in texts)
        return np.tile(np.array([1, 0, 0, 0], dtype=np.float32), (len(texts), 1))


CONFIG = EvalConfig(model="constant", datasets=("mlqa-r",), languages=("de", "en", "es"),
                    limit_per_lang=40, chunk_size=16)


@pytest.fixture(scope="module")
def constant_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "constant"
    encoder = ConstantEncoder()
    summaries = evaluate.run_evaluation(fixture_model(encoder, "constant", params=0, layers=0, dim=4, scale="test",
                                                        query_prompt="query: ", passage_prompt="passage: "),
                                          out, CONFIG)
    return out, summaries, encoder


def test_encodes_each_distinct_text_once_with_prompts(constant_run):
    _, _, encoder = constant_run
    data = load_lareqa("mlqa-r", languages=["de", "en", "es"], limit_per_lang=40)
    queries = [t for p, t in encoder.seen if p == "query: "]
    passages = [t for p, t in encoder.seen if p == "passage: "]
    assert sorted(queries) == sorted(set(data.questions.text))
    assert sorted(passages) == sorted(set(data.candidates.text))


def test_constant_encoder_gets_worst_case_metrics(constant_run):
    out, summaries, _ = constant_run
    run = runs.load_run(out)
    data = load_lareqa("mlqa-r", languages=["de", "en", "es"], limit_per_lang=40)
    n_lang = data.candidates.groupby("lang").size()
    ranks = run.ranks
    assert (ranks.rank_in_lang == ranks.candidate_lang.map(n_lang)).all()
    # pooled: R relevant candidates tied with everything sit at N-R+1..N
    n = len(data.candidates)
    for _, group in ranks.groupby(["question_id", "query_lang"]):
        r = len(group)
        assert sorted(group.rank_multi) == list(range(n - r + 1, n + 1))
    cell = run.matrix.set_index(["query_lang", "candidate_lang"])
    assert cell.loc[("en", "de"), "map"] == pytest.approx(1 / n_lang["de"])
    assert summaries["mlqa-r"]["mono_map"] == pytest.approx(np.mean(1 / n_lang))


def test_run_files_follow_the_contract(constant_run):
    out, summaries, _ = constant_run
    matrix = pd.read_csv(out / "matrix.csv")
    assert list(matrix.columns) == runs.MATRIX_COLUMNS
    assert len(matrix) == 3 * 3 + 3
    assert list(pd.read_parquet(out / "ranks.parquet").columns) == runs.RANK_COLUMNS
    config = json.loads((out / "config.json").read_text())
    assert config["schema_version"] == 1 and config["eval"]["limit_per_lang"] == 40
    assert config["versions"]["torch"]
    assert set(config["cpu"]) == {"model", "bf16_flags"}  # what decides the encoder and bf16 paths
    assert "weights" in config["model"]  # which build of the model (None for a folder without weight files)
    assert not list(out.glob(".*.tmp"))


def test_metrics_json_recomputes_from_ranks(constant_run):
    out, _, _ = constant_run
    run = runs.load_run(out)
    for name, stored in run.metrics.items():
        ranks = run.ranks[run.ranks.dataset == name]
        per_query = metrics.per_query_scores(ranks)
        again = metrics.aggregates(per_query, metrics.cell_matrix(per_query))
        again.update(bias.rank_distance_summary(ranks))
        for key, value in again.items():
            assert stored[key] == pytest.approx(value, abs=1e-12)


def test_export_has_one_row_per_setting(constant_run):
    out, _, _ = constant_run
    frame = export.comparison_frame([out])
    assert frame[["dataset", "setting"]].values.tolist() == [
        ["mlqa-r", "mono"], ["mlqa-r", "cross"], ["mlqa-r", "multi"]]
    assert export.to_csv_bytes(frame).decode().splitlines()[0].startswith("run,reference,model")

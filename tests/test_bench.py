"""The benchmark harness on a tiny slice with a cheap encoder: schema and checks, not timings."""

import json

import numpy as np
import pytest
from fixtures_runs import minilm_dir

from bench import __main__ as bench_main
from bench import backends, eval_bench, report, scaling, train_speed
from bench.common import run_task

RATIO_KEYS = {"part", "name", "value", "target", "passed", "hybridir", "baseline", "note", "extra"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results = bench_main.run(["--profile", "tiny", "--model", "hash-test", "--parts",
                              "eval,encode,train,scaling", "--out", str(out), "--no-readme",
                              "--in-process", "--machine", "testbox"])
    return out, results


@pytest.mark.slow  # tiny_run: four bench parts
def test_results_json_schema(tiny_run):
    out, results = tiny_run
    files = sorted(p.name for p in out.iterdir())
    stem = [p for p in files if p.endswith("-testbox-tiny.json")]
    assert len(stem) == 1 and stem[0].replace(".json", ".md") in files, files
    data = json.loads((out / stem[0]).read_text())
    assert data["schema_version"] == 1
    for key in ("created", "command", "profile", "machine", "machine_label", "versions", "model",
                "parts", "ratios", "checks", "wall_seconds"):
        assert key in data, key
    assert data["machine_label"] == "testbox" and data["model"]["used"] == "hash-test"
    assert set(data["parts"]) == {"eval", "encode", "train", "scaling"}
    assert "skipped" in data["parts"]["train"]
    for r in data["ratios"]:
        assert set(r) == RATIO_KEYS
    names = {r["name"] for r in data["ratios"]}
    assert any(n.startswith("metrics time / encoding time") for n in names)
    assert any("speed-up of the metric stage vs ST IR evaluators (untruncated" in n for n in names)
    assert any(n.startswith("encode_texts vs plain encode") for n in names)
    for part in ("eval", "encode"):
        for name, c in {**data["parts"][part].get("contenders", {}),
                        **data["parts"][part].get("variants", {})}.items():
            assert "error" not in c, (name, c.get("error"))
    assert not (out / "tmp").exists() or not any((out / "tmp").iterdir())
    md = (out / stem[0].replace(".json", ".md")).read_text()
    assert "| part | measure |" in md and "testbox" in md


@pytest.mark.slow  # tiny_run: four bench parts
def test_map_equality_check_passes_and_reports_ties(tiny_run):
    _, results = tiny_run
    ev = results["parts"]["eval"]
    check = ev["checks"]["map_equals_reference"]
    assert check["passed"] and check["max_abs_diff"] <= 1e-6
    assert check["cells"]["n_compared"] == 3 * 3 + 3 and not check["cells"]["missing"]
    assert set(check["exact_ties"]) >= {"relevant_pairs_tied", "queries_with_ties"}
    c = ev["contenders"]
    # The cached metric stage reproduces the end-to-end run; untruncated ST MAP is the same AP.
    assert ev["checks"]["cached_equals_e2e"]["max_abs_diff"] == 0.0
    assert ev["checks"]["st_untruncated_vs_reference"]["max_abs_diff"] < 1e-6
    assert c["hybridir_e2e"]["n_cells"] == 12 and c["st_evaluator_untruncated"]["n_evaluators"] >= 12
    for key in ("encode_seconds", "metrics_seconds", "peak_increase_mb"):
        assert c["hybridir_e2e"][key] >= 0


def test_map_check_fails_on_a_difference():
    cells = {"de>de": 0.5, "de>en": 0.25, "de>multi": 0.4}
    summary = {k: 0.1 for k in ("mono_map", "cross_map", "multi_map", "mono_map_micro",
                                "cross_map_micro", "multi_map_micro")}
    ok = {"cells": cells, "summary": summary}
    off = {"cells": {**cells, "de>en": 0.25 + 1e-5}, "summary": summary}
    assert eval_bench.checks({"hybridir_metrics": ok, "sklearn_reference": ok})["map_equals_reference"]["passed"]
    bad = eval_bench.checks({"hybridir_metrics": off, "sklearn_reference": ok})["map_equals_reference"]
    assert not bad["passed"] and bad["cells"]["worst"] == "de>en"


def test_exact_ties_are_counted():
    c = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)  # candidates 0 and 1 identical
    q = np.array([[1, 0]], dtype=np.float32)
    ties = eval_bench.count_exact_ties(q, c, [np.array([0])])
    assert ties["relevant_pairs_tied"] == 1 and ties["queries_with_ties"] == 1


def test_growth_exponent():
    sizes = [1000, 2000, 4000, 8000]
    assert scaling.growth(sizes, [s * 1e-3 for s in sizes])["exponent"] == pytest.approx(1.0)
    quad = scaling.growth(sizes, [(s / 1000) ** 2 for s in sizes])
    assert quad["exponent"] == pytest.approx(2.0) and quad["reading"] == "quadratic"


def test_worker_process_reports_memory(tmp_path):
    out = run_task("bench.scaling:task_synthetic", dict(sizes=[500, 1000], n_queries=4, dim=8),
                   tmp_path, isolate=True)
    assert "error" not in out, out.get("error")
    assert out["isolated"] and out["process_peak_rss_mb"] > 0
    assert [r["pool"] for r in out["faiss"]] == [500, 1000]


def test_readme_section_is_replaced(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# b\n\n{report.README_START}\nold\n{report.README_END}\n\ntail\n")
    report.update_readme(readme, "new table\n")
    text = readme.read_text()
    assert "new table" in text and "old" not in text and text.endswith("tail\n")


@pytest.mark.training
def test_backends_and_train_speed_parts(tmp_path):
    """Parts 5 and 6 on a tiny slice with the MiniLM fixture: their rows, tables and checks, not timings.

    The model is given as a local sentence-transformers directory, as a user without the me5 weights would.
    """
    model = str(minilm_dir())
    results = bench_main.run(["--profile", "tiny", "--parts", "backends,train-speed", "--backends-model", model,
                              "--train-speed-model", model, "--out", str(tmp_path), "--no-readme",
                              "--in-process", "--machine", "testbox"])
    label = "xquad-r (de+en, 10 per language)"
    ds = results["parts"]["backends"]["datasets"][label]
    assert "error" not in ds, ds.get("error")
    auto = ds["auto"]
    assert ds["n_texts"] > 20 and auto["min_cosine"] > 0.99 and auto["keeps_map"]
    rows = {r["name"]: r for r in results["ratios"]}
    speed = rows[f"default encoder vs plain encode, {label} (texts/s)"]
    assert speed["value"] == pytest.approx(auto["texts_per_second"] / ds["plain"]["texts_per_second"], rel=1e-3)
    assert rows[f"largest mAP difference, default encoder vs fp32, {label}"]["passed"] is True
    speed_part = results["parts"]["train-speed"]
    assert set(speed_part["throughput"]) == {"baseline", "seq-64"}
    assert speed_part["throughput"]["baseline"]["pairs_per_second"] > 0
    assert [r["part"] for r in results["ratios"]].count("train-speed") == 1
    md = next(tmp_path.glob("*-testbox-tiny.md")).read_text()
    assert f"Part 5, Encoder backends vs plain encode ({model}," in md and "Part 6, Training throughput" in md


def test_backends_table_lists_backends_not_the_isolated_workers_fields():
    """An isolated run puts its memory and wall time beside the backends (the full run's table broke on them)."""
    auto = {"chosen": "bf16", "texts_per_second": 30.0, "ratio_to_plain": 3.0, "min_cosine": 0.99997,
            "map_diff": {"mono_map": -1e-4, "cross_map": 1e-3, "multi_map": 2e-4}, "max_abs_map_diff": 1e-3,
            "keeps_map": True}
    ds = {"n_texts": 40, "threads": 2, "plain": {"texts_per_second": 10.0}, "auto": auto,
          "process_peak_rss_mb": 3243.4, "isolated": True, "process_wall_seconds": 12.0}
    md = backends.markdown({"model": "m", "cpu": "CPU", "bf16_flags": ["avx512_bf16"], "threads": 2,
                            "batch_size": 64, "date": "d", "datasets": {"mlqa-r": ds}})
    assert [line for line in md.splitlines() if line.startswith("| mlqa-r")] == [
        "| mlqa-r | auto (bf16) | 30.0 | 10.0 | 3.00x | 0.999970 | 0.00100 | -0.00010 / +0.00100 / +0.00020 | yes |"]


def test_an_in_process_variant_leaves_training_as_it_found_it(monkeypatch):
    """compile and threads-1 patch the trainer's arguments and torch's threads for one variant only."""
    import torch

    from hybridir_core.training import trainer as train

    plain, threads, seen = train.training_arguments, torch.get_num_threads(), []

    def record(model, variant, settings, steps, seed):
        seen.append((train.training_arguments is plain, torch.get_num_threads()))
        raise RuntimeError("stop before training")

    monkeypatch.setattr(train_speed, "_train_variant", record)
    for variant in ("compile", "threads-1"):
        with pytest.raises(RuntimeError):
            train_speed.task_variant("m", variant, steps=1)
        assert train.training_arguments is plain and torch.get_num_threads() == threads
    assert seen == [(False, threads), (True, 1)]


def test_a_fast_training_variant_is_met_only_when_adopted():
    result = {"model": "m", "validate_steps": 300, "adopted": ["compile"],
              "throughput": {"baseline": {"pairs_per_second": 10.0}, "seq-64": {"pairs_per_second": 18.0},
                             "compile": {"pairs_per_second": 14.0}, "threads-1": {"pairs_per_second": 6.0},
                             "bf16": {"skipped": "no native bf16"}},
              "validation": {"seq-64": {"loss_change": 0.056, "adopt": False},
                             "compile": {"loss_change": -0.004, "adopt": True}}}
    rows = {name: train_speed.variant_ratio(name, r, result) for name, r in result["throughput"].items()
            if name != "baseline"}
    assert rows["seq-64"].value == 1.8 and rows["seq-64"].passed is False and "+5.6%" in rows["seq-64"].note
    assert rows["compile"].passed is True and "adopted" in rows["compile"].note
    assert rows["threads-1"].passed is False and "below 1.3x" in rows["threads-1"].note
    assert rows["bf16"].value is None and rows["bf16"].passed is None and "skipped" in rows["bf16"].note


def test_exact_training_comparison_ignores_empty_cells_and_needs_equal_losses():
    from bench import train_exact

    today = {"losses": [3.5, 3.25], "metrics": {"mono_map": 0.5, "cross_map": float("nan")},
             "pairs_per_second": 10.0, "cpu_seconds_per_pair": 0.2}
    auto = {"losses": [3.5, 3.25 + 2e-6], "metrics": {"mono_map": 0.5003, "cross_map": float("nan")},
            "pairs_per_second": 16.0, "cpu_seconds_per_pair": 0.125}
    out = train_exact.compare(today, auto)
    assert out["ratio"] == 1.6 and out["cpu_ratio"] == 1.6 and out["steps_compared"] == 2
    assert out["max_loss_diff"] == pytest.approx(2e-6) and out["max_metric_diff"] == pytest.approx(3e-4)
    row = train_exact.rows({"model": "m", "layers": {"2": {"torch": today, "auto": auto, **out}}})[0]
    assert row.passed is True
    out["max_loss_diff"] = 2e-5  # fast, but not the same numbers: not met
    assert train_exact.rows({"model": "m", "layers": {"2": {"torch": today, "auto": auto, **out}}})[0].passed is False


def test_paint_medians_are_per_checkout_and_measure():
    from bench.answer_paint import MEASURES, medians

    rows = [{"repo": "a", **dict.fromkeys(MEASURES, v)} for v in (3.0, 1.0, 2.0)]
    rows += [{"repo": "b", **dict.fromkeys(MEASURES, 9.0)}]
    table = medians(rows).splitlines()
    assert len(table) == 4 and table[0].count("|") == len(MEASURES) + 2
    assert table[2] == "| a | " + " | ".join(["2.00 (3.00, 1.00, 2.00)"] * len(MEASURES)) + " |"
    assert table[3].startswith("| b | 9.00 (9.00) |")

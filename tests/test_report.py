"""report: recipes over seeds, α table, per-seed differences, Markdown and the CLI."""

import math
from pathlib import Path

import pandas as pd
import pytest
from fixtures_runs import ALL_LOCAL, fixture_runs
from test_figures import summary_rows

from hybridir_core import cli
from hybridir_core.analysis import figures, report
from hybridir_core.analysis.report import Recipe
from hybridir_core.cli.options import parse_recipe


def seeded_rows() -> pd.DataFrame:
    """summary_rows plus seeds 1 and 2 of mono and hybrid 0.5, with known values."""
    rows = summary_rows()
    extra = []
    for seed, (mono, hybrid) in {1: ((0.70, 20), (0.75, 16)), 2: ((0.75, 30), (0.74, 10))}.items():
        for run, value, rank_distance in (("mono", *mono), ("h50", *hybrid)):
            row = rows[rows.run == run].iloc[0].to_dict()
            extra.append({**row, "run": f"{run}-s{seed}", "seed": seed, "mono_map": value,
                          "mean_rank_distance": rank_distance})
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)


def test_recipe_parse_and_errors():
    assert parse_recipe("me5-small-l6:hybrid:0.5") == Recipe("me5-small-l6", "hybrid", 0.5)
    assert parse_recipe("m:mono") == Recipe("m", "mono")
    for bad in ("m", "m:hybrid:half", ":mono", "a:b:c:d", "m:both"):
        with pytest.raises(ValueError):
            parse_recipe(bad)


def test_seed_table_mean_and_sample_std():
    table = report.seed_table(seeded_rows()).set_index("training")
    mono = table.loc["mono"]
    assert mono.n_seeds == 3 and mono.seeds == "0,1,2"
    assert mono.mono_map_mean == pytest.approx((0.8 + 0.7 + 0.75) / 3)
    assert mono.mono_map_std == pytest.approx(0.05)  # sample std of 0.70, 0.75, 0.80
    assert math.isnan(table.loc["cross"].mono_map_std)  # one seed
    assert list(table.index) == ["zero-shot", "mono", "hybrid α=0.5", "hybrid α=0.25", "cross"]


def test_seed_table_zero_shot_copies_are_runs_not_seeds():
    rows = summary_rows()
    zero_shot = rows[rows.sampling == "zero-shot"].assign(seed=None)
    twice = pd.concat([zero_shot, zero_shot.assign(run="zs-copy", source="reference")], ignore_index=True)
    row = report.seed_table(twice).iloc[0]
    assert (row.n_runs, row.n_seeds, row.mono_map_std) == (2, 0, 0)
    line = next(x for x in report.seed_table_markdown(report.seed_table(twice)).splitlines() if "zero-shot" in x)
    assert line.split("|")[3].strip() == "–"


def test_seed_differences_pair_runs_by_seed():
    diff = report.seed_differences(seeded_rows(), Recipe("m", "hybrid", 0.5), Recipe("m", "mono"))
    mono = diff.set_index("value").loc["mono_map"]
    assert mono.seeds == [0, 1, 2]
    assert mono.diffs == pytest.approx([0.79 - 0.8, 0.75 - 0.70, 0.74 - 0.75])
    assert mono.a_better == 1
    ranks = diff.set_index("value").loc["mean_rank_distance"]
    assert ranks.diffs == pytest.approx([14 - 25, 16 - 20, 10 - 30]) and ranks.a_better == 3  # lower is better


def test_a_recipe_never_pools_different_training_lengths():
    rows = seeded_rows()
    rows.loc[rows.run == "mono-s1", "steps"] = 80
    with pytest.raises(ValueError, match="steps 40, 80"):
        report.seed_differences(rows, Recipe("m", "hybrid", 0.5), Recipe("m", "mono"))
    assert report.seed_differences(rows, Recipe("m", "hybrid", 0.5), Recipe("m", "mono", steps=40)).seeds[0] == [0, 2]


def test_alpha_table_averages_seeds_per_alpha():
    table = report.alpha_table(seeded_rows()).set_index("alpha")
    assert list(table.index) == [0.0, 0.25, 0.5, 1.0]
    assert table.loc[1.0, "n_seeds"] == 3 and table.loc[0.5, "n_seeds"] == 3
    assert table.loc[0.5, "mono_map"] == pytest.approx((0.79 + 0.75 + 0.74) / 3)


def test_alpha_curve_error_bars_are_the_seed_spread():
    fig = figures.alpha_curve(seeded_rows(), "xquad-r")
    mono_line = next(t for t in fig.data if t.name.startswith("Mono mAP"))
    assert mono_line.error_y.visible
    assert list(mono_line.error_y.array) == pytest.approx([0, 0, pd.Series([0.79, 0.75, 0.74]).std(), 0.05])


def test_markdown_tables():
    summary = seeded_rows()
    text = report.seed_table_markdown(report.seed_table(summary))
    assert "| m " in text and "0.750 ± 0.050" in text and "hybrid α=0.25" in text
    alpha = report.alpha_markdown(report.alpha_table(summary))
    assert len(alpha.splitlines()) == 2 + 4  # header, rule, four α
    assert report.alpha_markdown(report.alpha_table(summary[summary.sampling == "zero-shot"])) == "(no α sweep)"


def test_report_cli_on_fixture_runs(tmp_path_factory, tmp_path, capsys):
    runs_root, _ = fixture_runs(tmp_path_factory)
    out = tmp_path / "findings.md"
    assert cli.main(["report", str(runs_root), "--resamples", "50", "--out", str(out)]) == 0
    text = out.read_text()
    assert "### Recipes" in text and "### α sweep" in text
    # default comparisons: hybrid 0.5 against mono and against cross of the same model
    assert "hybrid α=0.5 − mono (1 vs 1 seeds)" in text and "hybrid α=0.5 − cross (1 vs 1 seeds)" in text
    assert "(30 questions)" in text  # clusters: the 30 question ids, not the 90 translated queries
    assert "inconclusive (a recipe with one seed" in text  # one seed cannot settle non-inferiority
    assert cli.main(["report", str(runs_root), "--resamples", "50",
                     "--compare", "minilm-test:hybrid:0.25", "minilm-test:mono"]) == 0
    assert "hybrid α=0.25 − mono" in capsys.readouterr().out
    assert cli.main(["report", str(runs_root), "--compare", "nope:mono", "minilm-test:mono"]) == 2
    assert "no complete run matches nope mono" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "missing")]) == 2


def test_report_cli_skips_broken_and_duplicate_runs(tmp_path_factory, tmp_path, capsys):
    import shutil

    runs_root, _ = fixture_runs(tmp_path_factory)
    other = tmp_path / "other"
    shutil.copytree(runs_root / "tr-mono-s1", other / "tr-mono-s1")  # same id as in runs_root
    (other / "half-run").mkdir()  # no metrics.json: unreadable
    out = tmp_path / "findings.md"
    assert cli.main(["report", str(runs_root), str(other), "--resamples", "20", "--out", str(out)]) == 0
    said = capsys.readouterr().err  # stderr: the Markdown on stdout stays clean
    assert "skipped " + str(other / "half-run") in said
    assert "skipped " + str(other / "tr-mono-s1") + ": same run id as" in said
    assert f"Findings over {len(ALL_LOCAL)} runs" in out.read_text()


def _quick_copies(runs_root, source: str, limits_and_values) -> None:
    """Copies of run ``source`` evaluated (as far as the files say) with another limit and numbers."""
    import json
    import shutil

    from hybridir_core.runs import directory as runs

    for i, (limit, value) in enumerate(limits_and_values):
        copy = runs_root / f"{source}-quick{i}"
        shutil.copytree(runs_root / source, copy)
        config = json.loads((copy / runs.CONFIG).read_text())
        config["eval"]["limit_per_lang"] = limit
        runs.write_json(copy / runs.CONFIG, config)
        metrics = json.loads((copy / runs.METRICS).read_text())
        for values in metrics["datasets"].values():
            values.update(mono_map=value, cross_map=value)
        runs.write_json(copy / runs.METRICS, metrics)


def test_quick_runs_never_move_the_mean_of_a_recipe(tmp_path_factory, tmp_path):
    from fixtures_runs import ZERO_SHOT, writable_copy

    from hybridir_core.runs import directory as runs
    from hybridir_core.runs import protocol

    runs_root, _ = writable_copy(fixture_runs(tmp_path_factory), tmp_path)
    before = report.seed_table(protocol.summary_frame(runs.list_runs(runs_root).runs))
    _quick_copies(runs_root, ZERO_SHOT, [(5, 0.99), (5, 0.01)])
    found = runs.list_runs(runs_root).runs
    summary = protocol.summary_frame(found)
    after = report.seed_table(summary)
    zero_shot = after[after.training == "zero-shot"].set_index("evaluation")
    assert list(zero_shot.index) == ["quick: 30/lang · 3 languages", "quick: 5/lang · 3 languages"]
    full = zero_shot.loc["quick: 30/lang · 3 languages"]
    expected = before[before.training == "zero-shot"].iloc[0]
    assert (full.n_runs, full.cross_map_mean) == (1, pytest.approx(expected.cross_map_mean))
    assert zero_shot.loc["quick: 5/lang · 3 languages"].cross_map_mean == pytest.approx(0.5)
    # the report's tables name the protocol of each row, and Recipe.select refuses to pool them
    assert "| quick: 5/lang · 3 languages " in report.seed_table_markdown(after)
    with pytest.raises(ValueError, match="2 protocols"):
        Recipe("minilm-test", "zero-shot").select(summary)
    # the Home table and the CSV say which runs are quick or a subset
    table = protocol.runs_table(found).set_index("run")
    assert table.loc[f"{ZERO_SHOT}-quick0", "evaluation"] == "quick: 5/lang · 3 languages"
    assert table.loc[ZERO_SHOT, "languages"] == "de en es"


def test_protocol_fields_separate_training_setups():
    from hybridir_core.config import EvalConfig, SamplingConfig, TrainConfig
    from hybridir_core.runs import directory as runs
    from hybridir_core.runs import protocol

    def run(lr=3e-5, seed=0, languages=None, alpha=0.5, report_to=(), precision="fp32"):
        train = TrainConfig(learning_rate=lr, seed=seed, sampling=SamplingConfig("hybrid", alpha),
                            report_to=report_to, precision=precision)
        config = {"model": {"name": "m"}, "eval": EvalConfig(languages=languages).to_dict(), "train": train.to_dict()}
        return runs.Run(Path("r"), config, {}, pd.DataFrame())

    ids = {name: protocol.protocol_id(protocol.protocol_of(r)) for name, r in {
        "base": run(), "seed": run(seed=3), "alpha": run(alpha=0.25), "logging": run(report_to=("tensorboard",)),
        "lr": run(lr=1e-3), "subset": run(languages=("de", "en")), "bf16": run(precision="bf16")}.items()}
    assert ids["base"] == ids["seed"] == ids["alpha"] == ids["logging"]  # recipe or bookkeeping, not protocol
    assert len({ids["base"], ids["lr"], ids["subset"], ids["bf16"]}) == 4  # bf16 training never pools with fp32
    assert protocol.describe_protocol(run(precision="bf16"))["trained_on"] == "xnli · 200 steps · bf16"
    old_file = run()
    del old_file.config["train"]["precision"]  # a run file without the field: fp32, the default
    assert protocol.protocol_id(protocol.protocol_of(old_file)) == ids["base"]
    assert protocol.evaluation_label(protocol.protocol_of(run(languages=("de", "en")))["eval"]) == "2 languages"
    assert protocol.evaluation_label(EvalConfig().to_dict()) == "full"
    # every backend whose runs form their own protocol is named; gate-proven ones are not
    for backend in protocol.LOSSY_BACKENDS:
        assert protocol.evaluation_label({"backend": backend}) == f"backend {backend}"
    for backend in ("torch", "auto", "bucketed", "bf16", "onnx"):
        assert protocol.evaluation_label({"backend": backend}) == "full"
    # what auto chose counts where it is not held to fp32 (fp16 on a GPU); the onnx/bf16 choices pool
    chose = {name: run() for name in ("onnx", "fp16", "xquad")}
    chose["onnx"].config["encoders"] = {"xquad-r": {"backend": "onnx"}}
    chose["fp16"].config["encoders"] = {"xquad-r": {"backend": "fp16"}}
    chose["xquad"].config["train"] = TrainConfig(corpus="xquad").to_dict()
    got = {name: protocol.protocol_of(r) for name, r in chose.items()}
    assert protocol.protocol_id(got["onnx"]) == ids["base"] and got["fp16"]["eval"]["backend"] == "fp16"
    assert protocol.describe_protocol(chose["xquad"])["trained_on"] == "xquad · 200 steps"
    # a student rebuilt elsewhere starts from other weights: its runs pool only with their own build's
    built = {name: run() for name in ("a", "a2", "b")}
    for name, fingerprint in (("a", "aaaa1111bbbb2222"), ("a2", "aaaa1111bbbb2222"), ("b", "cccc3333dddd4444")):
        built[name].config["base_model"] = {"name": "m", "weights": fingerprint}
    weights_ids = {name: protocol.protocol_id(protocol.protocol_of(r)) for name, r in built.items()}
    assert weights_ids["a"] == weights_ids["a2"] and len({weights_ids["a"], weights_ids["b"], ids["base"]}) == 3
    assert protocol.describe_protocol(built["b"])["trained_on"] == "xnli · 200 steps · weights cccc3333"
    old = run()
    del old.config["train"]["xnli_pairs"]  # a run file from before entailment-only XNLI
    assert protocol.describe_protocol(old)["trained_on"] == "xnli (all pairs) · 200 steps"


def test_alpha_sweeps_split_by_protocol():
    rows = seeded_rows().assign(protocol="p-a", evaluation="full")
    quick = rows[rows.sampling != "zero-shot"].assign(protocol="p-b", evaluation="quick: 5/lang",
                                                      run=lambda f: f.run + "-q", mono_map=0.0)
    sweeps = report.alpha_sweeps(pd.concat([rows, quick], ignore_index=True), "xquad-r")
    plain = rows.loc[rows.run == "mono", "model"].iloc[0] + " · " + sweeps.sweep.iloc[0].split(" · ")[1]
    assert set(sweeps.sweep) == {f"{plain} · per-batch", f"{plain} · per-batch · quick: 5/lang"}
    full = report.alpha_table(rows).set_index("alpha")
    mixed = report.alpha_table(pd.concat([rows, quick], ignore_index=True))
    mixed = mixed[mixed.sweep == f"{plain} · per-batch"].set_index("alpha")
    assert mixed.mono_map.tolist() == pytest.approx(full.mono_map.tolist())


def test_scale_ladder_compares_models_whose_starting_weights_differ(tmp_path_factory, tmp_path):
    """Every model starts from its own weights: the fingerprint keeps builds of one model apart
    but must not keep two rungs of the ladder from being compared."""
    import shutil

    from fixtures_runs import _edit_json, writable_copy

    from hybridir_core.runs import directory as runs

    runs_root, _ = writable_copy(fixture_runs(tmp_path_factory), tmp_path)
    for name in ("tr-mono-s1", "tr-cross-s1", "tr-hybrid-a0.5-s1"):
        shutil.copytree(runs_root / name, runs_root / f"big-{name}")

        def bigger(config, name=name):
            config.update(run_id=f"big-{name}", base_model={"name": "minilm-big", "weights": "bbbb" * 4})
            config["model"].update(name="minilm-big", params=config["model"]["params"] * 4,
                                   layers=config["model"]["layers"] * 2)

        _edit_json(runs_root / f"big-{name}" / runs.CONFIG, bigger)
        _edit_json(runs_root / name / runs.CONFIG,
                   lambda config: config.update(base_model={"name": "minilm-test", "weights": "aaaa" * 4}))
    table = report.scale_table(runs.list_runs(runs_root).runs, ("xquad-r",), n_resamples=20)
    assert set(zip(table["small"], table["large"])) == {("minilm-test", "minilm-big")}
    assert set(table["against"]) == {"mono", "cross"}
    # a second build of the small model: each build is compared with the larger rung, never with the other
    for name in ("tr-mono-s1", "tr-cross-s1", "tr-hybrid-a0.5-s1"):
        shutil.copytree(runs_root / name, runs_root / f"rebuilt-{name}")
        _edit_json(runs_root / f"rebuilt-{name}" / runs.CONFIG, lambda config, name=name: config.update(
            run_id=f"rebuilt-{name}", base_model={"name": "minilm-test", "weights": "cccc" * 4}))
    table = report.scale_table(runs.list_runs(runs_root).runs, ("xquad-r",), n_resamples=20)
    smalls = set(table["small"])
    assert len(smalls) == 2 and all(s.startswith("minilm-test [") for s in smalls)
    assert any("aaaa" in s for s in smalls) and any("cccc" in s for s in smalls)
    assert set(table["large"]) == {"minilm-big"}  # one build: not named


def test_alpha_steps_pair_neighbouring_alphas_with_two_seeds():
    """A sweep steps from each α to the next larger one; one-seed α and three-recipe models wait."""
    rows = seeded_rows()  # α 0 and 0.25 have seed 0 only; α 0.5 and 1 have seeds 0-2
    assert report.alpha_step_comparisons(rows) == []  # mono − hybrid(0.5) alone repeats the verdict table
    more = rows[rows.run.isin(["cross", "h25"])].assign(seed=1, run=lambda f: f.run + "-s1")
    stepped = report.alpha_step_comparisons(pd.concat([rows, more], ignore_index=True))
    assert [(a.sampling, a.alpha, b.sampling, b.alpha) for a, b in stepped] == [
        ("hybrid", 0.25, "cross", None), ("hybrid", 0.5, "hybrid", 0.25), ("mono", None, "hybrid", 0.5)]
    three_recipes = rows[rows.run != "h25"]
    assert report.alpha_step_comparisons(three_recipes) == []
    assert report.alpha_steps_markdown(pd.DataFrame()) == report.NO_ALPHA_STEPS


def test_a_repeated_seed_counts_once(tmp_path_factory, tmp_path):
    """A local re-run of a shipped run (or a copy under a new id) is not one more seed."""
    import shutil

    from fixtures_runs import ZERO_SHOT, writable_copy

    from hybridir_core.runs import directory as runs

    runs_root, ref_root = writable_copy(fixture_runs(tmp_path_factory), tmp_path)
    shutil.copytree(runs_root / "tr-mono-s1", ref_root / "tr-mono-s1")  # shipped, same id
    shutil.copytree(runs_root / "tr-mono-s1", runs_root / "tr-mono-s1-again")  # new id, same seed
    found = runs.list_runs(runs_root, reference_roots=(ref_root,)).runs
    kept, repeats = report.one_run_per_seed(found)
    assert sorted(a.run_id for a, _ in repeats) == ["tr-mono-s1", "tr-mono-s1-again", ZERO_SHOT]
    assert all(b.reference for _, b in repeats)  # the shipped run is the one kept
    assert len(kept) == len(found) - 3
    table = report.verdict_table(found, ("xquad-r",), n_resamples=50)
    assert set(table.loc[table["against"] == "mono", "seeds_b"]) == {1}  # not 3 seeds of mono
    tables = report.study_tables(found, n_resamples=20, datasets=("xquad-r",))
    assert report.SET_ASIDE + str(runs_root / "tr-mono-s1") in report.findings_markdown(tables)

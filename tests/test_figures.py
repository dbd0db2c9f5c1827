"""Figure builders and the tables behind them, checked on their data (not pixels)."""

import numpy as np
import pandas as pd
import pytest
from fixtures_runs import fixture_runs

from hybridir_core.analysis import figures, published, report
from hybridir_core.runs import measures, protocol


@pytest.fixture(scope="session")
def fixture_roots(tmp_path_factory):
    return fixture_runs(tmp_path_factory)


def matrix(values: dict, dataset="xquad-r") -> pd.DataFrame:
    rows = [dict(dataset=dataset, query_lang=q, candidate_lang=c, map=v, recall_at_1=v / 2,
                 recall_at_10=min(1, v * 1.5), n_queries=10) for (q, c), v in values.items()]
    return pd.DataFrame(rows)


A = matrix({("en", "en"): 0.9, ("en", "de"): 0.5, ("en", "multi"): 0.4,
            ("de", "en"): 0.6, ("de", "de"): 0.8, ("de", "multi"): 0.45})
B = matrix({("en", "en"): 0.8, ("en", "de"): 0.7, ("en", "multi"): 0.5,
            ("de", "en"): 0.6, ("de", "de"): 0.7, ("de", "multi"): 0.3})


def test_language_order_puts_multi_last():
    assert measures.language_order(["multi", "zh", "ar", "en"]) == ["ar", "en", "zh", "multi"]


def test_matrix_heatmap_values_text_and_axes():
    fig = figures.matrix_heatmap(A, "xquad-r", "map")
    trace = fig.data[0]
    assert list(trace.x) == ["de", "en", "multi"] and list(trace.y) == ["de", "en"]
    np.testing.assert_allclose(trace.z, [[0.8, 0.6, 0.45], [0.5, 0.9, 0.4]])
    assert trace.text[1][1] == "0.90" and trace.texttemplate == "%{text}"
    assert "mAP" in trace.hovertemplate and trace.zmin == 0 and trace.zmax == 1
    recall = figures.matrix_heatmap(A, "xquad-r", "recall_at_1").data[0]
    np.testing.assert_allclose(recall.z[1][1], 0.45)
    assert "Recall@1" in recall.hovertemplate


def test_matrix_heatmap_other_dataset_is_separate():
    both = pd.concat([A, matrix({("en", "en"): 0.1, ("en", "multi"): 0.2}, "mlqa-r")])
    trace = figures.matrix_heatmap(both, "mlqa-r").data[0]
    assert list(trace.y) == ["en"] and list(trace.x) == ["en", "multi"]


def test_difference_heatmap_is_centred_and_signed():
    fig = figures.difference_heatmap(A, B, "xquad-r", "map", "hybrid", "mono")
    trace = fig.data[0]
    np.testing.assert_allclose(trace.z, [[0.1, 0.0, 0.15], [-0.2, 0.1, -0.1]], atol=1e-12)
    assert trace.zmid == 0 and trace.zmin == pytest.approx(-0.2) and trace.zmax == pytest.approx(0.2)
    assert trace.colorscale[0][1] != trace.colorscale[-1][1]  # diverging
    assert trace.text[1][0] == "-0.20" and "hybrid − mono" in fig.layout.title.text


def test_difference_heatmap_marks_significant_cells():
    tests = pd.DataFrame({"query_lang": ["de", "en"], "candidate_lang": ["de", "de"],
                          "n_queries": [10, 10], "diff": [0.1, -0.2], "p_value": [0.001, 0.3],
                          "p_holm": [0.01, 0.6]})
    trace = figures.difference_heatmap(A, B, "xquad-r", cell_tests=tests).data[0]
    assert trace.text[0][0].endswith("*") and not trace.text[1][0].endswith("*")


def summary_rows():
    base = dict(source="local", model="m", scale="6L", layers=6, params=1, seed=0, steps=40,
                limit_per_lang=30, dataset="xquad-r", multi_recall_at_10=0.5, median_rank_distance=1,
                n_questions=10)
    rows = [
        dict(run="zs", sampling="zero-shot", alpha=None, mix=None, mono_map=0.7, cross_map=0.5, multi_map=0.4,
             mean_rank_distance=30, **{**base, "steps": None}),
        dict(run="mono", sampling="mono", alpha=1.0, mix=None, mono_map=0.8, cross_map=0.5, multi_map=0.45,
             mean_rank_distance=25, **base),
        dict(run="cross", sampling="cross", alpha=0.0, mix=None, mono_map=0.75, cross_map=0.65, multi_map=0.5,
             mean_rank_distance=12, **base),
        dict(run="h25", sampling="hybrid", alpha=0.25, mix="per-batch", mono_map=0.77, cross_map=0.64,
             multi_map=0.52, mean_rank_distance=13, **base),
        dict(run="h50", sampling="hybrid", alpha=0.5, mix="per-batch", mono_map=0.79, cross_map=0.62,
             multi_map=0.53, mean_rank_distance=14, **base),
    ]
    return pd.DataFrame(rows)


def test_tradeoff_scatter_one_point_per_run_and_published_apart():
    summary = summary_rows()
    paper = published.summary_frame()
    fig = figures.tradeoff_scatter(summary, "xquad-r", "mono_map", "cross_map", paper)
    local = [t for t in fig.data if t.legendgroup in ("local", "reference")]
    ref = [t for t in fig.data if t.legendgroup == "published"]
    assert sum(len(t.x) for t in local) == len(summary)
    assert {t.name.split(" ·")[0] for t in local} == {"zero-shot", "mono", "cross", "hybrid"}
    hybrid = next(t for t in local if t.name.startswith("hybrid"))
    assert sorted(hybrid.x) == [0.77, 0.79] and hybrid.marker.color == figures.SAMPLING_COLORS["hybrid"]
    assert sum(len(t.x) for t in ref) == 6  # 2 models x 3 samplings
    assert all(t.name.startswith("paper: ") for t in ref)
    labse_hybrid = next(t for t in ref if t.name == "paper: LaBSE hybrid")
    assert (labse_hybrid.x[0], labse_hybrid.y[0]) == (0.817, 0.767)


def test_tradeoff_scatter_without_published():
    fig = figures.tradeoff_scatter(summary_rows(), "xquad-r", "mono_map", "multi_map")
    assert all(t.legendgroup == "local" for t in fig.data)


def test_tradeoff_scatter_reference_runs_apart():
    summary = summary_rows()
    summary.loc[0, "source"] = "reference"
    fig = figures.tradeoff_scatter(summary, "xquad-r")
    ref = [t for t in fig.data if t.legendgroup == "reference"]
    assert len(ref) == 1 and list(ref[0].x) == [0.7] and ref[0].marker.symbol.endswith("-open")


def test_alpha_sweep_maps_mono_and_cross_to_alpha_ends():
    sweep = report.alpha_sweeps(summary_rows(), "xquad-r")
    assert sweep.run.tolist() == ["cross", "h25", "h50", "mono"]
    assert sweep.alpha.tolist() == [0.0, 0.25, 0.5, 1.0]
    fig = figures.alpha_curve(summary_rows(), "xquad-r")
    mono_line = next(t for t in fig.data if t.name.startswith("Mono mAP"))
    assert list(mono_line.x) == [0.0, 0.25, 0.5, 1.0] and list(mono_line.y) == [0.75, 0.77, 0.79, 0.8]
    assert len(fig.data) == 3


def test_no_alpha_curve_without_a_sweep():
    only_zero_shot = summary_rows().iloc[:1]
    assert figures.alpha_curve(only_zero_shot, "xquad-r") is None
    no_hybrid = summary_rows()[summary_rows().sampling != "hybrid"]
    assert figures.alpha_curve(no_hybrid, "xquad-r") is None


def test_distribution_figures_one_trace_per_run():
    frame = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 4, "query_lang": ["en", "de"] * 4,
                          "rank_distance": [1, 2, 3, 4, 5, 6, 7, 8]})
    for kind, trace_type in (("box", "box"), ("violin", "violin"), ("histogram", "histogram")):
        fig = figures.rank_distance_figure(frame, kind)
        assert [t.type for t in fig.data] == [trace_type] * 2
        assert [t.name for t in fig.data] == ["a", "b"]
    box = figures.rank_distance_figure(frame, "box", log=True)
    assert list(box.data[0].y) == [1, 2, 3, 4] and box.layout.yaxis.type == "log"
    ranks = frame.rename(columns={"query_lang": "candidate_lang", "rank_distance": "rank_multi"})
    fig = figures.candidate_rank_figure(ranks)
    assert list(fig.layout.xaxis.categoryarray) == ["de", "en"]


def test_published_reference_rows():
    pub = published.load_published()
    assert pub.available and "2408.10536" in pub.citation and pub.provenance
    table = published.summary_frame(pub)
    assert len(table) == 12 and (table.source == "published").all()
    row = table[(table.model == "XLM-R") & (table.sampling == "mono") & (table.dataset == "xquad-r")].iloc[0]
    assert (row.mono_map, row.cross_map, row.multi_map, row.mean_rank_distance) == (0.792, 0.674, 0.547, 410)
    assert table[table.sampling == "hybrid"].alpha.eq(0.5).all()


def test_published_missing_file_says_not_available(tmp_path):
    pub = published.load_published(tmp_path / "absent.json")
    assert not pub.available and published.summary_frame(pub).empty
    (tmp_path / "cite.json").write_text('{"available": false, "citation": "X", "rows": []}')
    assert not published.load_published(tmp_path / "cite.json").available


def test_summary_and_runs_table_from_real_runs(fixture_roots):
    from hybridir_core.runs import directory as runs

    listing = runs.list_runs(fixture_roots[0], reference_roots=(fixture_roots[1],))
    summary = protocol.summary_frame(listing.runs)
    assert len(summary) == len(listing.runs)  # one dataset each
    table = protocol.runs_table(listing.runs)
    assert "xquad-r Mono" in table and "xquad-r rank dist." in table
    hybrid = table[table.run == "tr-hybrid-a0.5-s1"].iloc[0]
    assert (hybrid.sampling, hybrid.alpha, hybrid.mix, hybrid.seed) == ("hybrid", 0.5, "per-batch", 1)
    assert table[table.run == "ref-minilm"].source.item() == "reference"


def test_forest_plot_orders_scales_by_depth_and_draws_the_margin():
    rows = []
    for model, layers in (("big", 12), ("small", 2)):
        for against in ("mono", "cross"):
            for measure in ("mono", "cross", "multi", "rank_distance"):
                rows.append(dict(model=model, layers=layers, against=against, measure=measure, dataset="mlqa-r",
                                 diff=-0.002, ci_low=-0.006, ci_high=0.002))
    fig = figures.forest_plot(pd.DataFrame(rows), "mlqa-r", margin=0.01)
    mono_vs_mono = next(t for t in fig.data if t.name == "hybrid − mono")  # the first panel's
    assert list(mono_vs_mono.y) == ["small (2L)", "big (12L)"]  # by depth
    assert list(mono_vs_mono.customdata[0]) == ["small", "mono"]  # a click names the run pair
    assert mono_vs_mono.error_x.array[0] == pytest.approx(0.004)
    assert any(getattr(s, "x0", None) == -0.01 for s in fig.layout.shapes)  # the margin line
    assert len(fig.data) == 8  # 4 measures x (vs mono, vs cross)

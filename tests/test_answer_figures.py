"""The Answer page's figures, drawn from a hand-built families table (data, not pixels)."""

import pandas as pd

from hybridir_core.analysis import answer_figures


def families_rows() -> pd.DataFrame:
    rows = []
    for rung, layers, mono in (("d2", 2, -0.018), ("12L", 12, -0.007)):
        for family, against, measure, est in (("P", "mono", "mono", mono), ("S1", "mono", "multi", 0.01),
                                              ("S2", "cross", "mono", 0.02)):
            rows.append(dict(family=family, rung=rung, layers=layers, comparison=f"hybrid 0.5 − {against}",
                             measure=measure, estimate=est, ci_low=est - 0.004, ci_high=est + 0.004, label="x"))
        rows.append(dict(family="S6", rung=rung, layers=layers, comparison="hybrid 0.5 − mono", measure="mono",
                         language="en", estimate=mono, ci_low=mono - 0.01, ci_high=mono + 0.01, label="worse"))
    rows.append(dict(family="S4", rung="all", layers=None, comparison="hybrid 0.5 − mono: trend per log10 params",
                     measure="mono", estimate=0.011, ci_low=0.004, ci_high=0.018, label="increases"))
    return pd.DataFrame(rows)


def test_forest_orders_rungs_by_depth_and_draws_the_margin():
    fig = answer_figures.forest(families_rows(), margin=0.01)
    mono_vs_mono = [t for t in fig.data if t.name == "hybrid − mono" and t.xaxis == "x"][0]
    assert list(mono_vs_mono.y) == ["d2", "12L"] and list(mono_vs_mono.x) == [-0.018, -0.007]
    assert any(shape.x0 == -0.01 for shape in fig.layout.shapes)  # the margin on the Mono panel


def test_scale_trend_titles_carry_the_s4_trend():
    fig = answer_figures.scale_trend(families_rows(), measures=("mono",))
    assert "trend +0.011 per decade (increases)" in fig.layout.annotations[0].text
    assert list(fig.data[0].x) == [2, 12]


def test_language_heatmap_has_one_row_per_rung():
    fig = answer_figures.language_heatmap(families_rows())
    assert list(fig.data[0].y) == ["d2", "12L"] and list(fig.data[0].x) == ["en"]

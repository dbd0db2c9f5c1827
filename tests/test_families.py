"""The declared families' rules (docs/protocol.md, section 5) on hand-built runs and rows."""

import numpy as np
import pandas as pd
import pytest

from hybridir_core.analysis import families


def ranks_of(aps: dict[str, float], langs=("en", "de")) -> pd.DataFrame:
    """A ranks table whose Mono AP of each question (in every language) is 1/k (one relevant)."""
    rows = [dict(dataset="mlqa-r", question_id=q, query_lang=lang, candidate_lang=lang,
                 rank_multi=int(round(1 / ap)), rank_in_lang=int(round(1 / ap)))
            for q, ap in aps.items() for lang in langs]
    return pd.DataFrame(rows)


def seeds(ks: np.ndarray, n: int = 3) -> list:
    """``n`` seeds of a recipe: AP 1/k, seed s one rank better on questions with index % 7 == s."""
    out = []
    for s in range(n):
        out.append((s, ranks_of({f"q{i}": 1 / max(1, k - (i % 7 == s)) for i, k in enumerate(ks)})))
    return out


def rung(layers: int, hybrid_shift: int, rng) -> families.Rung:
    ks = rng.integers(2, 5, 120)
    model = "me5-small" if layers == 12 else f"me5-small-d{layers}"
    return families.Rung(model, layers, {("hybrid", 0.5): seeds(ks + hybrid_shift), ("mono", None): seeds(ks)}, [])


def test_primary_labels_follow_the_margin_and_holm():
    rows = [dict(one_seed=False, p_noninferior=0.001, p_degraded=0.999),
            dict(one_seed=False, p_noninferior=0.999, p_degraded=0.001),
            dict(one_seed=False, p_noninferior=0.02, p_degraded=0.9),   # 0.02 * 2 after Holm > 0.025
            dict(one_seed=True, p_noninferior=0.001, p_degraded=0.9)]
    families.label_primary(rows)
    assert [r["label"] for r in rows] == ["no degradation beyond the margin", "degradation beyond the margin",
                                          "inconclusive", families.ONE_SEED]


def test_direction_words_need_the_holm_adjusted_p():
    rows = [dict(one_seed=False, measure="mono", estimate=0.01, p_value=0.02),
            dict(one_seed=False, measure="rank_distance", estimate=-30.0, p_value=0.001),
            dict(one_seed=False, measure="multi", estimate=-0.01, p_value=0.06)]
    families.label_two_sided(rows, families.direction_word)
    assert [r["label"] for r in rows] == ["better", "better", "no clear difference"]  # Holm: 0.003, 0.04, 0.06
    assert rows[0]["p_holm"] == pytest.approx(0.04) and rows[2]["p_holm"] == pytest.approx(0.06)


def test_scale_trend_is_the_least_squares_slope_of_the_rung_differences():
    rng = np.random.default_rng(0)
    rungs = [rung(2, 2, rng), rung(4, 1, rng), rung(12, 0, rng)]
    rows = {r["comparison"]: r for r in families.scale(rungs, measures=("mono",))}
    diffs = [families.linear_contrast([r.ranks("hybrid", 0.5), r.ranks("mono")], [1, -1], "mlqa-r", "mono").estimate
             for r in rungs]
    slope = np.polyfit(np.log10([2, 4, 12]), diffs, 1)[0]
    assert rows["hybrid 0.5 − mono: trend per log10 params"]["estimate"] == pytest.approx(slope)
    assert rows["hybrid 0.5 − mono: d2 → 12L"]["estimate"] == pytest.approx(diffs[2] - diffs[0])
    assert rows["hybrid 0.5 − mono: d4 → 12L"]["estimate"] == pytest.approx(diffs[2] - diffs[1])


def test_confirmatory_waits_for_its_five_seeds():
    rng = np.random.default_rng(1)
    ks = rng.integers(2, 5, 100)
    top = families.Rung("m", 12, {("hybrid", 0.75): seeds(ks, 3), ("mono", None): seeds(ks + 1, 3)}, [])
    rows = families.confirmatory([top])
    assert [r["label"] for r in rows] == ["pending: 3 of 5 seeds"] * 3
    full = families.Rung("m", 12, {("hybrid", 0.75): seeds(ks, 5), ("mono", None): seeds(ks + 1, 5)}, [])
    rows = families.confirmatory([full])
    assert rows[0]["label"] == "confirmed: non-inferior (margin 0.01)"  # hybrid clearly better on Mono here
    assert [r["family"] for r in rows[3:]] == ["C1 sensitivity (new seeds only)"] * 3


def test_labels_do_not_depend_on_the_bootstrap_seed():
    rng = np.random.default_rng(2)
    rungs = [rung(2, 1, rng), rung(12, 0, rng)]
    first = families.primary(rungs, {"n_resamples": 300, "seed": 1})
    second = families.primary(rungs, {"n_resamples": 300, "seed": 2})
    families.label_primary(first)
    families.label_primary(second)
    assert [r["label"] for r in first] == [r["label"] for r in second]
    assert [r["ci_low"] for r in first] == [r["ci_low"] for r in second]
    assert [r["bootstrap_low"] for r in first] != [r["bootstrap_low"] for r in second]  # the cross-check moves

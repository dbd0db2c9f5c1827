"""Coverage of the study's 95 % intervals, by simulation from the shipped runs' variance components.

``python -m bench.coverage [--studies 2000] [--seeds 3 5]`` (also ``python -m bench --parts
coverage``). For each contrast (hybrid(0.5) - mono at a rung, one measure), the question,
seed and seed x question components are fitted on ``results/reference``; each simulated study
draws a question set (clusters resampled from the real ones), ``n`` seeds per recipe and a
seed x question noise per run, with a true difference of 0, then asks whether the interval
covers 0. Methods: ``t2`` (the declared two-component t interval, ``hybridir_core.contrasts``)
and ``bootstrap`` (the earlier nested percentile bootstrap: seeds, then clusters, with
replacement). Writes ``bench/results/coverage-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hybridir_core.analysis import contrasts
from hybridir_core.runs import directory as runs

RESULTS = Path(__file__).resolve().parent / "results"
CONTRASTS = (("me5-small", "mono"), ("me5-small", "multi"), ("me5-small-d4", "mono"),
             ("me5-small-d2", "mono"), ("me5-small", "rank_distance"))


@dataclass(frozen=True)
class Components:
    """Per-cluster paired question effects, per-run residuals and the seed sd, on the value scale."""

    name: str
    question: np.ndarray  # (C,) centred cluster effects of A - B (x C, so mean over clusters = contrast)
    residuals: np.ndarray  # (runs, C) seed x question noise, centred within cluster
    seed_sd: float


def fit(model: str, measure: str, reference: Path, dataset: str = "mlqa-r") -> Components:
    """Fit the components of hybrid(0.5) - mono at ``model`` from the shipped runs."""
    found = {r.run_id: r for r in runs.list_runs(reference).runs}
    groups = [[found[f"{model}_{recipe}_s{s}"].ranks for s in range(3)] for recipe in ("hybrid-a0.5", "mono")]
    units = contrasts.aligned_units([contrasts.query_values(r, dataset, measure) for g in groups for r in g])
    infl = np.array([u.influence() for u in units]) * units[0].counts.shape[0]
    a, b = infl[:3], infl[3:]
    residuals = np.concatenate([a - a.mean(axis=0), b - b.mean(axis=0)]) * np.sqrt(3 / 2)
    values = np.array([u.value for u in units])
    within = np.mean(np.sum((residuals / residuals.shape[1]) ** 2, axis=1))
    seed_var = np.mean([np.var(values[:3], ddof=1), np.var(values[3:], ddof=1)]) - within
    question = a.mean(axis=0) - b.mean(axis=0)
    return Components(f"{model} {measure}", question - question.mean(), residuals, float(np.sqrt(max(seed_var, 0.0))))


def _study(comp: Components, n_seeds: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One simulated study: per recipe, (n_seeds, C) per-cluster values with a true difference 0."""
    n_c = len(comp.question)
    pick = rng.integers(0, n_c, n_c)
    groups = []
    for effect in (comp.question[pick], np.zeros(n_c)):
        rows = comp.residuals[rng.integers(0, len(comp.residuals), (n_seeds, n_c)), pick]
        shift = rng.normal(0.0, comp.seed_sd, (n_seeds, 1))
        groups.append(effect + rows * rng.choice([-1.0, 1.0], rows.shape) + shift)
    return groups


def _t2_covers(groups: list[np.ndarray]) -> bool:
    ones = np.ones((groups[0].shape[1], 1))
    units = [[contrasts.Units(run[:, None], ones) for run in g] for g in groups]
    c = contrasts.contrast_of_units(units, [1.0, -1.0], [True, True])
    return c.ci_low <= 0.0 <= c.ci_high


def _bootstrap_covers(groups: list[np.ndarray], rng: np.random.Generator, n_resamples: int) -> bool:
    n_c = groups[0].shape[1]
    w = rng.multinomial(n_c, np.full(n_c, 1 / n_c), size=n_resamples) / n_c  # (B, C)
    boot = np.zeros(n_resamples)
    for sign, g in zip((1.0, -1.0), groups):
        n = len(g)
        seeds = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples) / n  # (B, n)
        boot += sign * np.sum(seeds * (w @ g.T), axis=1)
    low, high = np.quantile(boot, [0.025, 0.975])
    return low <= 0.0 <= high


def coverage(comp: Components, n_seeds: int, n_studies: int, seed: int = 0,
             bootstrap_studies: int = 0, n_resamples: int = 1000) -> dict:
    """Share of simulated studies whose 95 % interval covers the truth, per method."""
    rng = np.random.default_rng(seed)
    t2 = [_t2_covers(_study(comp, n_seeds, rng)) for _ in range(n_studies)]
    out = {"contrast": comp.name, "seeds": n_seeds, "studies": n_studies, "t2": float(np.mean(t2)),
           "t2_mc_se": float(np.sqrt(np.mean(t2) * (1 - np.mean(t2)) / n_studies))}
    if bootstrap_studies:
        boot = [_bootstrap_covers(_study(comp, n_seeds, rng), rng, n_resamples) for _ in range(bootstrap_studies)]
        out |= {"bootstrap": float(np.mean(boot)), "bootstrap_studies": bootstrap_studies}
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.coverage", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--studies", type=int, default=2000, help="simulated studies per cell (t2 method)")
    parser.add_argument("--bootstrap-studies", type=int, default=400, help="simulated studies for the old bootstrap")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5], help="seeds per recipe")
    parser.add_argument("--reference", type=Path, default=Path("results/reference"), help="shipped runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    rows = []
    for model, measure in CONTRASTS:
        comp = fit(model, measure, args.reference)
        for n in args.seeds:
            rows.append(coverage(comp, n, args.studies, bootstrap_studies=args.bootstrap_studies))
            print(json.dumps(rows[-1]), flush=True)
    write(rows, args.out, vars(args))
    return rows


def write(rows: list[dict], out: Path, settings: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"coverage-{datetime.now(UTC):%Y-%m-%d}"
    meta = {k: str(v) for k, v in settings.items()}
    stem.with_suffix(".json").write_text(json.dumps({"settings": meta, "rows": rows}, indent=2) + "\n")
    lines = ["| contrast (hybrid 0.5 − mono) | seeds | t2 coverage (± MC se) | old bootstrap coverage |",
             "|---|---|---|---|"]
    lines += [f"| {r['contrast']} | {r['seeds']} | {r['t2']:.3f} ± {r['t2_mc_se']:.3f} ({r['studies']} studies) | "
              + (f"{r['bootstrap']:.3f} ({r['bootstrap_studies']} studies)" if "bootstrap" in r else "–") + " |"
              for r in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return stem.with_suffix(".md")


if __name__ == "__main__":
    main()


__all__ = ["Components", "asdict", "coverage", "fit", "main"]

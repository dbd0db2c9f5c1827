"""Markdown from a results dict: the ratio table, the encoding variants, the growth exponents."""

from __future__ import annotations

import re
from pathlib import Path

from . import backends, train_exact, train_speed

README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e6):
            return f"{value:.2e}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return str(value)


def ratio_table(ratios: list[dict]) -> str:
    lines = ["| part | measure | hybridir | baseline | ratio | target | met | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in ratios:
        met = {True: "yes", False: "**no**", None: "-"}[r["passed"]]
        value = r["value"]
        is_diff = "difference" in r["name"]
        if value is None:
            shown = "n/a"
        elif is_diff:
            shown = f"{value:.1e}"
        else:
            shown = f"{value:.3f}" if value < 0.1 else f"{value:.2f}x"
        lines.append(f"| {r['part']} | {r['name']} | {r['hybridir']} | {r['baseline']} | {shown} | "
                     f"{r['target']} | {met} | {r['note']} |")
    return "\n".join(lines)


def encode_table(encode: dict) -> str:
    variants = encode.get("variants", {})
    if not variants:
        return ""
    lines = ["| variant | texts/s | seconds | peak MB | Mono mAP | Cross mAP | Multi mAP | "
             "largest abs mAP change | min cosine vs float |", "|---|---|---|---|---|---|---|---|---|"]
    for name, v in variants.items():
        if "error" in v:
            lines.append(f"| {name} | error: {v['error'][:120]} | | | | | | | |")
            continue
        s, emb = v.get("summary", {}), v.get("embedding_change") or {}
        lines.append(f"| {name} | {_fmt(v.get('texts_per_second'), 1)} | {_fmt(v.get('seconds'), 1)} | "
                     f"{_fmt(v.get('peak_increase_mb'), 0)} | {_fmt(s.get('mono_map'), 4)} | "
                     f"{_fmt(s.get('cross_map'), 4)} | {_fmt(s.get('multi_map'), 4)} | "
                     f"{_fmt(v.get('max_abs_map_change'), 4)} | {_fmt(emb.get('min_cosine'), 6)} |")
    for name, why in encode.get("skipped", {}).items():
        lines.append(f"| {name} | skipped: {why} | | | | | | | |")
    return "\n".join(lines)


def eval_table(ev: dict) -> str:
    c = ev.get("contenders", {})
    if not c:
        return ""
    lines = ["| contender | seconds | peak increase MB | process peak MB | Mono | Cross | Multi |",
             "|---|---|---|---|---|---|---|"]
    labels = {
        "hybridir_e2e": "hybridir end to end (encode + metrics)",
        "st_plain_encode": "ST plain encode of the same texts",
        "hybridir_metrics": "hybridir metric stage (cached embeddings)",
        "sklearn_reference": "(b) numpy + sklearn AP (cached)",
        "st_evaluator_untruncated": "(a) ST IR evaluators, untruncated MAP (cached)",
        "st_evaluator_default": "(a) ST IR evaluators, default MAP@100 (cached)",
        "st_evaluator_e2e": "(a) ST IR evaluators with their own encoding",
    }
    for key, label in labels.items():
        v = c.get(key)
        if not v:
            continue
        if "error" in v:
            lines.append(f"| {label} | error: {v['error'][:120]} | | | | | |")
            continue
        s = v.get("summary", {})
        seconds = _fmt(v.get("seconds"), 2) + (" (estimated)" if v.get("estimated") else "")
        lines.append(f"| {label} | {seconds} | {_fmt(v.get('peak_increase_mb'), 0)} | "
                     f"{_fmt(v.get('process_peak_rss_mb'), 0)} | {_fmt(s.get('mono_map'), 4)} | "
                     f"{_fmt(s.get('cross_map'), 4)} | {_fmt(s.get('multi_map'), 4)} |")
    return "\n".join(lines)


def growth_table(scaling: dict) -> str:
    g = scaling.get("growth", {})
    if not g:
        return ""
    real, syn = scaling.get("real", {}), scaling.get("synthetic", {})
    rows = {"real_fixed_queries": real.get("fixed_queries"),
            "real_queries_equal_candidates": real.get("queries_equal_candidates"),
            "synthetic_faiss": syn.get("faiss"), "synthetic_exact_ranks": syn.get("exact_ranks")}
    labels = {"real_fixed_queries": "hybridir metrics, real pool, fixed queries",
              "real_queries_equal_candidates": "hybridir metrics, real pool, queries = candidates",
              "synthetic_faiss": "FAISS exact top-k (build + search), synthetic",
              "synthetic_exact_ranks": "ranking.exact_ranks, synthetic"}
    lines = ["| series | pool sizes | seconds (largest) | peak MB (largest) | time exponent | "
             "memory exponent |", "|---|---|---|---|---|---|"]
    for key, label in labels.items():
        data = [r for r in (rows[key] or []) if r]
        t, m = g.get(f"{key}_time"), g.get(f"{key}_memory")
        if not data or not t:
            continue
        sizes = f"{data[0]['pool']:,} - {data[-1]['pool']:,}"
        queries = f" ({data[0]['queries']:,} - {data[-1]['queries']:,} queries)" if "queries" in data[0] else ""
        lines.append(f"| {label} | {sizes}{queries} | {_fmt(data[-1]['seconds'], 3)} | "
                     f"{_fmt(data[-1]['peak_increase_mb'], 0)} | {t['exponent']} ({t['reading']}) | "
                     f"{m['exponent'] if m else 'n/a'} |")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The whole results section (machine noted)."""
    m, model = results["machine"], results["model"]
    parts = results.get("parts", {})
    head = [
        f"Run {results['created']} on **{results['machine_label']}**: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB RAM, {m['platform']}; load average at start "
        f"{m.get('load_average_at_start')}. Model `{model['used']}`"
        + (f" (requested `{model['requested']}`: {model['fallback_reason']})" if model.get("fallback_reason") else "")
        + f". Mode `{results['profile']['name']}`; command `{results['command']}`; "
        f"{results['wall_seconds']:.0f} s in all. The machine is shared: timings carry "
        "some noise.",
        "",
        ratio_table(results.get("ratios", [])),
    ]
    ev = parts.get("eval", {})
    if ev.get("contenders"):
        chk = ev.get("checks", {}).get("map_equals_reference", {})
        ties = chk.get("exact_ties") or {}
        head += ["", f"Evaluation contenders ({_scope(ev.get('data'))}):", "", eval_table(ev), "",
                 f"mAP check against (b): largest abs difference {_fmt(chk.get('max_abs_diff'))} over "
                 f"{chk.get('cells', {}).get('n_compared')} cells and 6 aggregates "
                 f"({'passed' if chk.get('passed') else 'FAILED'}); exact score ties: "
                 f"{ties.get('relevant_pairs_tied')} (query, relevant candidate) pairs in "
                 f"{ties.get('queries_with_ties')} queries. ST untruncated vs (b): largest abs difference "
                 f"{_fmt(ev.get('checks', {}).get('st_untruncated_vs_reference', {}).get('max_abs_diff'))}."]
    enc = parts.get("encode", {})
    if enc.get("variants"):
        head += ["", f"Encoding variants ({_scope(enc.get('data'))}; mAP change against `hybridir`):", "",
                 encode_table(enc)]
    tr = parts.get("train", {})
    if tr.get("skipped"):
        head += ["", f"Training: skipped ({tr['skipped']})."]
    sc = parts.get("scaling", {})
    if sc.get("growth"):
        head += ["", "Scaling (time exponent = slope of log time on log pool size; 1 linear, 2 quadratic):",
                 "", growth_table(sc)]
    if parts.get("backends", {}).get("datasets"):
        head += ["", backends.markdown(parts["backends"]).replace("# ", "Part 5, ", 1)]
    if parts.get("train-speed", {}).get("exact"):
        head += ["", train_exact.markdown(parts["train-speed"]["exact"]).replace("## ", "Part 6, ", 1)]
    if parts.get("train-speed", {}).get("throughput"):
        head += ["", train_speed.markdown(parts["train-speed"]).replace("# ", "Part 6, ", 1)]
    return "\n".join(head) + "\n"


def _scope(data: dict | None) -> str:
    if not data:
        return ""
    langs = data.get("languages")
    return (f"{data['dataset']}, {'+'.join(langs) if langs else 'all languages'}, "
            + (f"{data['limit_per_lang']} questions per language" if data.get('limit_per_lang') else "all questions"))


def update_readme(readme: Path, section: str) -> None:
    """Replace the text between the results markers of ``readme`` with ``section``."""
    text = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{section}{README_END}"
    if README_START in text and README_END in text:
        text = re.sub(re.escape(README_START) + r".*?" + re.escape(README_END), lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")

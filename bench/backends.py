"""Part 5: encoder backends against plain ``SentenceTransformer.encode`` on whole datasets (issue 12).

``python -m bench --full --parts backends`` (or, for other backend lists,
``python -m bench.backends --model me5-small --datasets mlqa-r xquad-r``) encodes every
question and candidate of each dataset (prompts included, the same texts and batch size for
every contender, one after another in this process after a warm-up), then ranks them with
hybridir's exact metrics. It reports texts/s, the ratio to plain encode, the smallest cosine to
the plain fp32 embeddings and every Mono / Cross / Multi mAP (macro and micro) difference, and
writes ``bench/results/backends-<date>-<model>-<machine>.{json,md}`` with the CPU model and flags
(the machine label keeps two CPUs measured on one day apart).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from hybridir_core.data.lareqa import load_lareqa
from hybridir_core.devices import cpu_record
from hybridir_core.evaluation import evaluate, ranking
from hybridir_core.models import encoders
from hybridir_core.models.registry import load_model
from hybridir_core.paths import REPO_ROOT

from .common import DataSpec, Profile, load_data, machine_info, machine_label, ratio, run_task, write_result

MAP_KEEP = 0.002
TARGET_RATIO = 2.0
KEYS = ("mono_map", "cross_map", "multi_map", "mono_map_micro", "cross_map_micro", "multi_map_micro")


def plain_encode(model, texts, prompt, batch_size):
    return model.encode(texts, prompt=prompt or None, batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)


def timed(fn, *args) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def aggregates(data, q_emb, c_emb) -> dict[str, float]:
    block_of = {lang: i for i, lang in enumerate(data.languages)}
    blocks = ranking.exact_ranks(q_emb, c_emb, data.relevant_candidates(),
                                 data.candidates["lang"].map(block_of).to_numpy())
    table = evaluate.ranks_table(data, blocks)
    _, summary = evaluate.summarise(table, data.questions.groupby("lang").size().to_dict())
    return {k: summary[k] for k in KEYS}


def run_dataset(loaded, data, name: str, backends: list[str], batch_size: int) -> dict:
    """Plain encode, then each backend, on every question and candidate of ``data``."""
    model, spec = loaded.model, loaded.spec
    q_texts, c_texts = data.questions["text"].tolist(), data.candidates["text"].tolist()
    n_texts = len(q_texts) + len(c_texts)
    plain_encode(model, q_texts[:16], spec.query_prompt, batch_size)  # warm-up
    (q0, t_q), (c0, t_c) = (timed(plain_encode, model, q_texts, spec.query_prompt, batch_size),
                            timed(plain_encode, model, c_texts, spec.passage_prompt, batch_size))
    base = aggregates(data, q0, c0)
    out = {"n_texts": n_texts, "threads": torch.get_num_threads(), "plain": {"seconds": round(t_q + t_c, 2),
                                         "texts_per_second": round(n_texts / (t_q + t_c), 2), **base}}
    for backend in backends:
        started = time.perf_counter()
        if backend == "auto":
            encoder = encoders.choose(model, batch_size, encoders.probe(c_texts), spec.passage_prompt,
                                      loaded.local_dir)
        else:
            encoder = encoders.build(backend, model, batch_size, loaded.local_dir)
        encoder.encode(q_texts[:16], spec.query_prompt)  # warm-up (an ONNX export counts above)
        prepare = time.perf_counter() - started
        (q, t_q), (c, t_c) = (timed(encoder.encode, q_texts, spec.query_prompt),
                              timed(encoder.encode, c_texts, spec.passage_prompt))
        got = aggregates(data, q, c)
        cosine = float(min((q * q0).sum(1).min(), (c * c0).sum(1).min()))
        diffs = {k: round(got[k] - base[k], 6) for k in KEYS}
        out[backend] = {"chosen": encoder.name, "prepare_seconds": round(prepare, 2),
                        "seconds": round(t_q + t_c, 2), "texts_per_second": round(n_texts / (t_q + t_c), 2),
                        "ratio_to_plain": round((out["plain"]["seconds"]) / (t_q + t_c), 3),
                        "min_cosine": cosine, "map_diff": diffs,
                        "max_abs_map_diff": max(abs(v) for v in diffs.values()),
                        "keeps_map": max(abs(v) for v in diffs.values()) <= MAP_KEEP,
                        "info": {k: v for k, v in encoder.info.items() if k != "model_dir"}}
        print(f"{name} {backend}->{encoder.name}: {out[backend]['ratio_to_plain']}x, "
              f"max |Δ mAP| {out[backend]['max_abs_map_diff']:.5f}, min cos {cosine:.6f}", flush=True)
    return out


def task_dataset(model: str, data: dict, label: str, backends: list[str], batch_size: int) -> dict:
    """One dataset slice, plain encode and every backend, in a fresh process (``run_task``)."""
    return run_dataset(load_model(model), load_data(data), label, backends, batch_size)


def data_label(spec: DataSpec) -> str:
    """``mlqa-r`` for a whole dataset, ``mlqa-r (de+en, 100 per language)`` for a slice."""
    if not spec.languages and not spec.limit_per_lang:
        return spec.dataset
    langs = "+".join(spec.languages) if spec.languages else "all languages"
    return f"{spec.dataset} ({langs}" + (f", {spec.limit_per_lang} per language)" if spec.limit_per_lang else ")")


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True) -> dict:
    """Part 5: every backend of ``profile.backends`` on each of ``profile.backends_data``; the ratios."""
    res: dict = {"model": model, "cpu": machine_info()["cpu"] or "unknown CPU", "date": date.today().isoformat(),
                 "bf16_flags": cpu_record()["bf16_flags"], "batch_size": profile.batch_size, "datasets": {}}
    for spec in profile.backends_data:
        label = data_label(spec)
        print(f"part 5: {label}, plain encode then {', '.join(profile.backends)}", flush=True)
        res["datasets"][label] = run_task("bench.backends:task_dataset", dict(
            model=model, data=spec.to_dict(), label=label, backends=list(profile.backends),
            batch_size=profile.batch_size), workdir, isolate)
    res["threads"] = next((d.get("threads") for d in res["datasets"].values() if "threads" in d), None)
    res["ratios"] = [vars(r) for label, ds in res["datasets"].items() if "auto" in ds for r in ratios(label, ds)]
    return res


def ratios(label: str, ds: dict) -> list:
    """The default encoder's speed-up over plain encode, and its largest mAP difference."""
    auto, plain = ds["auto"], ds["plain"]
    speed = ratio("backends", f"default encoder vs plain encode, {label} (texts/s)",
                  auto["texts_per_second"], plain["texts_per_second"], ">=", TARGET_RATIO,
                  f"{auto['texts_per_second']} texts/s ({auto['chosen']})", f"{plain['texts_per_second']} texts/s",
                  f"{ds['n_texts']:,} texts, min cosine {auto['min_cosine']:.5f}")
    drift = ratio("backends", f"largest mAP difference, default encoder vs fp32, {label}",
                  auto["max_abs_map_diff"], 1.0, "<=", MAP_KEEP, auto["chosen"], "plain fp32",
                  "Mono / Cross / Multi, macro and micro")
    return [speed, drift]


def _backend_rows(ds: dict) -> dict:
    """A dataset's measured backends; the plain baseline and the isolated worker's fields
    (``n_texts``, ``threads``, ``process_peak_rss_mb``, ...) are not backends."""
    return {name: r for name, r in ds.items() if isinstance(r, dict) and "map_diff" in r}


def markdown(result: dict) -> str:
    lines = [f"# Encoder backends vs plain encode ({result['model']}, {result['cpu']})", "",
             f"CPU flags used by the gate: {', '.join(result['bf16_flags']) or 'none'}; "
             f"torch threads {result['threads']}; batch {result['batch_size']}; {result['date']}.", "",
             "| dataset | backend (chosen) | texts/s | plain texts/s | ratio | min cosine | max abs Δ mAP "
             "| Δ Mono / Cross / Multi (macro) | kept within 0.002 |", "|---|---|---|---|---|---|---|---|---|"]
    for name, ds in result["datasets"].items():
        if "error" in ds:
            lines.append(f"| {name} | error: {ds['error'][:160]} | | | | | | | |")
            continue
        for backend, r in _backend_rows(ds).items():
            d = r["map_diff"]
            lines.append(f"| {name} | {backend} ({r['chosen']}) | {r['texts_per_second']} | "
                         f"{ds['plain']['texts_per_second']} | {r['ratio_to_plain']:.2f}x | {r['min_cosine']:.6f} | "
                         f"{r['max_abs_map_diff']:.5f} | {d['mono_map']:+.5f} / {d['cross_map']:+.5f} / "
                         f"{d['multi_map']:+.5f} | {'yes' if r['keeps_map'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="me5-small")
    parser.add_argument("--datasets", nargs="+", default=["mlqa-r", "xquad-r"])
    parser.add_argument("--backends", nargs="+", default=["auto", "onnx", "onnx-int8"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args()
    loaded = load_model(args.model)
    machine = machine_info()
    result = {"model": args.model, "cpu": machine["cpu"] or "unknown CPU", "date": date.today().isoformat(),
              "bf16_flags": cpu_record()["bf16_flags"],
              "threads": torch.get_num_threads(), "batch_size": args.batch_size,
              "datasets": {name: run_dataset(loaded, load_lareqa(name), name, args.backends, args.batch_size)
                           for name in args.datasets}}
    name = f"backends-{result['date']}-{args.model}-{machine_label(machine)}"
    write_result(args.out, name, result, markdown(result))


if __name__ == "__main__":
    main()

"""Part 2: encoding throughput and faster CPU inference that keeps the results.

Every variant encodes the same texts (each question and candidate of ``profile.encode_data``,
as listed, prompts included) in its own process; throughput is texts per second of that
list. The embeddings are then scored with hybridir's metrics (not timed) and compared with
the float ``hybridir`` variant: Mono/Cross/Multi mAP change and the largest embedding
difference.

Variants:
    st_plain / st_plain_b32: ``SentenceTransformer.encode`` at hybridir's batch size / at the
        library's default (32).
    hybridir: ``evaluate.encode_texts`` (each distinct text once, longest first, slices).
    hybridir_<backend>: ``EvalConfig.backend`` = bucketed, int8, bf16, onnx, auto (see
        ``hybridir_core.models.encoders``; preparing a backend counts in its time, an ONNX export
        only once since the graph is cached).
    sentence-transformers' ONNX / OpenVINO backends: see ``SKIPPED``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import DataSpec, Profile, load_bench_model, load_data, ratio, run_task, stage
from .eval_bench import cached_loaded, cells_from_matrix, hybridir_metrics, log

MAP_KEEP = 0.002
HYBRIDIR_VARIANTS = {"hybridir": "torch", "hybridir_bucketed": "bucketed", "hybridir_int8": "int8",
                     "hybridir_bf16": "bf16", "hybridir_onnx": "onnx", "hybridir_auto": "auto"}
ST_VARIANTS = {"st_plain": None, "st_plain_b32": 32}
SKIPPED = {
    "st_onnx": "sentence-transformers' ONNX backend needs optimum-onnx; its only release (0.1.0) "
               "resolves to transformers 4.57.6, and the project pins transformers 5.24.0 "
               "(pip install --dry-run 'optimum-onnx[onnxruntime]').",
    "st_openvino": "sentence-transformers' OpenVINO backend needs optimum-intel[openvino] 2.2.0, "
                   "which pulls transformers 5.5.4 and a CUDA build of torch 2.14.1 over the "
                   "pinned CPU torch 2.13.0 (pip install --dry-run).",
}


def task_encode_variant(model: str, data: dict, variant: str, batch_size: int, chunk_size: int,
                        workdir: str) -> dict:
    """Encode the slice with one variant (timed), save the embeddings, score them (untimed)."""
    from hybridir_core.evaluation import evaluate

    spec = DataSpec.from_dict(data)
    loaded = load_bench_model(model)
    d = load_data(spec)
    qp, pp = loaded.spec.query_prompt, loaded.spec.passage_prompt
    q_texts, c_texts = d.questions["text"].tolist(), d.candidates["text"].tolist()
    out: dict = {"variant": variant}
    # Warm-up (first-call allocations, thread pools) outside the timed stage.
    loaded.model.encode(q_texts[:8], prompt=qp, batch_size=8, show_progress_bar=False)
    if variant in ST_VARIANTS:
        bs = ST_VARIANTS[variant] or batch_size
        with stage(out, "encode"):
            kwargs = dict(batch_size=bs, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
            q_emb = loaded.model.encode(q_texts, prompt=qp, **kwargs)
            c_emb = loaded.model.encode(c_texts, prompt=pp, **kwargs)
        out["batch_size"] = bs
        meta = {"model": model, "query_prompt": qp, "passage_prompt": pp}
        _, matrix, summary, _ = hybridir_metrics(cached_loaded(d, q_emb, c_emb, meta), d, spec,
                                                 batch_size, chunk_size)
    elif variant in HYBRIDIR_VARIANTS:
        captured: list[np.ndarray] = []
        original = evaluate.encode_texts

        def recording(*args, **kwargs):
            emb = original(*args, **kwargs)
            captured.append(emb)
            return emb

        evaluate.encode_texts = recording
        try:
            with stage(out, "encode_and_metrics"):
                result, matrix, summary, _ = hybridir_metrics(
                    loaded, d, spec, batch_size, chunk_size, backend=HYBRIDIR_VARIANTS[variant])
        finally:
            evaluate.encode_texts = original
        q_emb, c_emb = captured
        out["encode"] = {"seconds": round(result.encode_seconds, 4),
                         "peak_increase_mb": out["encode_and_metrics"]["peak_increase_mb"]}
        out["batch_size"] = batch_size
    else:
        raise ValueError(f"unknown variant {variant!r}")
    seconds = out["encode"]["seconds"]
    n_texts = len(q_texts) + len(c_texts)
    np.save(Path(workdir) / f"{variant}.q.npy", np.asarray(q_emb, dtype=np.float32))
    np.save(Path(workdir) / f"{variant}.c.npy", np.asarray(c_emb, dtype=np.float32))
    cells = cells_from_matrix(matrix)
    out.update(seconds=seconds, n_texts=n_texts, texts_per_second=round(n_texts / seconds, 2),
               peak_increase_mb=out["encode"]["peak_increase_mb"],
               summary={k: summary[k] for k in ("mono_map", "cross_map", "multi_map")},
               cells=cells, model=loaded.spec.name)
    return out


def _embedding_change(workdir: Path, variant: str, reference: str) -> dict | None:
    try:
        a = [np.load(workdir / f"{variant}.{p}.npy") for p in ("q", "c")]
        b = [np.load(workdir / f"{reference}.{p}.npy") for p in ("q", "c")]
    except OSError:
        return None
    x, y = np.vstack(a), np.vstack(b)
    cos = np.sum(x * y, axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return {"max_abs_diff": float(np.abs(x - y).max()), "min_cosine": float(cos.min()),
            "mean_cosine": float(cos.mean())}


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True,
        part1: dict | None = None) -> dict:
    """Part 2: every variant on ``profile.encode_data``; throughput, mAP change, ratios."""
    spec = profile.encode_data
    workdir = workdir / "encode"
    workdir.mkdir(parents=True, exist_ok=True)
    res: dict = {"data": spec.to_dict(), "variants": {}, "skipped": dict(SKIPPED),
                 "repeats": profile.encode_repeats}
    # Rounds of every variant in turn; each variant keeps its fastest round, so a burst of
    # load from another process on a shared machine does not decide a ratio.
    for round_ in range(profile.encode_repeats):
        for variant in ("hybridir", "st_plain", "st_plain_b32", *list(HYBRIDIR_VARIANTS)[1:]):
            log(f"part 2: encoding with {variant} (round {round_ + 1}/{profile.encode_repeats})")
            out = run_task("bench.encode_bench:task_encode_variant", dict(
                model=model, data=spec.to_dict(), variant=variant, batch_size=profile.batch_size,
                chunk_size=profile.chunk_size, workdir=str(workdir)), workdir, isolate)
            best = res["variants"].get(variant)
            rounds = (best or {}).get("seconds_per_round", [])
            if "seconds" in out:
                out["seconds_per_round"] = rounds + [out["seconds"]]
                if best is not None and "seconds" in best and best["seconds"] <= out["seconds"]:
                    best["seconds_per_round"] = out["seconds_per_round"]
                    continue
            elif best is not None:
                continue
            res["variants"][variant] = out
    ref = res["variants"]["hybridir"]
    for name, v in res["variants"].items():
        if "summary" in v and "summary" in ref:
            v["map_change"] = {k: round(v["summary"][k] - ref["summary"][k], 6) for k in ref["summary"]}
            v["max_abs_map_change"] = max(abs(x) for x in v["map_change"].values())
            v["keeps_map"] = v["max_abs_map_change"] <= MAP_KEEP
            v["embedding_change"] = _embedding_change(workdir, name, "hybridir")
    for path in workdir.glob("*.npy"):
        path.unlink()
    res["best"] = best_variant(res["variants"])
    res["ratios"] = [vars(r) for r in ratios(res, part1)]
    return res


def best_variant(variants: dict) -> str | None:
    """The fastest hybridir variant whose Mono/Cross/Multi mAP stay within ``MAP_KEEP``."""
    kept = [(v["texts_per_second"], name) for name, v in variants.items()
            if name.startswith("hybridir") and v.get("keeps_map") and "texts_per_second" in v]
    return max(kept)[1] if kept else None


def ratios(res: dict, part1: dict | None) -> list:
    v = res["variants"]
    hy, st, st32 = v.get("hybridir", {}), v.get("st_plain", {}), v.get("st_plain_b32", {})
    spec = DataSpec.from_dict(res["data"])
    scope = f"{spec.dataset} {'+'.join(spec.languages or ())}, {spec.limit_per_lang} q/lang"
    out = []
    if part1 and "hybridir_e2e" in part1.get("contenders", {}):
        e2e, plain = part1["contenders"]["hybridir_e2e"], part1["contenders"].get("st_plain_encode", {})
        if "encode_seconds" in e2e and "seconds" in plain:
            out.append(ratio("encode", "encode_texts vs plain encode, part 1's texts",
                             plain["seconds"], e2e["encode_seconds"], ">=", 1.0,
                             f"{e2e['encode_seconds']} s", f"{plain['seconds']} s",
                             f"{e2e['n_texts']} texts ({e2e['n_distinct_texts']} distinct), "
                             f"batch {plain.get('batch_size')}"))
    out.append(ratio("encode", "encode_texts vs plain encode (same batch size)",
                     hy.get("texts_per_second"), st.get("texts_per_second"), ">=", 1.0,
                     f"{hy.get('texts_per_second')} texts/s", f"{st.get('texts_per_second')} texts/s", scope))
    r = ratio("encode", "encode_texts vs plain encode (ST default batch 32)",
              hy.get("texts_per_second"), st32.get("texts_per_second"), ">=", 1.0,
              f"{hy.get('texts_per_second')} texts/s", f"{st32.get('texts_per_second')} texts/s",
              "information")
    r.target, r.passed = "-", None
    out.append(r)
    for name in list(HYBRIDIR_VARIANTS)[1:]:
        x = v.get(name, {})
        change = x.get("max_abs_map_change")
        r = ratio("encode", f"{name.removeprefix('hybridir_')} vs plain encode (same batch size)",
                  x.get("texts_per_second"), st.get("texts_per_second"), ">=", 1.0,
                  f"{x.get('texts_per_second')} texts/s", f"{st.get('texts_per_second')} texts/s",
                  f"largest abs mAP change {change:.4f} ({'kept' if x.get('keeps_map') else 'NOT kept'} "
                  f"within {MAP_KEEP})" if change is not None else "")
        r.target, r.passed = "-", None
        out.append(r)
    best = res.get("best")
    if best:
        x = v[best]
        out.append(ratio("encode", f"best option within {MAP_KEEP} mAP ({best}) vs plain encode",
                         x.get("texts_per_second"), st.get("texts_per_second"), ">=", 1.0,
                         f"{x.get('texts_per_second')} texts/s", f"{st.get('texts_per_second')} texts/s",
                         "EvalConfig.backend (auto chooses among them at run time)"))
    return out

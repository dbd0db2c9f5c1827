"""Part 1: hybridir's evaluation against what a researcher would otherwise run.

Contenders, each in its own process:

* ``hybridir`` end to end: ``evaluate.evaluate_dataset`` (encode every distinct text once,
  exact ranks) + ``evaluate.summarise`` (all cells, the pool, rank distances), with the real
  model. Its embeddings are saved; every other contender reuses them.
* ``hybridir`` metrics only: the same two calls on the cached embeddings.
* (a) sentence-transformers' ``InformationRetrievalEvaluator``, wired as a user would: one per
  (query language, candidate language) pair plus the pooled one. ``untruncated`` sets
  ``map_at_k`` to the size of the candidate pool, so MAP is the same untruncated AP as
  hybridir's (ties aside); ``default`` keeps the library defaults (MAP@100, truncated, a
  different number, shown for speed only). Untruncated MAP keeps one result dict per
  (query, candidate), so the pooled evaluator runs in shards of at most ``st_pool_shard``
  queries of one language, given the pool's embeddings once (``corpus_embeddings``).
* (b) a LAReQA-style reference: numpy dot products and ``sklearn.metrics.
  average_precision_score`` per query and cell.

The check: every cell's mAP and the Mono/Cross/Multi aggregates of hybridir equal (b)'s
within 1e-6. Exact score ties (identical texts) are counted: sklearn groups tied scores,
hybridir ranks a relevant candidate below tied non-relevant ones; both agree when one
relevant candidate is in a tie.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (
    BenchLoaded,
    BenchSpec,
    DataSpec,
    Profile,
    load_bench_model,
    load_data,
    model_info,
    ratio,
    run_task,
    stage,
)

MAP_TOLERANCE = 1e-6


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- encoders


class RecordingModel:
    """Forwards to a model and keeps every embedding it returns, keyed by (prompt, text)."""

    def __init__(self, model) -> None:
        self._model = model
        self.seen: dict[tuple[str | None, str], np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self._model, name)

    def encode(self, texts, prompt=None, **kwargs):
        emb = self._model.encode(texts, prompt=prompt, **kwargs)
        for text, vec in zip(texts, emb):
            self.seen[(prompt or None, text)] = vec
        return emb


class CachedEncoder:
    """An encoder that looks texts up in saved embeddings (per prompt)."""

    def __init__(self, tables: dict[str | None, tuple[dict[str, int], np.ndarray]], dim: int) -> None:
        self.tables = tables
        self.dim = dim

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, prompt=None, **kwargs):
        index, matrix = self.tables[prompt or None]
        return matrix[[index[t] for t in texts]]


def _card():
    class _Card:
        @staticmethod
        def set_evaluation_metrics(*args, **kwargs) -> None:
            return None

    return _Card()


class CachedSTModel:
    """What ``InformationRetrievalEvaluator`` calls on a model, served from saved embeddings."""

    similarity_fn_name = "cosine"

    def __init__(self, q_texts, q_emb, c_texts, c_emb) -> None:
        self.q_index = {t: i for i, t in enumerate(q_texts)}
        self.c_index = {t: i for i, t in enumerate(c_texts)}
        self.q_emb, self.c_emb = q_emb, c_emb
        self.model_card_data = _card()

    def encode_query(self, inputs, **kwargs):
        import torch

        return torch.from_numpy(self.q_emb[[self.q_index[t] for t in inputs]])

    def encode_document(self, inputs, **kwargs):
        import torch

        return torch.from_numpy(self.c_emb[[self.c_index[t] for t in inputs]])

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)


def embedding_paths(workdir: str | Path) -> tuple[Path, Path, Path]:
    workdir = Path(workdir)
    return workdir / "q_emb.npy", workdir / "c_emb.npy", workdir / "emb_meta.json"


def load_cached(data: DataSpec | dict, workdir: str | Path):
    """The slice, its saved query/candidate embeddings and the prompts they were made with."""
    q_path, c_path, meta_path = embedding_paths(workdir)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["data"] != (data.to_dict() if isinstance(data, DataSpec) else data):
        raise ValueError(f"{meta_path}: embeddings are of another data slice")
    return load_data(data), np.load(q_path), np.load(c_path), meta


def cached_loaded(d, q_emb: np.ndarray, c_emb: np.ndarray, meta: dict) -> BenchLoaded:
    """A ``LoadedModel``-like object whose encoder serves the saved embeddings."""
    qp, pp = meta.get("query_prompt"), meta.get("passage_prompt")
    tables: dict = {}
    for prompt, texts, matrix in ((qp, d.questions["text"], q_emb), (pp, d.candidates["text"], c_emb)):
        index, mat = tables.get(prompt or None, ({}, None))
        offset = 0 if mat is None else len(mat)
        index.update({t: offset + i for i, t in enumerate(texts)})
        tables[prompt or None] = (index, matrix if mat is None else np.vstack([mat, matrix]))
    return BenchLoaded(CachedEncoder(tables, q_emb.shape[1]), BenchSpec(meta["model"], qp, pp))


def eval_config(model: str, data: DataSpec, batch_size: int, chunk_size: int, **extra):
    """The evaluation of one bench slice; encoding is the torch reference path unless ``backend``
    says otherwise (the metric stage is measured here; encoders in encode_bench)."""
    from hybridir_core.config import EvalConfig

    extra.setdefault("backend", "torch")
    return EvalConfig(model=model, datasets=(data.dataset,), languages=data.languages,
                      limit_per_lang=data.limit_per_lang, batch_size=batch_size,
                      chunk_size=chunk_size, data_dir=data.data_dir, **extra)


def cells_from_matrix(matrix: pd.DataFrame) -> dict[str, float]:
    return {f"{r.query_lang}>{r.candidate_lang}": float(r.map) for r in matrix.itertuples()}


def aggregates_from_cells(cells: dict[str, float]) -> dict[str, float]:
    """Mono (diagonal), Cross (off-diagonal), Multi (pool): macro means over cells."""
    mono, cross, multi = [], [], []
    for key, value in cells.items():
        x, y = key.split(">")
        (multi if y == "multi" else mono if x == y else cross).append(value)
    return {"mono_map": float(np.mean(mono)) if mono else float("nan"),
            "cross_map": float(np.mean(cross)) if cross else float("nan"),
            "multi_map": float(np.mean(multi)) if multi else float("nan")}


def hybridir_metrics(loaded, d, data: DataSpec, batch_size: int, chunk_size: int, **config_extra):
    """``evaluate_dataset`` + ``summarise``: (result, matrix, summary, summarise seconds)."""
    from hybridir_core.evaluation import evaluate

    config = eval_config(loaded.spec.name, data, batch_size, chunk_size, **config_extra)
    result = evaluate.evaluate_dataset(loaded, d, config)
    started = time.perf_counter()
    matrix, summary = evaluate.summarise(result.ranks, d.questions.groupby("lang").size().to_dict())
    return result, matrix, summary, time.perf_counter() - started


# --------------------------------------------------------------------------- tasks (children)


def task_hybridir_e2e(model: str, data: dict, batch_size: int, chunk_size: int, workdir: str,
                      save_embeddings: bool = True) -> dict:
    """hybridir with the real model: encode + exact ranks + summary; saves the embeddings."""
    from hybridir_core.evaluation import evaluate  # noqa: F401  (imported outside the timed stage)

    spec = DataSpec.from_dict(data)
    out: dict = {}
    with stage(out, "load"):
        loaded = load_bench_model(model)
        d = load_data(spec)
    recorder = RecordingModel(loaded.model)
    proxy = BenchLoaded(recorder, loaded.spec, loaded.local_dir)
    with stage(out, "total"):
        result, matrix, summary, summarise_s = hybridir_metrics(proxy, d, spec, batch_size, chunk_size)
    qp, pp = loaded.spec.query_prompt, loaded.spec.passage_prompt
    q_emb = np.stack([recorder.seen[(qp or None, t)] for t in d.questions["text"]]).astype(np.float32)
    c_emb = np.stack([recorder.seen[(pp or None, t)] for t in d.candidates["text"]]).astype(np.float32)
    if save_embeddings:
        q_path, c_path, meta_path = embedding_paths(workdir)
        np.save(q_path, q_emb)
        np.save(c_path, c_emb)
        meta_path.write_text(json.dumps({"model": model, "query_prompt": qp, "passage_prompt": pp,
                                         "data": spec.to_dict()}), encoding="utf-8")
    n_texts = len(d.questions) + len(d.candidates)
    n_distinct = d.questions["text"].nunique() + d.candidates["text"].nunique()
    out.update(
        model=model_info(loaded), n_questions=len(d.questions), n_candidates=len(d.candidates),
        n_texts=n_texts, n_distinct_texts=int(n_distinct),
        encode_seconds=round(result.encode_seconds, 4),
        metrics_seconds=round(result.metrics_seconds + summarise_s, 4),
        exact_ranks_seconds=round(result.metrics_seconds, 4), summarise_seconds=round(summarise_s, 4),
        seconds=out["total"]["seconds"], peak_increase_mb=out["total"]["peak_increase_mb"],
        summary=summary, cells=cells_from_matrix(matrix), n_cells=int(len(matrix)),
    )
    return out


def task_st_plain_encode(model: str, data: dict, batch_size: int, workdir: str | None = None) -> dict:
    """sentence-transformers' plain ``encode`` of every question and candidate text, as listed."""
    spec = DataSpec.from_dict(data)
    out: dict = {}
    loaded = load_bench_model(model)
    d = load_data(spec)
    qp, pp = loaded.spec.query_prompt, loaded.spec.passage_prompt
    q_texts, c_texts = d.questions["text"].tolist(), d.candidates["text"].tolist()
    with stage(out, "total"):
        q = loaded.model.encode(q_texts, prompt=qp, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        started = time.perf_counter()
        c = loaded.model.encode(c_texts, prompt=pp, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        out["candidates_seconds"] = round(time.perf_counter() - started, 4)
    out.update(n_texts=len(q_texts) + len(c_texts), seconds=out["total"]["seconds"],
               peak_increase_mb=out["total"]["peak_increase_mb"], batch_size=batch_size)
    out["texts_per_second"] = round(out["n_texts"] / out["seconds"], 2)
    # What the ST evaluators encode, per language (a single-language batch pads differently
    # from a mixed one): the basis of the end-to-end estimate. Not part of the timing above.
    per_lang: dict = {"questions": {}, "candidates": {}}
    for lang in d.languages:
        for kind, frame, prompt in (("questions", d.questions, qp), ("candidates", d.candidates, pp)):
            texts = frame.loc[frame["lang"] == lang, "text"].tolist()
            started = time.perf_counter()
            loaded.model.encode(texts, prompt=prompt, batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            per_lang[kind][lang] = round(time.perf_counter() - started, 4)
    out["seconds_per_language"] = per_lang
    if workdir and embedding_paths(workdir)[0].is_file():
        q_ref, c_ref = np.load(embedding_paths(workdir)[0]), np.load(embedding_paths(workdir)[1])
        out["max_abs_diff_vs_hybridir"] = float(max(np.abs(q - q_ref).max(), np.abs(c - c_ref).max()))
    return out


def task_hybridir_metrics(data: dict, workdir: str, batch_size: int = 64, chunk_size: int = 512) -> dict:
    """hybridir's metric stage (exact ranks + summary) on the saved embeddings."""
    from hybridir_core.evaluation import evaluate  # noqa: F401  (imported outside the timed stage)

    spec = DataSpec.from_dict(data)
    d, q_emb, c_emb, meta = load_cached(spec, workdir)
    loaded = cached_loaded(d, q_emb, c_emb, meta)
    out: dict = {}
    with stage(out, "total"):
        result, matrix, summary, summarise_s = hybridir_metrics(loaded, d, spec, batch_size, chunk_size)
    out.update(seconds=round(result.metrics_seconds + summarise_s, 4),
               lookup_seconds=round(result.encode_seconds, 4),
               exact_ranks_seconds=round(result.metrics_seconds, 4),
               summarise_seconds=round(summarise_s, 4),
               peak_increase_mb=out["total"]["peak_increase_mb"], summary=summary,
               cells=cells_from_matrix(matrix), n_cells=int(len(matrix)))
    return out


def count_exact_ties(q_emb: np.ndarray, c_emb: np.ndarray, relevant: list[np.ndarray],
                     block: int = 256) -> dict:
    """(query, relevant candidate) pairs whose pool score equals another candidate's exactly."""
    width = max(len(r) for r in relevant)
    pairs, queries, rel_rel = 0, 0, 0
    for lo in range(0, len(q_emb), block):
        scores = q_emb[lo : lo + block] @ c_emb.T
        for j, rel in enumerate(relevant[lo : lo + block]):
            s = scores[j]
            rel_scores = s[rel]
            tied = (s[:, None] == rel_scores[None, :]).sum(0) > 1
            if tied.any():
                queries += 1
                pairs += int(tied.sum())
                rel_rel += int((rel_scores[:, None] == rel_scores[None, :]).sum() - len(rel))
    return {"relevant_pairs_tied": pairs, "queries_with_ties": queries,
            "relevant_relevant_ties": rel_rel // 2, "max_relevant_per_query": int(width)}


def task_sklearn_reference(data: dict, workdir: str, block: int = 1024) -> dict:
    """(b): numpy dot products and ``average_precision_score`` per query and cell."""
    from sklearn.metrics import average_precision_score

    spec = DataSpec.from_dict(data)
    d, q_emb, c_emb, _ = load_cached(spec, workdir)
    relevant = d.relevant_candidates()
    slices = d.language_slices()
    q_lang = d.questions["lang"].to_numpy()
    n = len(c_emb)
    out: dict = {}
    rows: list[tuple[str, str, float]] = []
    with stage(out, "total"):
        for x in d.languages:
            idx = np.flatnonzero(q_lang == x)
            for lo in range(0, len(idx), block):
                chunk = idx[lo : lo + block]
                scores = q_emb[chunk] @ c_emb.T
                for j, qi in enumerate(chunk):
                    s = scores[j]
                    y = np.zeros(n, dtype=bool)
                    y[relevant[qi]] = True
                    rows.append((x, "multi", average_precision_score(y, s)))
                    for lang, sl in slices.items():
                        ys = y[sl]
                        if ys.any():
                            rows.append((x, lang, average_precision_score(ys, s[sl])))
        frame = pd.DataFrame(rows, columns=["query_lang", "candidate_lang", "ap"])
        cells_frame = frame.groupby(["query_lang", "candidate_lang"])["ap"].mean()
    cells = {f"{x}>{y}": float(v) for (x, y), v in cells_frame.items()}
    diag = frame.query_lang == frame.candidate_lang
    multi = frame.candidate_lang == "multi"
    summary = aggregates_from_cells(cells)
    summary.update(mono_map_micro=float(frame[diag].ap.mean()),
                   cross_map_micro=float(frame[~diag & ~multi].ap.mean()),
                   multi_map_micro=float(frame[multi].ap.mean()))
    out.update(seconds=out["total"]["seconds"], peak_increase_mb=out["total"]["peak_increase_mb"],
               cells=cells, summary=summary, n_cells=len(cells), n_ap_calls=len(rows),
               ties=count_exact_ties(q_emb, c_emb, relevant))
    return out


def _map_value(metrics: dict, k: int) -> float:
    hits = [v for key, v in metrics.items() if key.endswith(f"_map@{k}")]
    if len(hits) != 1:
        raise KeyError(f"no unique map@{k} among {sorted(metrics)[:8]}...")
    return float(hits[0])


def task_st_evaluators(data: dict, workdir: str, mode: str = "untruncated", model: str | None = None,
                       batch_size: int = 64, pool_shard: int = 500) -> dict:
    """(a): one ``InformationRetrievalEvaluator`` per language pair plus the pooled one.

    ``model=None`` serves the saved embeddings (metric stage only); a model name lets every
    evaluator encode its own queries and corpus, as it does for a user.
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim

    spec = DataSpec.from_dict(data)
    out: dict = {"mode": mode}
    if model is None:
        d, q_emb, c_emb, meta = load_cached(spec, workdir)
        st_model = CachedSTModel(d.questions["text"], q_emb, d.candidates["text"], c_emb)
        qp, pp = meta.get("query_prompt"), meta.get("passage_prompt")
        out["encoder"] = "cached embeddings"
    else:
        d = load_data(spec)
        loaded = load_bench_model(model)
        st_model = loaded.model
        qp, pp = loaded.spec.query_prompt, loaded.spec.passage_prompt
        out["encoder"] = model
    questions, candidates = d.questions, d.candidates
    qids = (questions["question_id"] + "|" + questions["lang"]).tolist()
    q_texts, c_texts = questions["text"].tolist(), candidates["text"].tolist()
    relevant = {qid: {str(c) for c in rel} for qid, rel in zip(qids, d.relevant_candidates())}
    slices = d.language_slices()
    q_lang = questions["lang"].to_numpy()
    untruncated = mode == "untruncated"
    cells: dict[str, float] = {}
    n_evaluators = 0
    with stage(out, "total"):
        for x in d.languages:
            queries = {qids[i]: q_texts[i] for i in np.flatnonzero(q_lang == x)}
            for y in d.languages:
                sl = slices[y]
                corpus = {str(i): c_texts[i] for i in range(sl.start, sl.stop)}
                rel = {qid: {c for c in relevant[qid] if c in corpus} for qid in queries}
                rel = {qid: r for qid, r in rel.items() if r}
                k = len(corpus) if untruncated else 100
                evaluator = InformationRetrievalEvaluator(
                    queries, corpus, rel, map_at_k=[k], batch_size=batch_size, name=f"{x}-{y}",
                    write_csv=False, query_prompt=qp, corpus_prompt=pp)
                cells[f"{x}>{y}"] = _map_value(evaluator(st_model), k)
                n_evaluators += 1
        # The pool: every candidate; its embeddings once, shared by the query shards.
        corpus = {str(i): t for i, t in enumerate(c_texts)}
        corpus_emb = st_model.encode_document(c_texts, prompt=pp, batch_size=batch_size,
                                              convert_to_tensor=True, show_progress_bar=False)
        k = len(corpus) if untruncated else 100
        for x in d.languages:
            idx = np.flatnonzero(q_lang == x)
            weighted = 0.0
            for lo in range(0, len(idx), pool_shard):
                shard = idx[lo : lo + pool_shard]
                queries = {qids[i]: q_texts[i] for i in shard}
                evaluator = InformationRetrievalEvaluator(
                    queries, corpus, {qid: relevant[qid] for qid in queries}, map_at_k=[k],
                    batch_size=batch_size, name=f"{x}-multi", write_csv=False, query_prompt=qp,
                    corpus_prompt=pp, score_functions={"cosine": cos_sim})
                scores = evaluator.compute_all_metrics(st_model, corpus_embeddings=corpus_emb)
                weighted += float(scores["cosine"]["map@k"][k]) * len(shard)
                n_evaluators += 1
            cells[f"{x}>multi"] = weighted / len(idx)
    texts_encoded = (len(d.languages) * (len(q_texts) + len(c_texts))  # every pair evaluator
                     + len(q_texts) + len(c_texts))  # the pool
    out.update(seconds=out["total"]["seconds"], peak_increase_mb=out["total"]["peak_increase_mb"],
               cells=cells, summary=aggregates_from_cells(cells), n_evaluators=n_evaluators,
               texts_encoded=texts_encoded, pool_shard=pool_shard,
               map_at_k="size of the candidate pool" if untruncated else 100)
    return out


# --------------------------------------------------------------------------- orchestration


def compare(a: dict[str, float], b: dict[str, float]) -> dict:
    """Largest absolute difference over the keys both hold."""
    common = sorted(set(a) & set(b))
    diffs = {k: abs(a[k] - b[k]) for k in common}
    worst = max(diffs, key=diffs.get) if diffs else None
    return {"max_abs_diff": max(diffs.values()) if diffs else None, "worst": worst,
            "n_compared": len(common), "missing": sorted(set(a) ^ set(b))}


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True) -> dict:
    """Part 1: every contender on ``profile.eval_data``; checks and ratios."""
    spec = profile.eval_data
    workdir.mkdir(parents=True, exist_ok=True)
    common = {"data": spec.to_dict(), "workdir": str(workdir)}
    res: dict = {"data": spec.to_dict(), "contenders": {}}
    c = res["contenders"]
    log(f"part 1: hybridir end to end ({model}, {spec.dataset} {spec.languages or 'all'} "
        f"limit={spec.limit_per_lang})")
    c["hybridir_e2e"] = run_task("bench.eval_bench:task_hybridir_e2e", dict(
        model=model, batch_size=profile.batch_size, chunk_size=profile.chunk_size, **common),
        workdir, isolate)
    if "error" in c["hybridir_e2e"]:
        res["error"] = c["hybridir_e2e"]["error"]
        return res
    log("part 1: sentence-transformers plain encode of the same texts")
    c["st_plain_encode"] = run_task("bench.eval_bench:task_st_plain_encode", dict(
        model=model, batch_size=profile.batch_size, **common), workdir, isolate)
    log("part 1: hybridir metric stage on cached embeddings")
    c["hybridir_metrics"] = run_task("bench.eval_bench:task_hybridir_metrics", dict(
        batch_size=profile.batch_size, chunk_size=profile.chunk_size, **common), workdir, isolate)
    log("part 1: (b) numpy + sklearn average_precision_score reference")
    c["sklearn_reference"] = run_task("bench.eval_bench:task_sklearn_reference", common, workdir, isolate)
    for mode in ("untruncated", "default"):
        log(f"part 1: (a) sentence-transformers IR evaluators, {mode} map@k, cached embeddings")
        c[f"st_evaluator_{mode}"] = run_task("bench.eval_bench:task_st_evaluators", dict(
            mode=mode, batch_size=profile.batch_size, pool_shard=profile.st_pool_shard, **common),
            workdir, isolate)
    estimate = st_e2e_estimate(c["st_evaluator_untruncated"], c["st_plain_encode"])
    if profile.st_e2e == "measure":
        log("part 1: (a) sentence-transformers IR evaluators with their own encoding")
        c["st_evaluator_e2e"] = run_task("bench.eval_bench:task_st_evaluators", dict(
            mode="untruncated", model=model, batch_size=profile.batch_size,
            pool_shard=profile.st_pool_shard, **common), workdir, isolate)
        if estimate:
            c["st_evaluator_e2e"]["estimate_check"] = estimate
    elif estimate:
        c["st_evaluator_e2e"] = {"estimated": True, **estimate}
    res["checks"] = checks(c)
    res["ratios"] = [vars(r) for r in ratios(c, res["checks"], spec)]
    return res


def st_e2e_estimate(st_metric: dict, plain: dict) -> dict | None:
    """ST evaluators with their own encoding = metric-only time + what they encode.

    Every pair evaluator (X, Y) encodes the questions of X and the candidates of Y; the pooled
    one the questions once and the whole pool once. Each term is a plain-encode time measured
    in this run, per language (a one-language batch pads differently from a mixed one).
    """
    per_lang = plain.get("seconds_per_language")
    if "seconds" not in st_metric or not per_lang or "candidates_seconds" not in plain:
        return None
    q, c = per_lang["questions"], per_lang["candidates"]
    n_lang = len(q)
    encode = n_lang * sum(q.values()) + n_lang * sum(c.values()) + sum(q.values()) + plain["candidates_seconds"]
    return {"seconds": round(st_metric["seconds"] + encode, 3), "encode_seconds": round(encode, 3),
            "how": "metric-only seconds (cached embeddings) + the plain-encode seconds of every "
                   "text set each evaluator encodes, per language (all measured in this run)"}


def checks(c: dict) -> dict:
    out: dict = {}
    hy, ref = c.get("hybridir_metrics", {}), c.get("sklearn_reference", {})
    if "cells" in hy and "cells" in ref:
        cells = compare(hy["cells"], ref["cells"])
        keys = ["mono_map", "cross_map", "multi_map", "mono_map_micro", "cross_map_micro",
                "multi_map_micro"]
        agg = compare({k: hy["summary"][k] for k in keys}, {k: ref["summary"][k] for k in keys})
        worst = max(cells["max_abs_diff"] or 0.0, agg["max_abs_diff"] or 0.0)
        out["map_equals_reference"] = {
            "passed": bool(worst <= MAP_TOLERANCE and not cells["missing"]),
            "tolerance": MAP_TOLERANCE, "max_abs_diff": worst, "cells": cells, "aggregates": agg,
            "exact_ties": ref.get("ties"),
        }
    e2e = c.get("hybridir_e2e", {})
    if "cells" in e2e and "cells" in hy:
        out["cached_equals_e2e"] = compare(e2e["cells"], hy["cells"])
    st = c.get("st_evaluator_untruncated", {})
    if "cells" in st and "cells" in ref:
        out["st_untruncated_vs_reference"] = compare(st["cells"], ref["cells"])
    return out


def ratios(c: dict, chk: dict, spec: DataSpec) -> list:
    e2e, hy = c.get("hybridir_e2e", {}), c.get("hybridir_metrics", {})
    st, st_d = c.get("st_evaluator_untruncated", {}), c.get("st_evaluator_default", {})
    ref, st_e2e = c.get("sklearn_reference", {}), c.get("st_evaluator_e2e", {})
    scope = f"{spec.dataset} {'+'.join(spec.languages) if spec.languages else 'all languages'}" + (
        f", {spec.limit_per_lang} q/lang" if spec.limit_per_lang else ", all questions")
    out = [
        ratio("eval", "metrics time / encoding time", e2e.get("metrics_seconds"),
              e2e.get("encode_seconds"), "<=", 0.05, f"{e2e.get('metrics_seconds')} s metrics",
              f"{e2e.get('encode_seconds')} s encoding", scope),
        ratio("eval", "speed-up of the metric stage vs ST IR evaluators (untruncated MAP)",
              st.get("seconds"), hy.get("seconds"), ">=", 10, f"{hy.get('seconds')} s",
              f"{st.get('seconds')} s ({st.get('n_evaluators')} evaluators)",
              "same cached embeddings"),
        ratio("eval", "speed-up end to end vs ST IR evaluators (their own encoding)",
              st_e2e.get("seconds"), e2e.get("seconds"), ">=", 10, f"{e2e.get('seconds')} s",
              f"{st_e2e.get('seconds')} s" + (" (estimated)" if st_e2e.get("estimated") else ""),
              "ST encodes every text once per evaluator it appears in"),
    ]
    info = [
        ("speed-up of the metric stage vs ST IR evaluators (default MAP@100, truncated)", st_d),
        ("speed-up of the metric stage vs numpy + sklearn reference", ref),
    ]
    for name, base in info:
        r = ratio("eval", name, base.get("seconds"), hy.get("seconds"), ">=", 1,
                  f"{hy.get('seconds')} s", f"{base.get('seconds')} s", "information")
        r.target, r.passed = "-", None
        out.append(r)
    m = chk.get("map_equals_reference")
    if m:
        ties = m.get("exact_ties") or {}
        out.append(type(out[0])("eval", "largest abs difference of mAP, hybridir vs (b), over cells and "
                                "aggregates", m["max_abs_diff"], f"<= {MAP_TOLERANCE:g}", m["passed"],
                                f"{m['cells']['n_compared']} cells", "sklearn",
                                f"exact ties: {ties.get('relevant_pairs_tied')} (query, relevant) "
                                f"pairs in {ties.get('queries_with_ties')} queries"))
    return out

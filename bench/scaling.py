"""Part 4: time and memory of the metrics as the candidate pool grows.

* Real pools: candidates of XQuAD-R (part 1's slice, its saved embeddings) and MLQA-R
  (a seeded sample, encoded here, not timed), concatenated and subsampled to each size; the
  pools are nested and always hold every relevant candidate of the fixed queries. The timed
  metric stage is what ``evaluate_dataset`` + ``summarise`` run after encoding:
  ``ranking.exact_ranks`` -> ``evaluate.ranks_table`` -> ``evaluate.summarise``.
  Series ``fixed queries``: the same queries against every pool (expected linear in the
  pool). Series ``queries = candidates``: a whole LAReQA evaluation, where the queries grow
  with the pool (expected quadratic), where part 1's slice has enough queries.
* Synthetic pools up to 1M random unit vectors: FAISS exact inner-product top-k
  (``retrieval.build_index`` + ``retrieval.top_k``) and ``ranking.exact_ranks`` (one relevant
  candidate per query).

The growth is the slope of log(time) on log(pool size), fitted by least squares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import DataSpec, Profile, load_bench_model, load_data, run_task, stage
from .eval_bench import embedding_paths, log


def growth(sizes, values) -> dict:
    """Least-squares slope of log(value) on log(size): 1 = linear, 2 = quadratic."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.maximum(np.asarray(values, float), 1e-9))
    if len(x) < 2:
        return {"exponent": None, "reading": "too few points"}
    slope = float(np.polyfit(x, y, 1)[0])
    top = float(np.polyfit(x[-3:], y[-3:], 1)[0]) if len(x) >= 3 else slope
    reading = ("sub-linear" if slope < 0.8 else "linear" if slope < 1.3 else
               "between linear and quadratic" if slope < 1.7 else "quadratic" if slope < 2.3
               else "super-quadratic")
    return {"exponent": round(slope, 3), "exponent_largest_3": round(top, 3), "reading": reading}


def _metric_stage(q_emb, pool_emb, pool_lang, relevant, query_frame, chunk_size: int) -> dict:
    """exact_ranks + ranks_table + summarise on one pool (timed, with memory)."""
    from hybridir_core.data.lareqa import LareqaData
    from hybridir_core.evaluation import evaluate, ranking

    langs = sorted(set(pool_lang))
    block = pd.Series(pool_lang).map({lang: i for i, lang in enumerate(langs)}).to_numpy()
    candidates = pd.DataFrame({"lang": pool_lang, "text": "", "context": "", "paragraph": 0})
    data = LareqaData("pool", langs, query_frame, candidates)
    out: dict = {}
    with stage(out, "metrics"):
        blocks = ranking.exact_ranks(q_emb, pool_emb, relevant, block, chunk_size)
        table = evaluate.ranks_table(data, blocks)
        evaluate.summarise(table, query_frame.groupby("lang").size().to_dict())
    return out["metrics"]


def task_real_pools(model: str, data: dict, workdir: str, sizes: list[int], n_queries: int,
                    batch_size: int = 64, chunk_size: int = 512, seed: int = 0) -> dict:
    """Both real-pool series (see the module docstring)."""
    from hybridir_core.evaluation import evaluate
    from hybridir_core.models import encoders

    spec = DataSpec.from_dict(data)
    xq = load_data(spec)
    q_path, c_path, meta_path = embedding_paths(workdir)
    q_all, c_xq = np.load(q_path), np.load(c_path)
    rng = np.random.default_rng(seed)
    need = max(sizes) - len(c_xq)
    out: dict = {"sizes": sizes, "xquad_candidates": len(c_xq)}
    langs_xq = xq.candidates["lang"].to_numpy()
    if need > 0:
        mlqa = load_data(DataSpec("mlqa-r", data_dir=spec.data_dir))
        pick = np.sort(rng.choice(len(mlqa.candidates), size=min(need, len(mlqa.candidates)), replace=False))
        loaded = load_bench_model(model)
        texts = mlqa.candidates["text"].to_numpy()[pick].tolist()
        with stage(out, "encode_mlqa_sample"):
            encoder = encoders.build("bucketed", loaded.model, batch_size)
            c_ml = evaluate.encode_texts(encoder, texts, loaded.spec.passage_prompt)
        c_all = np.vstack([c_xq, c_ml])
        lang_all = np.concatenate([langs_xq, mlqa.candidates["lang"].to_numpy()[pick]])
        out["mlqa_candidates"] = len(pick)
    else:
        c_all, lang_all = c_xq, langs_xq
    relevant_all = xq.relevant_candidates()
    questions = xq.questions

    def series(query_rows: np.ndarray, size: int) -> dict | None:
        rel = [relevant_all[i] for i in query_rows]
        needed = np.unique(np.concatenate(rel))
        others = np.setdiff1d(order_all, needed, assume_unique=False)
        others = others[np.argsort(rank_in_order[others])]  # nested pools: same random order
        pool = np.concatenate([needed, others[: max(size - len(needed), 0)]])
        pool = pool[np.argsort(lang_all[pool], kind="stable")]  # language blocks contiguous
        where = np.full(len(c_all), -1)
        where[pool] = np.arange(len(pool))
        rel_pool = [np.sort(where[r]) for r in rel]
        frame = questions.iloc[query_rows][["question_id", "lang"]].reset_index(drop=True)
        entry = _metric_stage(q_all[query_rows], c_all[pool], lang_all[pool], rel_pool, frame, chunk_size)
        entry.update(pool=len(pool), queries=len(query_rows))
        return entry

    order_all = rng.permutation(len(c_all))
    rank_in_order = np.empty(len(c_all), dtype=np.int64)
    rank_in_order[order_all] = np.arange(len(c_all))
    # Fixed queries: the first question ids, all their languages, up to n_queries rows.
    by_id = questions.sort_values(["question_id", "lang"])
    fixed = by_id.index.to_numpy()[:n_queries]
    series(fixed, sizes[0])  # warm-up: first-call costs (allocator, pandas) stay out of the fit
    out["fixed_queries"] = [series(fixed, n) for n in sizes]
    # Queries = candidates: as many query rows as pool candidates, where the slice allows.
    grow = [n for n in sizes if n <= len(questions)]
    out["queries_equal_candidates"] = [series(by_id.index.to_numpy()[:n], n) for n in grow]
    return out


def task_synthetic(sizes: list[int], n_queries: int, dim: int, k: int = 10, chunk_size: int = 64,
                   seed: int = 0) -> dict:
    """FAISS top-k and exact ranks over nested synthetic pools of unit vectors."""
    from hybridir_core.evaluation import ranking, retrieval

    rng = np.random.default_rng(seed)
    n_max = max(sizes)
    pool = rng.standard_normal((n_max, dim), dtype=np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    # Each query's relevant candidate lies among the first 1,000 (inside every pool).
    relevant = [np.array([i % min(sizes)]) for i in range(n_queries)]
    out: dict = {"dim": dim, "queries": n_queries, "k": k, "faiss": [], "exact_ranks": []}
    warm = pool[: min(sizes)]  # warm-up, untimed
    retrieval.top_k(retrieval.build_index(warm), queries, k)
    ranking.exact_ranks(queries, warm, relevant, np.zeros(len(warm), dtype=np.int64), chunk_size)
    for n in sizes:
        sub = pool[:n]
        entry: dict = {"pool": n}
        with stage(entry, "build"):
            index = retrieval.build_index(sub)
        with stage(entry, "search"):
            retrieval.top_k(index, queries, k)
        del index
        out["faiss"].append({"pool": n, "seconds": round(entry["build"]["seconds"] + entry["search"]["seconds"], 4),
                             "build_seconds": entry["build"]["seconds"],
                             "search_seconds": entry["search"]["seconds"],
                             "peak_increase_mb": max(entry["build"]["peak_increase_mb"],
                                                     entry["search"]["peak_increase_mb"])})
        ranks: dict = {}
        with stage(ranks, "exact"):
            ranking.exact_ranks(queries, sub, relevant, np.zeros(n, dtype=np.int64), chunk_size)
        out["exact_ranks"].append({"pool": n, **ranks["exact"]})
    return out


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True, dim: int | None = None) -> dict:
    """Part 4; needs part 1's saved embeddings in ``workdir``."""
    res: dict = {}
    if embedding_paths(workdir)[0].is_file():
        log(f"part 4: metrics on real pools of {list(profile.scaling_sizes)} candidates")
        res["real"] = run_task("bench.scaling:task_real_pools", dict(
            model=model, data=profile.eval_data.to_dict(), workdir=str(workdir),
            sizes=list(profile.scaling_sizes), n_queries=profile.scaling_queries,
            batch_size=profile.batch_size, chunk_size=profile.chunk_size), workdir, isolate)
        if dim is None:
            dim = int(np.load(embedding_paths(workdir)[0], mmap_mode="r").shape[1])
    else:
        res["real"] = {"error": "part 1's embeddings are missing (run part 1 first)"}
    log(f"part 4: FAISS top-k and exact ranks on synthetic pools of {list(profile.synthetic_sizes)}")
    res["synthetic"] = run_task("bench.scaling:task_synthetic", dict(
        sizes=list(profile.synthetic_sizes), n_queries=profile.synthetic_queries, dim=dim or 384),
        workdir, isolate)
    res["growth"] = growth_summary(res)
    return res


def growth_summary(res: dict) -> dict:
    out: dict = {}
    real = res.get("real", {})
    for key in ("fixed_queries", "queries_equal_candidates"):
        rows = [r for r in real.get(key, []) if r]
        if len(rows) >= 2:
            out[f"real_{key}_time"] = growth([r["pool"] for r in rows], [r["seconds"] for r in rows])
            out[f"real_{key}_memory"] = growth([r["pool"] for r in rows],
                                               [max(r["peak_increase_mb"], 0.1) for r in rows])
    syn = res.get("synthetic", {})
    for key in ("faiss", "exact_ranks"):
        rows = syn.get(key, [])
        if len(rows) >= 2:
            out[f"synthetic_{key}_time"] = growth([r["pool"] for r in rows], [r["seconds"] for r in rows])
            out[f"synthetic_{key}_memory"] = growth([r["pool"] for r in rows],
                                                    [max(r["peak_increase_mb"], 0.1) for r in rows])
    return out

"""hybridir benchmarks: ``python -m bench --quick`` (a few minutes) or ``--full``.

Parts: ``eval_bench`` (evaluation vs sentence-transformers' IR evaluator and a LAReQA-style
sklearn reference), ``encode_bench`` (encoding throughput and faster CPU backends),
``train_bench`` (hybrid sampler vs the trainer's default sampler), ``scaling`` (metric time
and memory as the pool grows, FAISS top-k on a synthetic 1M pool). See bench/README.md.
"""

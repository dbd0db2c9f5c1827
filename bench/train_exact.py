"""Part 6a: today's training path (``--train-backend torch``) against the default (``auto``).

Trains the study's protocol (XQuAD-R QA triplets, hybrid α = 0.5, batch 32, the model's
learning rate, seed 0) for ``steps`` steps with each backend, each in its own process, at each
layer count (me5-small cut to its first N layers in memory: the distilled students are not built
here, and a truncation has their shape, so it stands in for their speed). Reports pairs/s of the
training steps and the CPU seconds per pair (this machine's cores are shared: CPU time is the
steadier figure), every step's loss under both backends (exact, from the loss module, not the
trainer's 4-digit log), and the quick MLQA-R evaluation of both trained models.

Passes when ``auto`` reaches ``TARGET`` x pairs/s, every step's loss is within ``LOSS_TOLERANCE``
and every aggregate metric within ``METRIC_TOLERANCE`` of today's path.
"""

from __future__ import annotations

import math
import resource
import tempfile
from pathlib import Path

from .common import DataSpec, ratio, run_task

TARGET, LOSS_TOLERANCE, METRIC_TOLERANCE = 1.5, 1e-5, 5e-4
BACKENDS = ("torch", "auto")


def truncate_layers(loaded, layers: int) -> None:
    """Keep the first ``layers`` transformer layers of ``loaded`` (in memory; a speed stand-in)."""
    encoder = loaded.model[0].auto_model
    if layers < len(encoder.encoder.layer):
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def task_train(model: str, layers: int, backend: str, steps: int, eval_spec: dict | None, seed: int = 0) -> dict:
    """Train ``steps`` steps with ``backend`` (a fresh process); losses, throughput, quick metrics."""
    return train_once(model, layers, {"steps": steps, "seed": seed, "train_backend": backend}, eval_spec)


def train_once(model: str, layers: int, overrides: dict, eval_spec: dict | None, eval_backend: str = "torch",
               device: str = "cpu") -> dict:
    """The study's protocol (batch 32, hybrid α = 0.5, the model's learning rate, no validation)
    with ``overrides``; every step's loss, pairs/s, CPU s/pair, peak memory and quick metrics."""
    from hybridir_core.config import SamplingConfig, TrainConfig
    from hybridir_core.models.registry import default_learning_rate, load_model
    from hybridir_core.training import trainer as train

    steps = overrides.get("steps", 20)
    options = {"batch_size": 32, "seed": 0, "validation_items": 0, "eval_steps": steps, "save_steps": steps,
               "learning_rate": default_learning_rate(model), **overrides}
    config = TrainConfig(model=model, corpus="xquad", sampling=SamplingConfig("hybrid", 0.5), **options)
    losses, plain = [], train.build_loss

    def recording(st_model, cfg):
        loss = plain(st_model, cfg)
        loss.register_forward_hook(lambda module, args, out: losses.append(float(out.detach())))
        return loss

    loaded = load_model(model, device=device)
    truncate_layers(loaded, layers)
    train.build_loss = recording
    try:
        with tempfile.TemporaryDirectory(prefix="hybridir-train-exact-") as tmp:
            cpu = _cpu_seconds()
            result = train.train_model(loaded, Path(tmp) / "run", config)
            cpu, peak = _cpu_seconds() - cpu, _peak_memory_mb(device)
            metrics = (_quick_eval(result.loaded, model, eval_spec, Path(tmp) / "eval", eval_backend)
                       if eval_spec else {})
    finally:
        train.build_loss = plain
    stats = result.stats
    return {"layers": layers, "backend": config.train_backend, "precision": config.precision, "steps": stats["steps"],
            "losses": losses, "pairs_per_second": stats["pairs_per_second_clean"],
            "wall_seconds": stats["wall_seconds"], "peak_memory_mb": peak,
            "cpu_seconds_per_pair": round(cpu / (stats["steps"] * config.batch_size), 4),
            "torch_threads": stats["torch_threads"], "device": stats["device"], "metrics": metrics}


def _peak_memory_mb(device: str) -> float:
    """Peak GPU memory allocated (CUDA), else the process' peak resident memory."""
    import torch

    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _quick_eval(loaded, model: str, spec: dict, out: Path, backend: str = "torch") -> dict:
    from hybridir_core.config import EvalConfig
    from hybridir_core.evaluation.evaluate import run_evaluation

    spec = DataSpec.from_dict(spec) if isinstance(spec, dict) else spec
    config = EvalConfig(model=model, datasets=(spec.dataset,), limit_per_lang=spec.limit_per_lang,
                        languages=spec.languages, backend=backend)
    summary = run_evaluation(loaded, out, config)[spec.dataset]
    return {k: v for k, v in summary.items() if "map" in k or "recall" in k}


def compare(torch_run: dict, auto_run: dict) -> dict:
    """Ratio of pairs/s, largest per-step loss difference and largest metric difference."""
    a, b = torch_run.get("losses") or [], auto_run.get("losses") or []
    loss_diff = max((abs(x - y) for x, y in zip(a, b, strict=False)), default=None) if len(a) == len(b) else None
    shared = set(torch_run.get("metrics") or {}) & set(auto_run.get("metrics") or {})
    diffs = [abs(torch_run["metrics"][k] - auto_run["metrics"][k]) for k in shared]
    metric_diff = max((d for d in diffs if math.isfinite(d)), default=None)  # NaN: a cell with no query
    speed = (round(auto_run["pairs_per_second"] / torch_run["pairs_per_second"], 3)
             if auto_run.get("pairs_per_second") and torch_run.get("pairs_per_second") else None)
    cpu = (round(torch_run["cpu_seconds_per_pair"] / auto_run["cpu_seconds_per_pair"], 3)
           if auto_run.get("cpu_seconds_per_pair") and torch_run.get("cpu_seconds_per_pair") else None)
    return {"ratio": speed, "cpu_ratio": cpu, "max_loss_diff": loss_diff, "max_metric_diff": metric_diff,
            "steps_compared": len(a) if len(a) == len(b) else 0}


def study(model: str, layers: tuple[int, ...], steps: int, eval_spec: DataSpec | None, workdir: Path,
          isolate: bool = True) -> dict:
    """Both backends at each layer count, one process each, today's path first."""
    out = {"model": model, "steps": steps, "eval": eval_spec.to_dict() if eval_spec else None, "layers": {}}
    for n in layers:
        runs = {}
        for backend in BACKENDS:
            print(f"train-speed: {model} at {n} layers, --train-backend {backend} ({steps} steps)", flush=True)
            runs[backend] = run_task("bench.train_exact:task_train",
                                     {"model": model, "layers": n, "backend": backend, "steps": steps,
                                      "eval_spec": eval_spec.to_dict() if eval_spec else None}, workdir, isolate)
        out["layers"][str(n)] = {**runs, **compare(runs["torch"], runs["auto"])}
    return out


def rows(result: dict) -> list:
    """One ratio row per layer count: met when fast enough and equal in losses and metrics."""
    out = []
    for n, r in result["layers"].items():
        row = ratio("train-speed", f"training --train-backend auto vs torch at {n} layers (pairs/s, {result['model']})",
                    r["auto"].get("pairs_per_second"), r["torch"].get("pairs_per_second"), ">=", TARGET,
                    f"{r['auto'].get('pairs_per_second')} pairs/s", f"{r['torch'].get('pairs_per_second')} pairs/s",
                    f"CPU-time ratio {r['cpu_ratio']}; largest step-loss difference {r['max_loss_diff']}; "
                    f"largest metric difference {r['max_metric_diff']}")
        exact = (r["max_loss_diff"] is not None and r["max_loss_diff"] <= LOSS_TOLERANCE
                 and (r["max_metric_diff"] is None or r["max_metric_diff"] <= METRIC_TOLERANCE))
        row.target = f">= {TARGET:g}, losses within {LOSS_TOLERANCE:g}, metrics within {METRIC_TOLERANCE:g}"
        row.passed = bool(row.passed) and exact
        out.append(row)
    return out


def markdown(result: dict) -> str:
    """The table: today's path vs the default, by layer count."""
    lines = [f"## Exact training: --train-backend torch (today) vs auto ({result['model']}, {result['steps']} steps)",
             "", "| layers | torch pairs/s | auto pairs/s | ratio | CPU s/pair torch | CPU s/pair auto | CPU ratio "
             "| largest step-loss diff | largest quick-eval metric diff |", "|---|---|---|---|---|---|---|---|---|"]
    for n, r in result["layers"].items():
        t, a = r["torch"], r["auto"]
        speeds = [run.get("pairs_per_second", run.get("error", "–")) for run in (t, a)]
        cpus = [run.get("cpu_seconds_per_pair") for run in (t, a)]
        lines.append(f"| {n} | {speeds[0]} | {speeds[1]} | {r['ratio']} | {cpus[0]} | {cpus[1]} | {r['cpu_ratio']} "
                     f"| {_sci(r['max_loss_diff'])} | {_sci(r['max_metric_diff'])} |")
    if result.get("eval"):
        e = result["eval"]
        lines += ["", f"Quick evaluation: {e['dataset']}, languages {e.get('languages')}, "
                      f"{e.get('limit_per_lang')} questions per language, fp32 torch encoder."]
    return "\n".join(lines) + "\n"


def _sci(value: float | None) -> str:
    return "–" if value is None else f"{value:.2e}"


def main() -> None:
    """``python -m bench.train_exact --layers 2 12 --steps 20``: this comparison alone, into bench/results."""
    import argparse
    from datetime import date

    from hybridir_core.paths import REPO_ROOT

    from .common import machine_info, machine_label, versions, write_result

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small")
    parser.add_argument("--layers", type=int, nargs="+", default=[2, 12])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eval-languages", nargs="*", default=["de", "en"], help="none: no quick evaluation")
    parser.add_argument("--eval-limit", type=int, default=20, help="questions per language of the quick evaluation")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args()
    spec = DataSpec("mlqa-r", tuple(args.eval_languages), args.eval_limit) if args.eval_languages else None
    workdir = Path(tempfile.mkdtemp(prefix="hybridir-train-exact-"))
    result = study(args.model, tuple(args.layers), args.steps, spec, workdir)
    try:
        found = versions()
    except ImportError as exc:  # a library the other parts need (faiss) is not needed here
        found = {"error": str(exc)}
    result.update(date=date.today().isoformat(), machine=machine_info(), versions=found,
                  ratios=[vars(row) for row in rows(result)])
    layers = "-".join(str(n) for n in args.layers)
    write_result(args.out, f"train-exact-{result['date']}-{layers}L-{machine_label(result['machine'])}",
                 result, markdown(result))


if __name__ == "__main__":
    main()

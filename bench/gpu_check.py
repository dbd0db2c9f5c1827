"""The GPU path on a GPU: bf16 + cached loss training and the fp16 encoder against fp32 (issue 30).

``scripts/gpu_check.sh`` (one GPU): me5-small on the study's protocol (XQuAD-R QA triplets,
hybrid α = 0.5), 50 steps at batch 128 with ``--bf16 --cached-loss --mini-batch-size 32``, then
the quick MLQA-R evaluation with the fp16 encoder; the same run in fp32 (torch encoder) beside
it. Writes throughput, peak GPU memory, the largest per-step loss difference and the metric
differences to ``bench/results/gpu-check-<date>-<device>.{json,md}``.

``--small`` runs the same code on a CPU in seconds (1 layer, 2 steps, batch 8, fp32 on both
sides, torch encoder): the test suite's check that the script works before a GPU is lent.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from hybridir_core.paths import REPO_ROOT

from .common import DataSpec, machine_info, run_task, versions, write_result

FULL = {"layers": 12, "steps": 50, "batch_size": 128, "mini_batch_size": 32, "fast": ("bf16", "fp16"),
        "eval": DataSpec("mlqa-r", ("de", "en", "zh"), 100)}
SMALL = {"layers": 1, "steps": 2, "batch_size": 8, "mini_batch_size": 4, "fast": ("fp32", "torch"),
         "eval": DataSpec("xquad-r", ("de",), 5)}


def check(model: str, plan: dict, device: str, workdir: Path, isolate: bool = True) -> dict:
    """The fast run (precision, encoder of ``plan['fast']``) and the fp32 run, one process each."""
    from . import train_exact

    precision, encoder = plan["fast"]
    out = {"model": model, "device": device, "plan": {k: v for k, v in plan.items() if k != "eval"},
           "eval": plan["eval"].to_dict()}
    for name, (prec, enc) in {"fast": (precision, encoder), "fp32": ("fp32", "torch")}.items():
        overrides = {"steps": plan["steps"], "batch_size": plan["batch_size"], "precision": prec,
                     "cached_loss": True, "mini_batch_size": plan["mini_batch_size"]}
        print(f"gpu-check: {name} run ({prec}, {enc} encoder, {plan['steps']} steps) on {device}", flush=True)
        out[name] = run_task("bench.train_exact:train_once",
                             {"model": model, "layers": plan["layers"], "overrides": overrides,
                              "eval_spec": plan["eval"].to_dict(), "eval_backend": enc, "device": device},
                             workdir, isolate)
    out.update(train_exact.compare(out["fp32"], out["fast"]))
    return out


def markdown(result: dict) -> str:
    fast, base = result["fast"], result["fp32"]
    plan = result["plan"]
    lines = [f"# GPU check ({result['model']}, {result['device']}, {result['date']})", "",
             f"{plan['layers']} layers, {plan['steps']} steps, batch {plan['batch_size']}, cached loss with "
             f"mini-batches of {plan['mini_batch_size']}; fast run: {plan['fast'][0]} training, "
             f"{plan['fast'][1]} encoder.", "",
             "| run | pairs/s | peak memory (MB) | final loss | error |", "|---|---|---|---|---|"]
    for name, run in (("fast", fast), ("fp32", base)):
        final = (run.get("losses") or [None])[-1]
        lines.append(f"| {name} | {run.get('pairs_per_second', '–')} | {run.get('peak_memory_mb', '–')} | "
                     f"{'–' if final is None else f'{final:.5f}'} | {run.get('error', '')[:100]} |")
    lines += ["", f"Speed ratio fast/fp32: {result.get('ratio')}; largest per-step loss difference: "
                  f"{result.get('max_loss_diff')}; largest quick-eval metric difference: "
                  f"{result.get('max_metric_diff')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small")
    parser.add_argument("--small", action="store_true", help="a CPU-sized run (the test suite's)")
    parser.add_argument("--device", default=None, help="default: cuda where available, else cpu")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--in-process", action="store_true", help="no worker processes (tests)")
    args = parser.parse_args(argv)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not args.small and not device.startswith("cuda"):
        raise SystemExit("gpu-check: no GPU here; --small runs the CPU-sized check")
    workdir = Path(tempfile.mkdtemp(prefix="hybridir-gpu-check-"))
    result = check(args.model, SMALL if args.small else FULL, device, workdir, isolate=not args.in_process)
    label = torch.cuda.get_device_name(0).replace(" ", "-").lower() if device.startswith("cuda") else "cpu-small"
    result.update(date=date.today().isoformat(), machine=machine_info(), versions=versions())
    write_result(args.out, f"gpu-check-{result['date']}-{label}", result, markdown(result))
    return result


if __name__ == "__main__":
    main()

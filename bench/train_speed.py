"""Part 6: training throughput options against default CPU training (issue 12, item 2).

``python -m bench --full --parts train-speed`` (or ``python -m bench.train_speed --model
me5-small-d2`` for other variant lists) trains the study's protocol (XQuAD-R QA
triplets, hybrid α = 0.5, batch 32) with ``train.train_model`` once per variant, each in its
own process, one after another, and reports pairs/s (``pairs_per_second_clean`` of
``train_stats.json``: training steps only, validation excluded) and the ratio to the baseline
measured in the same run. A variant that reaches 1.3x is then trained ``--validate-steps``
(300) steps beside the baseline, and adopted only if its final validation loss is within 2 %.

Variants (one change each from the baseline: fp32, torch's default threads, 128 tokens):

- ``threads-1``: one intra-op thread (the other core left idle);
- ``seq-64``: ``max_seq_length`` 64 (long answer sentences truncated);
- ``bf16``: bf16 autocast, only where the CPU has native bf16 (``devices.precision_flags``);
  elsewhere skipped with the reason;
- ``compile``: ``torch.compile`` through the trainer's ``torch_compile``.

Writes ``bench/results/train-speed-<date>-<model>-<machine>.{json,md}`` with the CPU model and flags.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from hybridir_core.paths import REPO_ROOT

from .common import Profile, machine_info, machine_label, ratio, run_task, versions, write_result

VARIANTS = {
    "baseline": {},
    "threads-1": {"threads": 1},
    "seq-64": {"max_seq_length": 64},
    "bf16": {"precision": "bf16"},
    "compile": {"compile": True},
}
ADOPT_RATIO = 1.3
LOSS_TOLERANCE = 0.02


def task_variant(model: str, variant: str, steps: int, seed: int = 0) -> dict:
    """Train ``steps`` steps with one variant (in a fresh process); its throughput and losses."""
    import torch

    from hybridir_core.training import trainer as train

    settings = VARIANTS[variant]
    threads = torch.get_num_threads()
    plain = train.training_arguments
    if "threads" in settings:
        torch.set_num_threads(settings["threads"])
    if settings.get("compile"):

        def compiled(*args, **kwargs):
            arguments = plain(*args, **kwargs)
            arguments.torch_compile = True
            return arguments

        train.training_arguments = compiled
    try:
        return _train_variant(model, variant, settings, steps, seed)
    finally:  # an in-process run (--in-process, tests) must not leak the variant into the next one
        train.training_arguments = plain
        torch.set_num_threads(threads)


def _train_variant(model: str, variant: str, settings: dict, steps: int, seed: int) -> dict:
    from hybridir_core.config import SamplingConfig, TrainConfig
    from hybridir_core.models.registry import load_model
    from hybridir_core.training import trainer as train

    config = TrainConfig(model=model, corpus="xquad", sampling=SamplingConfig("hybrid", 0.5), steps=steps,
                         batch_size=32, seed=seed, eval_steps=steps, save_steps=steps,
                         max_seq_length=settings.get("max_seq_length", 128),
                         precision=settings.get("precision", "fp32"))
    with tempfile.TemporaryDirectory(prefix="hybridir-train-speed-") as tmp:
        stats = train.train_model(load_model(model, device="cpu"), Path(tmp) / "run", config).stats
    return {"variant": variant, "steps": stats["steps"], "pairs_per_second": stats["pairs_per_second_clean"],
            "pairs_per_second_with_validation": stats["pairs_per_second"], "wall_seconds": stats["wall_seconds"],
            "final_validation_loss": stats["final_validation_loss"], "torch_threads": stats["torch_threads"]}


def skip_reason(variant: str) -> str | None:
    """Why ``variant`` cannot run on this machine, or None."""
    from hybridir_core.devices import precision_flags

    try:
        precision_flags(VARIANTS[variant].get("precision", "fp32"))
    except ValueError as exc:
        return str(exc)
    return None


def measure(model: str, variants: list[str], steps: int, workdir: Path, isolate: bool = True) -> dict:
    """Pairs/s of the baseline and each variant, ``steps`` steps each, one process each."""
    out = {}
    for variant in ["baseline", *[v for v in variants if v != "baseline"]]:
        reason = skip_reason(variant)
        print(f"train-speed: {variant} ({steps} steps)" + (f": skipped, {reason}" if reason else ""), flush=True)
        out[variant] = {"skipped": reason} if reason else run_task(
            "bench.train_speed:task_variant", {"model": model, "variant": variant, "steps": steps}, workdir,
            isolate)
    base = out["baseline"].get("pairs_per_second")
    for record in out.values():
        if record.get("pairs_per_second") and base:
            record["ratio"] = round(record["pairs_per_second"] / base, 3)
    return out


def validate(model: str, candidates: list[str], steps: int, workdir: Path, isolate: bool = True) -> dict:
    """Final validation loss after ``steps`` steps: baseline and each candidate."""
    out = {}
    for variant in ["baseline", *candidates]:
        print(f"train-speed: validating {variant} ({steps} steps)", flush=True)
        out[variant] = run_task("bench.train_speed:task_variant",
                                {"model": model, "variant": variant, "steps": steps}, workdir, isolate)
    base = out["baseline"].get("final_validation_loss")
    for variant in candidates:
        loss = out[variant].get("final_validation_loss")
        if base and loss is not None:
            out[variant]["loss_change"] = round(loss / base - 1, 4)
            out[variant]["adopt"] = abs(loss / base - 1) <= LOSS_TOLERANCE
    return out


def study(model: str, variants: list[str], steps: int, validate_steps: int, workdir: Path,
          isolate: bool = True) -> dict:
    """Throughput of every variant, then the validation-loss check of those reaching 1.3x."""
    from hybridir_core.devices import cpu_flags

    result = {"model": model, "date": date.today().isoformat(), "machine": machine_info(),
              "cpu_flags": sorted({"avx512_bf16", "amx_bf16", "avx512f", "avx2"} & cpu_flags()),
              "versions": versions(), "steps": steps, "validate_steps": validate_steps,
              "throughput": measure(model, variants, steps, workdir, isolate)}
    fast = [v for v, r in result["throughput"].items() if v != "baseline" and r.get("ratio", 0) >= ADOPT_RATIO]
    result["validation"] = validate(model, fast, validate_steps, workdir, isolate) if fast and validate_steps else {}
    result["candidates"] = fast
    result["adopted"] = [v for v in fast if result["validation"].get(v, {}).get("adopt")]
    return result


def run(profile: Profile, model: str, workdir: Path, isolate: bool = True, exact_model: str = "me5-small") -> dict:
    """Part 6: today's training path against the default (``train_exact``, at the profile's layer
    counts), then ``study`` of the profile's variants, if any; one ratio row per comparison."""
    from . import train_exact

    res: dict = {"ratios": []}
    if profile.train_exact_layers:
        res["exact"] = train_exact.study(exact_model, profile.train_exact_layers, profile.train_exact_steps,
                                         profile.train_exact_eval, workdir, isolate)
        res["ratios"] += [vars(row) for row in train_exact.rows(res["exact"])]
    if profile.train_speed_variants:
        res.update(study(model, list(profile.train_speed_variants), profile.train_speed_steps,
                         profile.train_speed_validate_steps, workdir, isolate))
        res["ratios"] += [vars(variant_ratio(name, r, res)) for name, r in res["throughput"].items()
                          if name != "baseline"]
    return res


def variant_ratio(name: str, record: dict, result: dict):
    """A variant's pairs/s over the baseline's; met only when adopted (1.3x and the loss check)."""
    base = result["throughput"]["baseline"].get("pairs_per_second")
    checked = result["validation"].get(name, {})
    if record.get("skipped"):
        note = f"skipped: {record['skipped'][:80]}"
    elif "loss_change" in checked:
        note = (f"validation loss {checked['loss_change']:+.1%} after {result['validate_steps']} steps: "
                + ("adopted" if checked.get("adopt") else f"not adopted (limit {LOSS_TOLERANCE:.0%})"))
    elif record.get("ratio", 0) >= ADOPT_RATIO:
        note = "not validated (no validation steps): not adopted"
    else:
        note = "below 1.3x: not adopted"
    row = ratio("train-speed", f"training with {name} vs fp32 baseline (pairs/s, {result['model']})",
                record.get("pairs_per_second"), base, ">=", ADOPT_RATIO, f"{record.get('pairs_per_second')} pairs/s",
                f"{base} pairs/s", note)
    row.target = f">= {ADOPT_RATIO:g} and validation loss within {LOSS_TOLERANCE:.0%}"
    if row.passed:  # fast enough is not enough: met only when the loss check adopted it
        row.passed = name in result["adopted"]
    return row


def markdown(result: dict) -> str:
    lines = [f"# Training throughput options ({result['model']}, {result['machine']['cpu']})", "",
             f"XQuAD-R QA triplets, hybrid α = 0.5, batch 32, {result['steps']} steps per variant; CPU flags "
             f"{', '.join(result['cpu_flags']) or 'none of avx512_bf16/amx_bf16'}; {result['date']}.", "",
             "| variant | pairs/s | ratio to baseline | final validation loss | note |", "|---|---|---|---|---|"]
    for name, r in result["throughput"].items():
        note = r.get("skipped") or r.get("error") or ""
        loss = r.get("final_validation_loss")
        lines.append(f"| {name} | {r.get('pairs_per_second', '–')} | {r.get('ratio', '–')} | "
                     f"{'–' if loss is None else f'{loss:.4f}'} | {note[:120]} |")
    if result.get("validation"):
        lines += ["", f"Validation after {result['validate_steps']} steps (adopt within {LOSS_TOLERANCE:.0%}):", "",
                  "| variant | pairs/s over these steps | final validation loss | change | adopt |",
                  "|---|---|---|---|---|"]
        for name, r in result["validation"].items():
            loss = r.get("final_validation_loss")
            lines.append(f"| {name} | {r.get('pairs_per_second', '–')} | {'–' if loss is None else f'{loss:.4f}'} | "
                         f"{r.get('loss_change', '–')} | {r.get('adopt', '–')} |")
    elif result.get("candidates"):
        lines += ["", f"{', '.join(result['candidates'])} reached {ADOPT_RATIO}x but were not validated "
                      "(--validate-steps 0): nothing is adopted without the validation-loss check."]
    else:
        lines += ["", f"No variant reached {ADOPT_RATIO}x: nothing to validate, the baseline stays."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="me5-small-d2")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--validate-steps", type=int, default=300, help="0: measure throughput only")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hybridir-train-speed-"))
    result = study(args.model, args.variants, args.steps, args.validate_steps, workdir)
    name = f"train-speed-{result['date']}-{args.model}-{machine_label(result['machine'])}"
    write_result(args.out, name, result, markdown(result))


if __name__ == "__main__":
    main()

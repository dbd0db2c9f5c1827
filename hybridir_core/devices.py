"""What the training device can do: mixed precision checked before a trainer is built.

A ``bf16`` or ``fp16`` run on hardware without native support either fails deep inside
``transformers`` or silently runs emulated at a fraction of the speed; ``precision_flags``
refuses it up front in one line instead. fp16 needs a CUDA GPU; bf16 needs a CUDA GPU that
supports it (Ampere or later) or, without a GPU, a CPU with native bf16 instructions
(``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``).
"""

from __future__ import annotations

from pathlib import Path

from hybridir_core.config import PRECISIONS

__all__ = ["PRECISIONS", "cpu_flags", "cpu_has_native_bf16", "cpu_model", "cpu_record", "precision_flags"]
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = Path("/proc/cpuinfo")


def _first_field(cpuinfo: Path, key: str) -> str | None:
    """The value of the first ``key`` line of ``cpuinfo`` (None where unreadable or absent)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU feature flags of the first ``flags`` line of ``cpuinfo`` (empty where unreadable)."""
    return set((_first_field(cpuinfo, "flags") or "").split())


def cpu_model(cpuinfo: Path = CPUINFO) -> str | None:
    """The CPU's ``model name`` in ``cpuinfo`` (None where unreadable)."""
    return _first_field(cpuinfo, "model name")


def cpu_record(cpuinfo: Path = CPUINFO) -> dict[str, object]:
    """The CPU as a run records it: model name and its native bf16 flags (which decide the
    ``auto`` encoder and a student's distillation precision, so numbers can differ by CPU)."""
    return {"model": cpu_model(cpuinfo), "bf16_flags": sorted(cpu_flags(cpuinfo) & set(CPU_BF16_FLAGS))}


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_flags(cpuinfo) & set(CPU_BF16_FLAGS))


def precision_flags(precision: str, cuda: bool | None = None, cuda_bf16: bool | None = None,
                    cpuinfo: Path = CPUINFO) -> dict[str, bool]:
    """``{"bf16": ..., "fp16": ...}`` (and ``use_cpu`` for CPU bf16) for the training
    arguments, or a one-line ValueError.

    Args:
        precision: ``fp32``, ``bf16`` or ``fp16``.
        cuda, cuda_bf16: what the GPU offers (default: asked of torch).
        cpuinfo: where the CPU flags are read when there is no GPU.

    Raises:
        ValueError: the device cannot train in ``precision``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return {"bf16": False, "fp16": False}
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
        cuda_bf16 = cuda and torch.cuda.is_bf16_supported()
    if precision == "fp16" and not cuda:
        raise ValueError("--fp16 needs a CUDA GPU and none is available; use --precision fp32 "
                         "(or --bf16 on a CPU with avx512_bf16/amx_bf16)")
    if precision == "bf16":
        if cuda and not cuda_bf16:
            raise ValueError("--bf16: this GPU does not support bf16 (needs Ampere or later); use --fp16")
        if not cuda and not cpu_has_native_bf16(cpuinfo):
            raise ValueError("--bf16: no CUDA GPU and this CPU lacks avx512_bf16/amx_bf16; "
                             "use --precision fp32")
    flags = {"bf16": precision == "bf16", "fp16": precision == "fp16"}
    # transformers accepts bf16 without a GPU only when told the run is on the CPU
    return {**flags, "use_cpu": True} if not cuda else flags

"""scripts/gpu_check.sh's code runs end to end on a CPU (--small), before any GPU is lent."""

from __future__ import annotations

import json

import pytest

from bench import gpu_check


@pytest.mark.training
def test_small_gpu_check_writes_throughput_memory_and_differences(tmp_path):
    result = gpu_check.main(["--small", "--device", "cpu", "--out", str(tmp_path), "--in-process"])
    assert "error" not in result["fast"], result["fast"].get("error")
    assert result["fast"]["pairs_per_second"] > 0 and result["fast"]["peak_memory_mb"] > 0
    assert len(result["fast"]["losses"]) == gpu_check.SMALL["steps"]
    assert result["max_loss_diff"] == 0.0  # the small mode trains fp32 on both sides: the same numbers
    assert result["max_metric_diff"] == pytest.approx(0.0, abs=1e-6)
    written = json.loads(next(tmp_path.glob("gpu-check-*-cpu-small.json")).read_text())
    assert written["plan"]["batch_size"] == gpu_check.SMALL["batch_size"]
    assert "| fast |" in next(tmp_path.glob("gpu-check-*.md")).read_text()


def test_the_full_check_refuses_a_machine_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(SystemExit, match="no GPU here"):
        gpu_check.main(["--out", "/nonexistent"])

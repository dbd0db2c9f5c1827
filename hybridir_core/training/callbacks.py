"""``transformers.TrainerCallback`` classes that the training attaches (importable and testable alone)."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
from transformers import TrainerCallback

from hybridir_core.runs.directory import StatusWriter


class StatusCallback(TrainerCallback):
    """Mirror training progress into ``status.json`` (phase "training", step, total, losses).

    Writes go through ``StatusWriter.progress`` (its throttle); evaluations and the ends of
    training are written at once. It also times *clean* steps (no evaluation or checkpoint in
    between) for an honest throughput.
    """

    def __init__(self, status: StatusWriter | None) -> None:
        self.status = status
        self.loss: float | None = None
        self.eval_loss: float | None = None
        self.started = time.time()
        self._last_end: float | None = None
        self._last_dirty = True
        self.clean_seconds = 0.0
        self.clean_steps = 0

    def _write(self, state, force: bool = False, **extra: Any) -> None:
        if self.status is None or not state.is_world_process_zero:
            return
        fields = dict(state="running", phase="training", step=state.global_step, total=state.max_steps,
                      loss=self.loss, eval_loss=self.eval_loss, phase_started=self.started, **extra)
        (self.status.update if force else self.status.progress)(**fields)

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.time()
        self._write(state, force=True, message="training")

    def on_step_end(self, args, state, control, **kwargs):
        now = time.time()
        if self._last_end is not None and not self._last_dirty:
            self.clean_seconds += now - self._last_end
            self.clean_steps += 1
        self._last_end = now
        # DefaultFlowCallback (first in the list) has already decided this step's work
        self._last_dirty = bool(control.should_evaluate or control.should_save)
        self._write(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "eval_loss" in logs:
            self.eval_loss = float(logs["eval_loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics and "eval_loss" in metrics:
            self.eval_loss = float(metrics["eval_loss"])
        message = f"validation loss {self.eval_loss:.4f}" if self.eval_loss is not None else ""
        self._write(state, force=True, message=message)

    def on_train_end(self, args, state, control, **kwargs):
        self._write(state, force=True, message="training finished")


class StartValidationRngGuard(TrainerCallback):
    """Undo what the step-0 validation draws from the random generators.

    Each evaluation's data loader draws its seed from torch's global generator, so a validation
    before the first step would shift every dropout mask after it: runs would no longer
    reproduce those trained without it. The states are saved when training begins and put back
    after the evaluation at step 0.
    """

    def __init__(self) -> None:
        self._saved: tuple | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        import torch

        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        self._saved = (random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda)

    def on_evaluate(self, args, state, control, **kwargs):
        if state.global_step != 0 or self._saved is None:
            return

        import torch

        python_state, numpy_state, torch_state, cuda = self._saved
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        self._saved = None


class SamplerEpochCallback(TrainerCallback):
    """Set the sampler's epoch at each epoch start.

    The trainer does it too, except when resuming under DDP, where accelerate's skip wrapper
    hides the sampler; ``floor(state.epoch)`` is the epoch about to run.
    """

    def __init__(self, samplers: dict) -> None:
        self.samplers = samplers

    def on_epoch_begin(self, args, state, control, **kwargs):
        sampler = self.samplers.get("train")
        if sampler is not None:
            sampler.set_epoch(int((state.epoch or 0.0) + 1e-9))

"""Progress for command-line runs: one tqdm bar per phase, mirrored into ``status.json``."""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from hybridir_core.runs.directory import StatusWriter


class ProgressReporter:
    """Callable ``(phase, done, total)``: a tqdm bar (rate and ETA) and ``status.json`` updates.

    The status writes go through ``StatusWriter.progress`` (the one throttle).
    """

    def __init__(self, status: StatusWriter | None) -> None:
        self.status = status
        self._bar: tqdm | None = None
        self._phase = ""
        self._phase_started = time.time()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            self._phase = phase
            self._bar = tqdm(total=total, desc=phase, unit="it", dynamic_ncols=True, leave=False)
            self._phase_started = time.time()
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        if self.status is not None:
            self.status.progress(state="running", phase=phase, step=done, total=total,
                                 phase_started=self._phase_started)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

"""Training progress: a rich bar on a terminal, plain log lines otherwise (CI logs, pipes)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, total: int, *, start: int = 0, log=print, every: int = 10, console: Console | None = None):
        self.total, self.start, self.log, self.every = total, start, log, every
        self.console = console or Console(stderr=True)
        self.bar = None
        self._t0 = self._seen = 0

    def __enter__(self):
        self._t0, self._seen = time.perf_counter(), 0
        if self.console.is_terminal:
            self.bar = RichProgress(TextColumn("step"), MofNCompleteColumn(), BarColumn(),
                                    TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} samples/s"),
                                    TextColumn("ETA"), TimeRemainingColumn(), console=self.console, transient=False)
            self.bar.start()
            self.task = self.bar.add_task("train", total=self.total, completed=self.start, loss="-", rate="-")
        return self

    def update(self, step: int, *, loss: float, samples: int) -> None:
        self._seen += samples
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        rate = self._seen / elapsed
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=f"{loss:.4f}", rate=f"{rate:.1f}")
        elif step % self.every == 0 or step == self.total:
            left = (self.total - step) * elapsed / max(step - self.start, 1)
            self.log(f"step {step}/{self.total}  loss {loss:.4f}  {rate:.1f} samples/s  ETA {left:.0f}s")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

"""Plain-text progress display for training (stderr, no extra dependency).

On a terminal one line is redrawn in place (step, epoch, loss, batch accuracy, ETA);
otherwise (a log file, a pipe) only one line per epoch is written.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_time(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:4.0f}s"
    m, s = divmod(int(seconds + 0.5), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    """Progress of a training run.

    Parameters
    ----------
    total_steps : int
        Steps of the whole run.
    stream : text stream, optional
        Default ``sys.stderr``.
    label : str
        Prefix of every line (e.g. the run file name).
    quiet : bool
        Write nothing at all.
    """

    def __init__(self, total_steps: int, *, stream: TextIO | None = None, label: str = "",
                 quiet: bool = False, width: int = 24) -> None:
        self.total = max(1, int(total_steps))
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.quiet = quiet
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._t0 = time.perf_counter()
        self._first_step: int | None = None
        self._last_draw = 0.0

    def step(self, step: int, epoch: int, loss: float, acc: float) -> None:
        """After step ``step`` (1-based, of ``total_steps``)."""
        if self.quiet or not self.tty:
            return
        if self._first_step is None:
            self._first_step = step - 1
            self._t0 = time.perf_counter()
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and step < self.total:
            return
        self._last_draw = now
        done = step - self._first_step
        rate = (now - self._t0) / max(done, 1)
        eta = rate * (self.total - step)
        frac = step / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        line = (f"{self.label}[{bar}] {step}/{self.total} ep {epoch} loss {loss:.4f} "
                f"acc {acc:.3f} ETA {_fmt_time(eta)}")
        self.stream.write("\r" + line[:150].ljust(80))
        self.stream.flush()

    def epoch(self, epoch: int, epochs: int, train_loss: float, train_acc: float,
              test_acc: float, step: int, seconds: float) -> None:
        """After epoch ``epoch`` (1-based)."""
        if self.quiet:
            return
        prefix = "\r" if self.tty else ""
        self.stream.write(f"{prefix}{self.label}epoch {epoch}/{epochs}  step {step}/"
                          f"{self.total}  loss {train_loss:.4f}  train acc {train_acc:.4f}  "
                          f"test acc {test_acc:.4f}  ({seconds:.1f} s)".ljust(80) + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (interruption, resume, ...)."""
        if self.quiet:
            return
        self.stream.write(("\n" if self.tty else "") + f"{self.label}{text}\n")
        self.stream.flush()

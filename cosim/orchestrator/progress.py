"""Progress display of every long command (training, demo, sweeps, validation, eval).

One class, :class:`Progress`, writes to stderr (or any text stream):

* on a terminal, a `tqdm <https://tqdm.github.io>`_ bar redrawn in place: position,
  rate, elapsed time, ETA and the fields of the last update (epoch, loss, accuracy, ...);
* otherwise (a log file, a pipe, a batch job's output) plain lines, one at the first
  update, then whenever ``interval_s`` seconds have passed or another tenth of the total
  is done, and one at the end, each with the same fields and the ETA, e.g.::

      run.h5: step 12/60 (20%) epoch 1 loss 1.9321 acc 0.344 elapsed 00:04 ETA 00:16

Lines of their own (an epoch summary, a check result, a message) go through
:meth:`Progress.write`, which on a terminal clears the bar first.  Computation never
creates one of these: it takes a callback (``on_step``, ``on_point``, ``progress``) and
the command line shows the progress (STYLE.md, principle 13).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Default seconds between two plain lines when the stream is not a terminal.
PLAIN_INTERVAL_S = 30.0
#: Plain lines are also written each time this fraction more of the total is done.
PLAIN_FRACTION = 0.1


def format_time(seconds: float) -> str:
    """``MM:SS`` or ``H:MM:SS`` (tqdm's format)."""
    from tqdm import tqdm

    return tqdm.format_interval(max(0.0, float(seconds)))


def _fmt_field(key: str, value) -> str:
    if isinstance(value, float):
        return f"{key} {value:.4f}" if abs(value) < 1e4 else f"{key} {value:.4g}"
    return f"{key} {value}"


class Progress:
    """Progress of ``total`` units of work (steps, points, checks, images).

    Parameters
    ----------
    total : int
        Units of the whole job (including ``initial``).
    stream : text stream, optional
        Default ``sys.stderr``.
    label : str
        Prefix of every line (e.g. the run file name and ``": "``).
    quiet : bool
        Write nothing at all.
    unit : str
        Name of one unit ("step", "point", "check", "image").
    initial : int
        Units already done before (a resumed run): the rate and ETA count only the rest.
    interval_s : float
        Plain-line mode: seconds between two lines (0: a line at every update).
    tty : bool, optional
        Force the terminal (bar) or plain mode; default: ``stream.isatty()``.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, label: str = "",
                 quiet: bool = False, unit: str = "step", initial: int = 0,
                 interval_s: float = PLAIN_INTERVAL_S, tty: bool | None = None) -> None:
        self.total = max(1, int(total))
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.quiet = quiet
        self.unit = unit
        self.initial = int(initial)
        self.interval_s = float(interval_s)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None \
            else bool(tty)
        self.done = self.initial
        self._t0 = time.perf_counter()
        self._last_line_t: float | None = None
        self._last_line_frac = -1.0
        self._bar = None

    # ------------------------------------------------------------------ generic
    def eta_s(self) -> float | None:
        """Seconds left at the rate since the start (None before the first unit)."""
        n = self.done - self.initial
        if n <= 0:
            return None
        rate = (time.perf_counter() - self._t0) / n
        return rate * (self.total - self.done)

    def update(self, done: int, **fields) -> None:
        """``done`` units are finished; ``fields`` (name: value) are shown beside."""
        self.done = int(done)
        if self.quiet:
            return
        if self.tty:
            bar = self._tqdm()
            if fields:
                bar.set_postfix_str(" ".join(_fmt_field(k, v) for k, v in fields.items()),
                                    refresh=False)
            bar.update(self.done - bar.n)
            return
        now = time.perf_counter()
        frac = self.done / self.total
        due = (self._last_line_t is None or now - self._last_line_t >= self.interval_s
               or frac - self._last_line_frac >= PLAIN_FRACTION - 1e-12
               or self.done >= self.total)
        if due:
            self._last_line_t, self._last_line_frac = now, frac
            self.stream.write(self.plain_line(fields) + "\n")
            self.stream.flush()

    def plain_line(self, fields: dict) -> str:
        """The plain-mode line of the current position with ``fields``."""
        eta = self.eta_s()
        parts = [f"{self.label}{self.unit} {self.done}/{self.total} "
                 f"({100 * self.done / self.total:.0f}%)"]
        parts += [_fmt_field(k, v) for k, v in fields.items()]
        parts.append(f"elapsed {format_time(time.perf_counter() - self._t0)}")
        parts.append(f"ETA {'?' if eta is None else format_time(eta)}")
        return " ".join(parts)

    def write(self, text: str, *, file: TextIO | None = None) -> None:
        """A line of its own (on a terminal: above the bar), prefixed with the label;
        with ``file`` (e.g. ``sys.stdout`` for a command's table) it goes there, without
        the label, even when ``quiet``."""
        out = self.stream if file is None else file
        if self.quiet and file is None:
            return
        line = text if file is not None else f"{self.label}{text}"
        if self._bar is not None:
            self._bar.write(line, file=out)
        else:
            out.write(line + "\n")
        out.flush()

    def close(self) -> None:
        """Remove the bar (terminal mode); nothing else changes."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tqdm(self):
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, file=self.stream,
                             desc=self.label.rstrip(": ") or None, unit=self.unit,
                             dynamic_ncols=True, leave=False, mininterval=0.2,
                             bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} ETA "
                                        "{remaining}, {rate_fmt}{postfix}]")
        return self._bar

    # ------------------------------------------------------------------ training
    def step(self, step: int, epoch: int, loss: float, acc: float) -> None:
        """After training step ``step`` (1-based, of ``total``)."""
        self.update(step, epoch=epoch, loss=float(loss), acc=float(acc))

    def epoch(self, epoch: int, epochs: int, train_loss: float, train_acc: float,
              test_acc: float, step: int, seconds: float) -> None:
        """After epoch ``epoch`` (1-based): one summary line."""
        self.write(f"epoch {epoch}/{epochs}  step {step}/{self.total}  loss "
                   f"{train_loss:.4f}  train acc {train_acc:.4f}  test acc {test_acc:.4f}  "
                   f"({seconds:.1f} s)")
        if step >= self.total:
            self.close()

    def message(self, text: str) -> None:
        """A line of its own (interruption, resume, ...); same as :meth:`write`."""
        self.write(text)

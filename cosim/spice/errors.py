"""SPICE failures, one class per kind, each carrying ngspice's own lines and the netlist."""

from __future__ import annotations

from cosim.errors import CosimError

_MAX_NETLIST_CHARS = 4000


def _shown(line: str) -> str:
    """A netlist line for display: non-printable characters escaped, never a line break."""
    if all("\x20" <= c <= "\x7e" for c in line):
        return line
    return repr(line)[1:-1]


class SpiceError(CosimError):
    """ngspice could not run a netlist.

    Attributes
    ----------
    reason : str
        One line naming the failure.
    ngspice_lines : tuple[str, ...]
        What ngspice printed that explains it (errors and warnings, informational lines
        removed).
    netlist : str
        The netlist text that was run.
    """

    hint = "check the netlist"

    def __init__(self, reason: str, ngspice_lines: tuple[str, ...] | list[str] = (),
                 netlist: str = "") -> None:
        self.reason = reason
        self.ngspice_lines = tuple(ngspice_lines)
        self.netlist = netlist
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{type(self).__name__}: {self.reason}", f"  fix: {self.hint}"]
        if self.ngspice_lines:
            parts.append("  ngspice said:")
            parts += [f"    | {line}" for line in self.ngspice_lines[-25:]]
        if self.netlist:
            text = self.netlist
            if len(text) > _MAX_NETLIST_CHARS:
                text = text[:_MAX_NETLIST_CHARS] + "\n... (truncated)"
            parts.append("  netlist:")
            parts += [f"    {i:4d}  {_shown(line)}" for i, line in enumerate(text.split("\n"), 1)]
        return "\n".join(parts)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.reason, self.ngspice_lines, self.netlist))


class NgspiceNotFoundError(SpiceError):
    hint = ("install ngspice's shared library: `sudo apt-get install -y ngspice libngspice0` "
            "(Debian/Ubuntu), or set COSIM_NGSPICE_LIBRARY to the path of libngspice.so")


class SpiceSyntaxError(SpiceError):
    hint = "correct the netlist line ngspice names above"


class DeckRefusedError(SpiceSyntaxError):
    """The text is outside the grammar the netlist core renders; ngspice never saw it."""

    hint = ("build the circuit with cosim.netlist (or read a file with parse_netlist), which "
            "renders only what ngspice may run; control lines, shell commands, non-ASCII "
            "characters and includes of files outside netlists/ are never sent")


class UnknownModelError(SpiceError):
    hint = "define the .model / .subckt, or .include the library that defines it"


class UnknownNodeError(SpiceError):
    hint = "an expression or output refers to a node or vector that does not exist"


class SingularMatrixError(SpiceError):
    hint = ("a node has no DC path to ground (floating) or sources form a loop; connect it "
            "through a resistor (e.g. 1 GOhm to ground) or remove the loop")


FloatingNodeError = SingularMatrixError


class ConvergenceError(SpiceError):
    hint = ("the Newton iteration did not converge; check device parameters, add series "
            "resistance, or relax reltol / use method=gear")


class TimestepTooSmallError(ConvergenceError):
    hint = ("the transient step collapsed; limit the maximum step (Tran.max_step_s), smooth "
            "abrupt edges, or use method=gear")


class SpiceTimeoutError(SpiceError):
    hint = "the run exceeded its time limit; shorten the analysis or raise timeout_s"


class SpiceCrashError(SpiceError):
    hint = "the ngspice worker process died; the worker was replaced, retry the run"

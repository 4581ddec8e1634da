"""The code that runs inside one ngspice worker process.

ngspice's shared library holds one circuit per process, prints to callbacks, can crash
and can leave itself unusable ("cannot recover and awaits to be detached").  Each worker
process therefore loads the library once, runs one netlist at a time, sorts ngspice's
output into informational lines (ignored) and failures (classified into SpiceError
subclasses), frees the circuit after each run, and exits when the library says it can
no longer be used.  The parent (cosim.spice.engine) replaces it.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import re
from typing import Any

import numpy as np

from cosim.spice.errors import DeckRefusedError
from cosim.spice.gate import check_deck

# Lines ngspice prints that are progress or information, never failures on their own.
_INFO_PATTERNS = re.compile(
    r"^(Note:|Trying gmin|Supplies reduced|Using SPARSE|Unsupported Ngspice version|"
    r"Doing analysis at TEMP|No\. of Data Rows|Reference value|Circuit:|binary raw file|"
    r"Warning: (Dynamic )?gmin step(ping)? failed|Warning: source stepping failed|"
    r"Warning: True gmin stepping failed|Warning: Last gmin step failed|"
    r"Warning: Further gmin increment|Warning: singular matrix|Warning: gmin step failed|"
    r"Initial Transient Solution|Node\s+Voltage|Node\s+Last Voltage|-{3,}|----\s|"
    r"Source\s+Current|Total analysis time|Total elapsed time|Total DRAM|"
    r"Warning: No compatibility mode|Warning: Unsupported|\s*$)")

_FATAL = "cannot recover"


def library_path() -> str:
    """The ngspice shared library to load: $COSIM_NGSPICE_LIBRARY or the system's."""
    env = os.environ.get("COSIM_NGSPICE_LIBRARY")
    if env:
        return env
    found = ctypes.util.find_library("ngspice")
    return found or "libngspice.so.0"


class _Session:
    """One loaded ngspice library with quiet output capture."""

    def __init__(self) -> None:
        for name in ("PySpice", "PySpice.Spice.NgSpice.Shared"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 10)
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi

        class _Quiet(NgSpiceShared):
            @staticmethod
            def _send_char(message_c, ngspice_id, user_data):  # noqa: ARG004
                self = ffi.from_handle(user_data)
                text = ffi.string(message_c).decode("utf-8", "replace")
                stream, _, content = text.partition(" ")
                (self._stderr if stream == "stderr" else self._stdout).append(content)
                return 0

        self.ffi = ffi
        _Quiet.LIBRARY_PATH = library_path()
        self.ng = _Quiet(ngspice_id=0, send_data=False)
        self.lib = self.ng._ngspice_shared
        self.version = self._version()

    def _version(self) -> str:
        out = self.command("version -f")
        for line in out:
            m = re.search(r"ngspice-(\S+)", line)
            if m:
                return m.group(1)
        return "unknown"

    def command(self, cmd: str) -> list[str]:
        self.ng._stdout.clear()
        self.ng._stderr.clear()
        self.lib.ngSpice_Command(cmd.encode("ascii"))
        return list(self.ng._stdout) + list(self.ng._stderr)

    def load(self, text: str) -> tuple[int, list[str], list[str]]:
        self.ng._stdout.clear()
        self.ng._stderr.clear()
        # The gate has passed ``text`` (printable ASCII and "\n" only), so splitting on
        # "\n" gives exactly the lines it checked.
        keep = [self.ffi.new("char[]", line.encode("ascii")) for line in text.split("\n")]
        keep.append(self.ffi.new("char[]", b""))
        arr = self.ffi.new("char *[]", keep + [self.ffi.NULL])
        rc = self.lib.ngSpice_Circ(arr)
        return rc, list(self.ng._stdout), list(self.ng._stderr)

    def plots(self) -> list[str]:
        names = []
        ptr = self.lib.ngSpice_AllPlots()
        i = 0
        while ptr[i] != self.ffi.NULL:
            names.append(self.ffi.string(ptr[i]).decode())
            i += 1
        return [n for n in names if n != "const"]

    def vectors(self, plot: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        ptr = self.lib.ngSpice_AllVecs(plot.encode())
        i = 0
        while ptr[i] != self.ffi.NULL:
            name = self.ffi.string(ptr[i]).decode()
            i += 1
            info = self.lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
            if info == self.ffi.NULL:
                continue
            n = info.v_length
            if info.v_compdata != self.ffi.NULL:
                raw = np.frombuffer(self.ffi.buffer(info.v_compdata, 16 * n), dtype=np.float64)
                arr = (raw[0::2] + 1j * raw[1::2]).copy()
            else:
                arr = np.frombuffer(self.ffi.buffer(info.v_realdata, 8 * n),
                                    dtype=np.float64).copy()
            out[name.lower()] = arr
        return out

    def reset(self) -> None:
        self.command("destroy all")
        self.command("remcirc")


def _meaningful(lines: list[str]) -> list[str]:
    return [ln.rstrip("\r") for ln in lines if not _INFO_PATTERNS.match(ln)]


def classify_load(lines: list[str]) -> str | None:
    """Error class name for a failed circuit load, or None if it loaded."""
    text = "\n".join(lines).lower()
    if "can't find model" in text or "could not find a valid modelname" in text \
            or "unknown subckt" in text or "unable to find definition of model" in text \
            or "no model" in text:
        return "UnknownModelError"
    if "error" in text or _FATAL in text or "please check your input" in text:
        return "SpiceSyntaxError"
    return None


def classify_run(lines: list[str], kind: str) -> str | None:
    """Error class name for a failed or suspect run, or None if it is sound.

    A run that ngspice aborted is classified by its cause; a run that finished but needed
    gmin stepping past a singular matrix is still refused (its operating point is set by
    gmin, not by the circuit): SingularMatrixError.
    """
    text = "\n".join(lines).lower()
    if "timestep too small" in text:
        return "TimestepTooSmallError" if kind == "tran" else "ConvergenceError"
    if "no such vector" in text or "unknown node" in text or "could not find" in text:
        return "UnknownNodeError"
    if "iteration limit" in text or "did not converge" in text or "aborted" in text:
        return "ConvergenceError"
    if "singular matrix" in text:
        return "SingularMatrixError"
    if "error" in text:
        return "SpiceSyntaxError" if "circuit not parsed" in text else "ConvergenceError"
    return None


def _run_one(session: _Session, text: str, kind: str) -> dict[str, Any]:
    try:
        check_deck(text, kind)  # the last moment before ngspice sees the text
    except DeckRefusedError as exc:
        return {"status": "error", "error": "DeckRefusedError", "reason": exc.reason,
                "lines": [], "fatal": False}
    session.reset()
    rc, out, err = session.load(text)
    all_load = out + err
    fatal = any(_FATAL in ln for ln in all_load)
    failure = classify_load(err + [ln for ln in out if "error" in ln.lower()])
    if rc != 0 or failure:
        return {"status": "error", "error": failure or "SpiceSyntaxError",
                "reason": "ngspice could not load the netlist",
                "lines": _meaningful(all_load), "fatal": fatal}
    run_out = session.command("run")
    fatal = any(_FATAL in ln for ln in run_out)
    singular = [ln for ln in run_out if "singular matrix" in ln.lower()]
    plots = session.plots()
    failure = classify_run(_meaningful(run_out) + singular, kind)
    if failure or not plots:
        lines = _meaningful(run_out)
        lines += [ln for ln in dict.fromkeys(singular) if ln not in lines]
        reason = {
            "SingularMatrixError": "singular matrix (floating node or voltage-source loop)",
            "TimestepTooSmallError": "transient timestep too small",
            "ConvergenceError": f"{kind} analysis did not converge",
            "UnknownNodeError": "reference to an unknown node or vector",
        }.get(failure or "", "the analysis produced no data")
        node = re.search(r"check node (\S+)", "\n".join(run_out))
        if node:
            reason += f" at node {node.group(1)!r}"
        return {"status": "error", "error": failure or "ConvergenceError", "reason": reason,
                "lines": lines or run_out[-10:], "fatal": fatal}
    vectors: dict[str, np.ndarray] = {}
    for plot in plots:
        vectors.update(session.vectors(plot))
    return {"status": "ok", "vectors": vectors, "version": session.version, "fatal": fatal}


def worker_main(conn) -> None:
    """Entry point of a worker process: serve run requests on ``conn`` until told to stop
    (or until the parent process is gone: :func:`cosim.processes.watch_env_parent`)."""
    from cosim.processes import watch_env_parent

    watch_env_parent()
    try:
        session = _Session()
    except OSError as exc:
        conn.send({"status": "error", "error": "NgspiceNotFoundError",
                   "reason": f"cannot load the ngspice shared library ({library_path()}): {exc}",
                   "lines": [], "fatal": True})
        return
    conn.send({"status": "ready", "version": session.version, "pid": os.getpid()})
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            text, kind = request
        except (TypeError, ValueError):
            conn.send({"status": "error", "error": "DeckRefusedError",
                       "reason": "refused before ngspice: a request is (text, kind)",
                       "lines": [], "fatal": False})
            continue
        try:
            reply = _run_one(session, text, kind)
        except Exception as exc:  # report, never die silently
            reply = {"status": "error", "error": "SpiceError",
                     "reason": f"internal error in the ngspice worker: {exc!r}",
                     "lines": [], "fatal": True}
        conn.send(reply)
        if reply.get("fatal"):
            return


if __name__ == "__main__":
    import sys
    from multiprocessing.connection import Connection

    worker_main(Connection(int(sys.argv[1])))

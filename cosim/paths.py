"""Files and directories the tool reads or writes for the user.

Every failure of the operating system on such a path (missing, a directory where a file
is expected, a file where a directory is expected, no permission, read-only or full file
system, a file locked by another process) becomes a :class:`cosim.errors.FileAccessError`
whose message names the path, what it was for, the reason and the fix.  The CLI prints it
as one line and exits with status 2.

Caches (compiled kernels, the result cache, matplotlib's configuration) are conveniences:
when their default place cannot be written (read-only install, unwritable or missing
HOME) they move to :func:`fallback_dir` or are switched off with a note.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cosim.errors import FileAccessError

_REASONS = {
    errno.ENOENT: "does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a directory, not a file",
    errno.ENOTDIR: "is a file where a directory is needed",
    errno.EEXIST: "exists and is not a directory",
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "name too long",
    errno.EAGAIN: "is locked by another process",
}


def describe_os_error(exc: OSError) -> str:
    """Short reason of an OS error, without the path (e.g. ``"permission denied"``)."""
    if exc.errno == errno.ENOTDIR and exc.filename is not None and \
            not Path(exc.filename).exists():
        return "has a parent that is a file, not a directory"
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    text = str(exc)
    if "lock" in text.lower():  # h5py reports HDF5's file lock without an errno
        return "is locked by another process (HDF5 file lock)"
    return (exc.strerror or text or type(exc).__name__).lower()


@contextlib.contextmanager
def user_path(path: str | os.PathLike, what: str, fix: str) -> Iterator[None]:
    """Turn an :class:`OSError` raised inside the block into a
    :class:`~cosim.errors.FileAccessError` naming ``what`` (e.g. ``"run file"``),
    ``path``, the reason and ``fix`` (what the user should do).

    Keep the block to the file-system calls on ``path``: an OSError of anything else
    would be reported as if ``path`` had caused it.
    """
    try:
        yield
    except FileAccessError:
        raise
    except OSError as exc:
        where = str(path)
        culprit = getattr(exc, "filename", None)
        if culprit is not None and str(culprit) != where:
            where = f"{where} ({culprit})"
        raise FileAccessError(f"{what} {where}: {describe_os_error(exc)}; {fix}") from None


def read_user_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of a file named by the user (a config, a spec, a card).

    Raises :class:`~cosim.errors.FileAccessError` for a missing or unreadable path, a
    directory, or content that is not UTF-8 text (UTF-16 is recognised by its byte order
    mark and named).
    """
    path = Path(path)
    with user_path(path, what, "give the path of a readable UTF-8 text file"):
        raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileAccessError(f"{what} {path}: is UTF-16 text; save it as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileAccessError(f"{what} {path}: is not UTF-8 text (byte {exc.start} is "
                              f"0x{raw[exc.start]:02x}; a binary file?); give a UTF-8 "
                              f"text file") from None
    if "\x00" in text:
        raise FileAccessError(f"{what} {path}: contains NUL bytes (a binary file?); give a "
                              f"UTF-8 text file")
    return text.removeprefix("\ufeff")


def unwritable_reason(directory: str | os.PathLike) -> str | None:
    """None if ``directory`` exists (or can be made) and a file can be created in it,
    else the reason.  Tries for real rather than asking :func:`os.access`, which says
    yes to root on read-only mounts."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=d, prefix=".cosim-probe-"):
            pass
    except OSError as exc:
        return f"{d}: {describe_os_error(exc)}"
    return None


def fallback_dir(name: str) -> Path:
    """``<tmp>/cosim-<uid>/<name>``: where a cache goes when its default place is not
    writable (a temporary directory of this user; lost on reboot)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"cosim-{uid}" / name

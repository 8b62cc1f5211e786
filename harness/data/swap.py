"""Regenerate a whole folder safely: build it beside the old one, then swap it in.

``bench data synth --out D`` and ``bench data video --out D`` write into :func:`staged_folder`'s
temporary sibling ``.D.bench-new-*`` (same parent, so the same file system) and only when every
file, completion marker last, is written is it swapped with ``D``:

* where Linux offers ``renameat2(RENAME_EXCHANGE)``, the two folders trade names in one atomic
  step, so a kill at any moment leaves either the whole old folder or the whole new one at ``D``;
* elsewhere ``D`` is renamed to ``.D.bench-old-*`` and the new folder to ``D``; a kill between
  the two leaves the old folder whole under its hidden name, and the next regeneration (or
  :func:`recover`) renames it back first.

The hidden names carry the process id: a regeneration cleans up only what processes that are no
longer running left, so two ``bench run`` filling the same cache folder at once do not disturb
each other (each swaps in a complete copy).

The old folder is deleted only after the new one is in place, so fewer images leave no stale
extras. A folder that holds anything else than what the generator writes is refused, never
replaced: ``--out`` pointed at the wrong folder cannot delete a user's files.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "d"
    >>> with staged_folder(out, owned=("a.txt",)) as build:
    ...     _ = (build / "a.txt").write_text("new")
    >>> (out / "a.txt").read_text(), sorted(p.name for p in out.parent.iterdir())
    ('new', ['d'])
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.errors import InputError, expected

__all__ = ["recover", "staged_folder"]

_NEW, _OLD = ".bench-new-", ".bench-old-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _siblings(out: Path, tag: str) -> list[Path]:
    """Hidden siblings ``.<name><tag><pid>-*`` left by processes that are no longer running
    (another process regenerating the same folder right now keeps its own)."""
    parent = out.parent
    if not parent.is_dir():
        return []
    prefix = f".{out.name}{tag}"
    found = []
    for p in parent.iterdir():
        if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink():
            pid = p.name[len(prefix):].split("-", 1)[0]
            if not (pid.isdigit() and _alive(int(pid))):
                found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers (none while we run) are stale by definition
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def recover(out: Path) -> None:
    """Undo what a killed regeneration left: restore an old folder caught between two renames,
    and delete unfinished builds and old folders whose new one is in place."""
    out = Path(out)
    olds = _siblings(out, _OLD)
    if not out.exists() and olds:
        os.rename(olds[-1], out)  # the kill fell between the two renames: the old folder comes back
        olds = olds[:-1]
    for leftover in _siblings(out, _NEW) + olds:
        shutil.rmtree(leftover, ignore_errors=True)


def _check_replaceable(out: Path, owned: Iterable[str]) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(expected("a folder (or a path to create)", "a file" if out.is_file() else "a link or device",
                                  str(out)))
    if not out.exists():
        return
    owned = set(owned)
    others = sorted(p.name for p in out.iterdir() if p.name not in owned and not p.name.startswith("."))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise InputError(expected(f"an empty folder or one written by bench ({', '.join(sorted(owned))})",
                                  f"other files in it ({shown}); choose another --out", str(out)))


def _exchange(a: Path, b: Path) -> bool:
    """Atomically trade the names of two existing paths (Linux ``renameat2``); False when unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(build: Path, out: Path) -> None:
    if not out.exists():
        os.rename(build, out)
        return
    if _exchange(build, out):  # build now holds the old folder
        shutil.rmtree(build, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}{_OLD}{os.getpid()}-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    os.rename(build, out)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(out: Path, *, owned: Iterable[str]) -> Iterator[Path]:
    """Yield an empty folder beside ``out``; swap it in as ``out`` when the block succeeds.

    Args:
        out: the folder to (re)generate; its parent is created.
        owned: the names the generator writes at the top of ``out``; an existing ``out`` holding
            anything else (not hidden) is refused.

    Raises:
        InputError: ``out`` is a file, holds other files, or the disk filled up / is not writable
            (the old folder is then left as it was and the unfinished build removed).
    """
    out = Path(out)
    owned = tuple(owned)
    if out.exists() and not out.is_dir():
        _check_replaceable(out, owned)
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise InputError(expected("a folder", "a file", str(blocker)))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        recover(out)
    except OSError as exc:
        raise InputError(expected("a writable folder", f"{exc.strerror or exc}", str(exc.filename or out.parent))) from None
    _check_replaceable(out, owned)
    try:
        build = Path(tempfile.mkdtemp(prefix=f".{out.name}{_NEW}{os.getpid()}-", dir=out.parent))
    except OSError as exc:
        raise InputError(expected("a writable folder", f"{exc.strerror or exc}", str(out.parent))) from None
    try:
        yield build
        _swap_in(build, out)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        what = "free space to write" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "a writable folder"
        raise InputError(expected(what, f"{exc.strerror or exc} (the old {out.name} is untouched)", str(out))) from None
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise

"""The archive: run records stored by identity, one JSON file per run.

Layout (the path is the identity, no index file)::

    <root>/<release>/<device profile>/<model name>/<run id>.json

The root is ``--archive DIR`` if given, else ``$BENCH_ARCHIVE``, else
``./bench-archive`` (relative to the working directory), see :func:`default_root`.

Writes are atomic and never overwrite: the record is written to a hidden temp
file in the target directory, flushed and fsynced, then hard-linked to its final
name (``link`` fails if the name exists, so two writers can never clobber each
other) and the directory is fsynced. A reader therefore sees either no file or
a complete one; a killed writer can leave only a hidden ``.<run id>.json.*.tmp``
file, which listings ignore (``bench history`` counts them).

Example:
    >>> import tempfile
    >>> archive = Archive(tempfile.mkdtemp())
    >>> archive.runs()
    []
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import InputError, expected
from results.schema import RUN_ID_RE, Record, check_name, validate_record

__all__ = ["ARCHIVE_ENV", "DEFAULT_ARCHIVE", "Archive", "RunRef", "check_writable_root", "default_root",
           "load_record"]

ARCHIVE_ENV = "BENCH_ARCHIVE"
DEFAULT_ARCHIVE = "bench-archive"
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


def default_root(arg: str | os.PathLike | None = None, *, env: Mapping[str, str] = os.environ) -> Path:
    """The archive root: ``arg``, else ``$BENCH_ARCHIVE``, else ``./bench-archive``.

    Example:
        >>> default_root(None, env={"BENCH_ARCHIVE": "/data/bench"})
        PosixPath('/data/bench')
    """
    if arg:
        return Path(arg)
    if env.get(ARCHIVE_ENV):
        return Path(env[ARCHIVE_ENV])
    return Path(DEFAULT_ARCHIVE)



def check_writable_root(root: str | os.PathLike) -> Path:
    """Pre-flight: ``root`` is (or can be created as) a folder this process can write a record into.

    Nothing is created: an existing root gets a probe file (made and removed), a missing one is
    checked through its nearest existing parent.

    Raises:
        InputError: the root or a parent is a file, or the folder is not writable (read-only, no room).

    Example:
        >>> import tempfile
        >>> check_writable_root(Path(tempfile.mkdtemp()) / "new" / "archive").name
        'archive'
    """
    root = Path(root)
    probe = root
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(expected("an archive folder", f"{probe} is a file" if probe.exists() else "no such folder",
                                  f"archive {root}"))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".bench-write-check.", dir=probe)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(expected("a writable archive folder", f"{exc.__class__.__name__}: {exc.strerror or exc}",
                                  str(probe))) from None
    return root

def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (absent values are null)")


def load_record(path: str | os.PathLike) -> Record:
    """Read, parse, validate and migrate one record file.

    Raises:
        InputError: the file is missing, unreadable, not JSON or not a valid record;
            the message names the file (and line or JSON path).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(expected("an existing record file", "no such file", str(path))) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(expected("a readable UTF-8 record file", f"{exc.__class__.__name__}: {exc}", str(path))) from exc
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(expected("a complete JSON record", f"invalid JSON ({exc.msg})",
                                  f"{path} line {exc.lineno} column {exc.colno}")) from exc
    except ValueError as exc:  # NaN/Infinity, or an integer longer than Python's digit limit
        raise InputError(expected("finite numbers", str(exc).split(";")[0], str(path))) from exc
    except RecursionError:
        raise InputError(expected("a record (JSON nested a few levels deep)", "JSON nested too deeply to read",
                                  str(path))) from None
    try:
        return validate_record(obj, str(path))
    except RecursionError:
        raise InputError(expected("a record (JSON nested a few levels deep)", "JSON nested too deeply to check",
                                  str(path))) from None
    except OverflowError:
        raise InputError(expected("numbers that fit a 64-bit float", "an integer too large", str(path))) from None


@dataclass(frozen=True)
class RunRef:
    """One record file in the archive; ``problem`` is set (and ``record`` None) when unreadable."""

    path: Path
    release: str
    device: str
    model: str
    run_id: str
    created_utc: str | None = None
    problem: str | None = None
    record: Record | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the file holds a valid record."""
        return self.problem is None


class Archive:
    """Run records under one root directory.

    Args:
        root: the archive directory (created on the first save).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._cache: dict[Path, tuple[tuple[int, int], RunRef]] = {}

    def path_for(self, record: Record) -> Path:
        """Where ``record`` lives: ``<root>/<release>/<device>/<model>/<run id>.json``."""
        return self.root / record.release / record.device.profile / record.model.name / f"{record.run_id}.json"

    def save(self, record: Record | Mapping) -> Path:
        """Validate and store a record atomically; never overwrite an existing one.

        Args:
            record: a :class:`Record` or a record dict (e.g. from :func:`results.record.new_record`).

        Returns:
            The path of the new file.

        Raises:
            InputError: the record is invalid, or a record with this run id is already archived.
        """
        if not isinstance(record, Record):
            record = validate_record(record, "record to save")
        payload = (json.dumps(record.to_dict(), indent=1, allow_nan=False, ensure_ascii=False) + "\n").encode()
        target = self.path_for(record)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise InputError(expected("a writable archive directory", f"{exc.__class__.__name__}: {exc}",
                                      str(target.parent))) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o644)
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            _publish(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise InputError(expected("room to write the record", f"{exc.__class__.__name__}: {exc}",
                                      str(target))) from exc
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        return target

    def load(self, path: str | os.PathLike) -> Record:
        """Load one record and check it sits where its identity says it should.

        Raises:
            InputError: unreadable or invalid, or its release/device/model/run id differ from its path.
        """
        path = Path(path)
        record = load_record(path)
        if path.resolve().is_relative_to(self.root.resolve()):
            want = self.path_for(record)
            if path.resolve() != want.resolve():
                raise InputError(expected(f"the record to live at {want}", f"it lies at {path}", str(path)))
        return record

    def runs(self, release: str | None = None, device: str | None = None,
             model: str | None = None) -> list[RunRef]:
        """Every record file matching the filters, oldest first.

        Unreadable or invalid files are included with ``problem`` set (never raised), so
        callers can report them by name and go on. Hidden temp files are ignored.
        """
        for value, what in ((release, "a release name"), (device, "a device profile"), (model, "a model name")):
            if value is not None:
                check_name(value, what, "archive filter")
        refs = []
        for release_dir in _subdirs(self.root, release):
            for device_dir in _subdirs(release_dir, device):
                for model_dir in _subdirs(device_dir, model):
                    for entry in sorted(os.scandir(model_dir), key=lambda e: e.name):
                        if entry.name.startswith(".") or not entry.name.endswith(".json") or not entry.is_file():
                            continue
                        refs.append(self._ref(Path(entry.path), entry.stat()))
        return sorted(refs, key=lambda r: (r.created_utc or "", r.run_id, str(r.path)))

    def releases(self) -> list[str]:
        """Release names in the order of their first run."""
        first: dict[str, str] = {}
        for ref in self.runs():
            key = ref.created_utc or "~"
            if ref.release not in first or key < first[ref.release]:
                first[ref.release] = key
        return sorted(first, key=lambda r: (first[r], r))

    def stale_temp_files(self) -> list[Path]:
        """Hidden temp files left by writers that were killed mid-write (safe to delete)."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*/*/*/.*.tmp") if p.is_file())

    def resolve(self, ref: str, *, device: str | None = None, model: str | None = None) -> list[RunRef]:
        """Readable runs named by ``ref``: a run id, a release (its newest run per device and
        model), or the path of a record file.

        Raises:
            InputError: nothing readable matches; the message says what the archive holds.
        """
        if ref.endswith(".json") or os.sep in ref or (os.altsep and os.altsep in ref):
            # a path: a missing or unreadable file is said as such, never "expected a release name"
            record = load_record(ref)
            return [RunRef(Path(ref), record.release, record.device.profile, record.model.name,
                           record.run_id, record.created_utc, None, record)]
        filters = "".join(f" {k} {v}" for k, v in (("device", device), ("model", model)) if v)
        if RUN_ID_RE.match(ref):
            found = [r for r in self.runs(device=device, model=model) if r.run_id == ref]
            if not found:
                raise InputError(expected(f"a run id archived in {self.root}{filters}", ref, "run argument"))
            if not found[0].ok:
                raise InputError(found[0].problem)
            return found[:1]
        check_name(ref, "a release name, run id or record file", "run argument")
        runs = [r for r in self.runs(release=ref, device=device, model=model) if r.ok]
        if not runs:
            known = ", ".join(self.releases()) or "none"
            raise InputError(expected(f"readable runs of release {ref!r}{filters} in {self.root}",
                                      f"none (releases: {known})", "run argument"))
        newest: dict[tuple[str, str], RunRef] = {}
        for r in runs:  # oldest first, so the last one wins
            newest[(r.device, r.model)] = r
        return [newest[k] for k in sorted(newest)]

    def previous(self, record: Record) -> RunRef | None:
        """The newest readable run of the same device and model from another release,
        created before ``record`` (the baseline a report compares against), or None."""
        earlier = [r for r in self.runs(device=record.device.profile, model=record.model.name)
                   if r.ok and r.release != record.release and r.created_utc is not None
                   and r.record.created < record.created]
        return earlier[-1] if earlier else None

    def _ref(self, path: Path, stat: os.stat_result) -> RunRef:
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        model_dir = path.parent
        release, device, model = model_dir.parent.parent.name, model_dir.parent.name, model_dir.name
        run_id = path.name[:-len(".json")]
        try:
            record = self.load(path)
        except InputError as exc:
            ref = RunRef(path, release, device, model, run_id, None, str(exc))
        else:
            ref = RunRef(path, release, device, model, run_id, record.created_utc, None, record)
        self._cache[path] = (key, ref)
        return ref


def _subdirs(parent: Path, only: str | None) -> list[Path]:
    if only is not None:
        candidate = parent / only
        return [candidate] if candidate.is_dir() and not only.startswith(".") else []
    if not parent.is_dir():
        return []
    return sorted(Path(e.path) for e in os.scandir(parent) if e.is_dir() and not e.name.startswith("."))


def _publish(tmp: str, target: Path) -> None:
    """Give the complete temp file its final name without ever replacing an existing file."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise InputError(expected("a new run id", f"{target.stem} is already archived", str(target))) from None
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    # No hard links on this filesystem (e.g. FAT): reserve the name exclusively, then
    # replace the empty placeholder. A kill between the two leaves an empty file, which
    # listings report as unreadable (never a partial record).
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        raise InputError(expected("a new run id", f"{target.stem} is already archived", str(target))) from None
    os.replace(tmp, target)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows cannot open directories; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

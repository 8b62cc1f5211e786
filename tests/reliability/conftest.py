"""Shared helpers for the reliability tests: a real small tmpfs, the bench command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real tmpfs of 256 KiB mounted under tmp_path (root only), so 'disk full' is the kernel's ENOSPC."""

    def mount(size: str = "256k") -> Path:
        where = tmp_path / f"tmpfs-{size}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip() or done.returncode}")
        mounted.append(where)
        return where

    mounted: list[Path] = []
    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def bench_env(**extra: str) -> dict:
    env = dict(os.environ, YOLO_OFFLINE="true", YOLO_AUTOINSTALL="false")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def bench(*args: str, timeout: float = 120, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run ``python -m harness ARGS`` (the bench command) and capture its output."""
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, env=bench_env(**env), cwd=cwd)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """Assert the process failed with exit 2 and one 'bench: error:' line, the last thing on stderr
    (progress lines before it are fine); return it."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    errors = [line for line in lines if line.startswith("bench: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return errors[0]

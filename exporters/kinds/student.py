"""The ``student`` model kind: a distilled student checkpoint (``bench train --teacher``) in the source's place.

Example:
    >>> StudentOptions().student_source is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected
from exporters.kinds.base import Kind, option
from exporters.source import SourceModel, inspect_source
from exporters.stage import Stage

__all__ = ["KIND", "StudentOptions"]

NO_STUDENT = (
    "the student variant needs a distilled student checkpoint: pass student_source / --student "
    "(a .pt trained by distillation from this model)"
)


@dataclass(frozen=True)
class StudentOptions:
    """Options of student variants."""

    student_source: Path | None = option(Path, None, "the distilled student .pt for the student variants",
                                         flags=("--student",))


def _prepare(stage: Stage) -> None:
    if stage.options["student"].student_source is None:
        raise InputError(NO_STUDENT)


def _checkpoint(stage: Stage) -> SourceModel:
    src = stage.src
    student_source = stage.options["student"].student_source
    student = inspect_source(Path(student_source))
    if student.kind != "pt":
        raise InputError(expected("a student .pt checkpoint", Path(student_source).suffix, str(student_source)))
    if student.names != src.names:
        raise InputError(expected(f"a student with the same {src.nc} classes as the source model",
                                  f"{student.nc} classes {list(student.names)[:5]}", str(student_source)))
    return student


KIND = Kind("student", "model", "student: a distilled student checkpoint, same classes as the model",
            options=StudentOptions, prepare=_prepare, build=_checkpoint)

"""The blocks a report is built from (headings, paragraphs, tables, images), rendered to Markdown and HTML
by :mod:`results.report`; sections are built from them by :mod:`results.report` and :mod:`results.report_val`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bullets", "Code", "Heading", "Image", "Para", "Table"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()  # HTML only: "bad" / "good" highlight a row


@dataclass(frozen=True)
class Image:
    path: str  # relative to the output directory, forward slashes
    alt: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    text: str

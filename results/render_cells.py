"""The run table's column model and its cells: what each column is and how a variant fills it.

The table side of :mod:`results.render` (the one renderer, which re-exports the public names here):
:class:`Column` / :data:`COLUMNS`, :class:`Row` and :class:`RunTable`, and one variant's cells in
the formats of :mod:`results.format`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from results import format as fmt
from results.answer import drop_source
from results.schema import Record, Variant, VsModel
from results.validity import Validity

__all__ = ["COLUMNS", "SUB_ROW", "Column", "Row", "RunTable"]

SUB_ROW = "  └ vs teacher"


@dataclass(frozen=True)
class Column:
    """One column of the run table.

    Attributes:
        key: the cell key.
        header: the header in Markdown / HTML (one line).
        terminal: the header on the terminal (may break over two lines to save width).
        definition: what the column means (printed under the table and in the report).
        right: right-justified.
        leave_out: on a narrow terminal, columns are left out in increasing order of this
            (None: always shown).
        needs: the kind of measurement the column shows (``"accuracy"``, ``"power"``); a column
            whose kind the run did not measure at all is not shown.
    """

    key: str
    header: str
    terminal: str
    definition: str
    right: bool = True
    leave_out: int | None = None
    needs: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("variant", "variant", "variant", "", right=False),
    Column("mb", "MB", "MB", "artifact size in MB", leave_out=1),
    Column("fps", "FPS", "FPS", "frames per second, one frame end to end in sequence (decode excluded)"),
    Column("fps_batch", "FPS@bN", "FPS\n@bN", "images per second at batch N (bench run --batch N): N frames per "
           "call on the artifact exported with a static batch N", needs="batch"),
    Column("e2e_p50", "e2e p50 ms", "e2e p50\nms", "one frame end to end (preprocess + inference + "
           "postprocess), median latency"),
    Column("e2e_p99", "e2e p99 ms", "e2e p99\nms", "the same, 99th percentile", leave_out=3),
    Column("inf_p50", "inf p50 ms", "inf p50\nms", "the inference call alone, median latency (what "
           "bench compare judges)", leave_out=2),
    Column("map", "mAP50-95", "mAP\n50-95", "COCO mAP50-95 against the ground truth", needs="accuracy"),
    Column("drop", "mAP drop [95% CI]", "mAP drop\n[95% CI]", "mAP50-95 points lost against FP32 "
           "(positive = worse) with its 95% paired-bootstrap interval", needs="accuracy"),
    Column("pct", "%FP32", "%FP32", "mAP50-95 as a share of FP32's", leave_out=4, needs="accuracy"),
    Column("iou", "avg IoU", "avg\nIoU", "average IoU per frame of the boxes matched to ground truth",
           leave_out=5, needs="accuracy"),
    Column("agree", "agree", "agree", "agreement with FP32's boxes: mean IoU of the matched boxes"),
    Column("w", "W", "W", "mean power over the timed window", leave_out=7, needs="power"),
    Column("jpf", "J/frame", "J/\nframe", "energy per frame over the timed window", leave_out=6, needs="power"),
    Column("status", "status", "status", "ok, skip or FAIL; C contended, T throttled, U unstable "
           "(see the notes and the marked-rows line)", right=False),
)


@dataclass(frozen=True)
class Row:
    """One line of the table: a variant, or a student's line against its teacher (``sub``)."""

    name: str
    cells: Mapping[str, str]
    status: str
    """``"ok"``, ``"skipped"``, ``"failed"`` or ``"sub"`` (the line under a student)."""
    validity: Validity = field(default_factory=Validity)
    notes: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunTable:
    """Everything the run table shows, as text: the same for terminal, Markdown and HTML."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]
    """Numbered footnotes (``"(1) fp16: ..."``), referenced from the status column."""
    legend: tuple[str, ...]
    """What the columns and settings mean."""
    answer: str

    def cells(self, row: Row, columns: Sequence[Column] | None = None) -> tuple[str, ...]:
        """The row's cells for ``columns`` (default: all of this table's), status with its marks."""
        return tuple(row.cells.get(c.key, "") for c in (columns or self.columns))


# ------------------------------------------------------------------ cells

def _size(v: Variant) -> str:
    # exporters' manifests keep the file's size under "artifact" (older ones at the top)
    art = v.artifact or {}
    size = (art.get("artifact") or {}).get("size_bytes") or art.get("size_bytes")
    size = size + (art.get("weights") or {}).get("size_bytes", 0) if isinstance(size, int) else size  # IR: .xml + .bin
    return f"{size / 1e6:.1f}" if isinstance(size, (int, float)) and not isinstance(size, bool) else fmt.DASH


def _drop_cell(v: Variant, reference: str | None) -> str:
    if v.name == reference:
        return "reference"
    vs = drop_source(v)
    if isinstance(vs, VsModel) and vs.reference is None:  # a student whose plain comparison could not be made
        return fmt.NOT_COMPARABLE if fmt.not_comparable_detail(vs.reason) is not None else fmt.DASH
    return fmt.DASH if vs is None else fmt.drop(vs.map_drop_points, vs.map_drop_ci95)


def _cells(v: Variant, reference: str | None) -> dict[str, str]:
    t, a = v.timing, v.accuracy
    e2e = t.stage("end_to_end") if t else None
    inf = t.stage("inference") if t else None
    tel = v.telemetry or {}
    vs = drop_source(v)
    return {
        "variant": v.name, "mb": _size(v), "fps": fmt.fps(t.fps if t else None),
        "fps_batch": fmt.fps(t.batch.images_per_s if t and t.batch else None),
        "e2e_p50": fmt.ms(e2e.p50_ms if e2e else None), "e2e_p99": fmt.ms(e2e.p99_ms if e2e else None),
        "inf_p50": fmt.ms(inf.p50_ms if inf else None),
        "map": fmt.map_(a.map50_95 if a else None), "drop": _drop_cell(v, reference),
        "pct": fmt.pct(vs.map_pct_of_reference if vs is not None else None),
        "iou": fmt.map_(a.avg_iou_per_frame if a else None),
        "agree": fmt.map_(v.vs_reference.agreement_mean_iou if v.vs_reference else None),
        "w": fmt.fps(_num((tel.get("power") or {}).get("mean_w"))),
        "jpf": fmt.map_(_num(tel.get("energy_per_frame_j"))),
    }


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _sub_cells(vm: VsModel) -> dict[str, str]:
    return {"variant": SUB_ROW, "fps": fmt.ratio(vm.fps_ratio),
            "drop": fmt.drop(vm.map_drop_points, vm.map_drop_ci95), "pct": fmt.pct(vm.map_pct_of_reference)}


def _measured(record: Record, needs: str | None) -> bool:
    if needs == "accuracy":
        return any(v.accuracy is not None and v.accuracy.map50_95 is not None for v in record.variants)
    if needs == "power":
        return any(_num(((v.telemetry or {}).get("power") or {}).get("mean_w")) is not None for v in record.variants)
    if needs == "batch":
        return _batch_of(record) is not None
    return True


def _batch_of(record: Record) -> int | None:
    """The run's throughput batch N (> 1) when any row measured it, else None."""
    sizes = [v.timing.batch.batch for v in record.variants if v.timing is not None and v.timing.batch is not None]
    return max(sizes) if sizes else None


def _with_batch(columns: Sequence[Column], batch: int | None) -> tuple[Column, ...]:
    """The FPS@bN column named for the run's N."""
    if batch is None:
        return tuple(columns)
    return tuple(replace(c, header=f"FPS@b{batch}", terminal=f"FPS\n@b{batch}",
                         definition=c.definition.replace("batch N", f"batch {batch}").replace(" N ", f" {batch} "))
                 if c.key == "fps_batch" else c for c in columns)

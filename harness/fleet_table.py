"""What ``bench run --cluster`` prints: each device's run table (results' one renderer), then one
cross-device table, device x variant: FPS, p50 (end to end), mAP drop against the device's FP32, W and
J/frame where measured, and the row's status. Cells use :mod:`results.format` (a dash where nothing
was measured, never 0).

Example:
    >>> print(cross_device_lines([("a", "cpu", "fp32", 64.41, 15.06, None, None, None, "ok"),
    ...                           ("b", "cpu", "fp32", None, None, None, None, None, "failed: device b left")]))
    device  profile  variant   FPS  e2e p50 ms  mAP drop  W  J/frame  status
    a       cpu      fp32     64.4       15.06         —  —        —  ok
    b       cpu      fp32        —           —         —  —        —  failed: device b left
"""

from __future__ import annotations

import json
from typing import Any, Sequence

HEADERS = ("device", "profile", "variant", "FPS", "e2e p50 ms", "mAP drop", "W", "J/frame", "status")
_RIGHT = {3, 4, 5, 6, 7}


def cross_rows(results: Sequence[dict]) -> list[tuple]:
    """``(device, profile, variant, fps, p50_ms, drop_points or "reference", watts, joules_per_frame, status)``."""
    rows = []
    for res in results:
        record = res["record"]
        for v in record.variants:
            e2e = v.timing.stages.get("end_to_end") if v.timing is not None else None
            tel = v.telemetry or {}
            status = v.status if v.reason is None else f"{v.status}: {v.reason}"
            rows.append((res["device"], record.device.profile, v.name, None if v.timing is None else v.timing.fps,
                         None if e2e is None else e2e.p50_ms,
                         "reference" if v.vs_reference is not None and v.vs_reference.reference == v.name else
                         None if v.vs_reference is None else v.vs_reference.map_drop_points,
                         (tel.get("power") or {}).get("mean_w"), tel.get("energy_per_frame_j"), status))
    return rows


def cross_device_lines(rows: Sequence[tuple]) -> str:
    """The table as aligned plain text."""
    from results import format as fmt

    cells = [HEADERS]
    for dev, profile, variant, fps, p50, drop, w, jpf, status in rows:
        cells.append((dev, profile, variant, fmt.fps(fps), fmt.ms(p50), drop if isinstance(drop, str) else fmt.DASH if drop is None else f"{drop:+.2f}",
                      fmt.fps(w), fmt.map_(jpf), status))
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(HEADERS))]
    lines = []
    for r in cells:
        parts = [str(c).rjust(w) if i in _RIGHT else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def print_fleet(results: Sequence[dict], *, json_out: bool = False, max_drop: Any = None) -> None:
    """Each device's run table (or, with ``json_out``, the records as one JSON list), then the cross-device table."""
    if json_out:
        print(json.dumps([{"device": r["device"], "archived": r["archived"], "lost": r["lost"],
                           "record": r["record"].to_dict()} for r in results], indent=2))
        return
    from results.render import print_run

    for res in results:
        print(f"\n== device {res['device']} ==")
        kwargs = {} if max_drop is None else {"max_drop": max_drop}
        print_run(res["record"], archived_at=res["archived"], **kwargs)
        if res["lost"]:
            print(f"not archived: {res['lost']} (nothing partial is kept)")
    print("\n== all devices ==")
    print(cross_device_lines(cross_rows(results)))

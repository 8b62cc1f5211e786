"""``bench devices``: list every device profile and whether it is usable here, and why not.

Example::

    $ bench devices
    $ bench devices --json
    $ bench devices --profile jetson-agx-orin     # one profile in full
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common.errors import InputError, expected


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench devices``."""
    parser.add_argument("--json", action="store_true", help="print the detected hardware and every profile's usability as JSON")
    parser.add_argument("--profile", metavar="NAME", help="show one profile in full (precisions, telemetry, power modes, setup)")
    parser.add_argument("--root", default="/", help="filesystem root to detect from (default /; for testing with a fake /proc and /sys tree)")


def collect(root: str = "/") -> dict[str, Any]:
    """Detected hardware plus every profile's usability, as a JSON-ready dict."""
    from devices.detect import detect_hardware
    from devices.profiles import list_profiles, load_profile
    from devices.resolve import usability

    hw = detect_hardware(root=root)
    rows = []
    for name in list_profiles():
        profile = load_profile(name)
        ok, why = usability(profile, hw)
        rows.append({
            "profile": name,
            "usable": ok,
            "reason": why,
            "title": profile.title,
            "fast": list(profile.fast),
            "slow": dict(profile.slow),
            "telemetry": list(profile.telemetry),
        })
    return {"hardware": hw.to_dict(), "profiles": rows}


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON); exit 0."""
    from devices.profiles import load_profile

    if args.profile:
        profile = load_profile(args.profile)
        print(json.dumps(profile.to_dict(), indent=2) if args.json else _profile_text(profile.to_dict()))
        return 0
    if not Path(args.root).is_dir():  # a mistyped --root must not list this machine as if it were empty
        raise InputError(expected("an existing folder", "a file" if Path(args.root).exists() else "no such folder", f"--root {args.root}"))
    data = collect(args.root)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    _render(data)
    return 0


def _hardware_lines(hw: dict[str, Any]) -> list[str]:
    lines = [f"CPU      {hw.get('cpu_model') or '?'} ({hw.get('cpu_cores')} logical cores, {hw.get('arch')})"]
    if hw.get("cpu_flags"):
        lines.append(f"         features: {' '.join(hw['cpu_flags'])}")
    if hw.get("ram_mb") is not None:
        lines.append(f"RAM      {hw['ram_mb'] / 1024:.1f} GiB")
    j = hw.get("jetson")
    if j:
        rel = ", ".join(x for x in (f"L4T {j['l4t']}" if j.get("l4t") else "", f"JetPack {j['jetpack']}" if j.get("jetpack") else "") if x)
        mode = f", power mode {j['nvpmodel_mode']}" if j.get("nvpmodel_mode") else ""
        lines.append(f"Jetson   {j.get('module') or j.get('model') or '?'} ({rel or 'L4T unknown'}{mode})")
    for g in hw.get("gpus", []):
        cc = f", sm_{g['compute_capability'].replace('.', '')}" if g.get("compute_capability") else ""
        mem = f", {g['memory_mb'] / 1024:.1f} GiB" if g.get("memory_mb") else ""
        lines.append(f"GPU {g['index']}    {g['name']}{mem}{cc}")
    for name, rt in hw.get("runtimes", {}).items():
        if rt.get("available"):
            prov = f" ({', '.join(rt['providers'])})" if rt.get("providers") else ""
            lines.append(f"runtime  {name} {rt.get('version', '')}{prov}")
        else:
            lines.append(f"runtime  {name}: {rt.get('reason')}")
    return lines


WIDE = 110
"""From this console width on, the table also shows each profile's telemetry sources."""


def _render(data: dict[str, Any], *, file: Any = None, width: int | None = None) -> None:
    """Print the hardware lines and the profile table, fitted to the console (80 columns when not a terminal).

    Args:
        data: :func:`collect`'s result.
        file: where to print (default stdout).
        width: the console width (default: the terminal's, else 80).
    """
    import textwrap

    out = file if file is not None else sys.stdout
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a core dependency; plain text if it is broken
        for line in _hardware_lines(data["hardware"]):
            print(line, file=out)
        for row in data["profiles"]:
            print(f"{row['profile']:20} {'usable' if row['usable'] else 'no':7} {row['reason']}", file=out)
        return
    console = Console(file=out, width=width)
    for line in _hardware_lines(data["hardware"]):
        for part in textwrap.wrap(line, console.width, subsequent_indent=" " * 9, break_on_hyphens=False) or [""]:
            console.print(part, highlight=False, markup=False, soft_wrap=True)
    wide = console.width >= WIDE
    table = Table(title="Device profiles", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False, collapse_padding=True)
    table.add_column("profile", no_wrap=True)
    table.add_column("usable", no_wrap=True)
    table.add_column("fast", no_wrap=True)
    table.add_column("runtime / why not", ratio=1, overflow="fold")
    if wide:
        table.add_column("telemetry")
    for row in data["profiles"]:
        usable = "[green]yes[/green]" if row["usable"] else "[red]no[/red]"
        reason = row["reason"].removeprefix("runtime ") if row["usable"] else row["reason"]
        cells = [row["profile"], usable, ", ".join(row["fast"]), reason]
        if wide:
            cells.append(", ".join(row["telemetry"]))
        table.add_row(*cells)
    console.print(table)
    if not wide:
        console.print("telemetry and more per profile: bench devices --profile NAME", highlight=False, markup=False)


def _profile_text(d: dict[str, Any]) -> str:
    lines = [f"{d['name']}: {d['title']}", f"  kind: {d['kind']}, arches: {', '.join(d['arches'])}"]
    lines.append("  runtimes (in order): " + "; ".join(
        r["runtime"] + (f" [{', '.join(r['providers'])}]" if r.get("providers") else "") for r in d["runtimes"]))
    lines.append(f"  fast precisions: {', '.join(d['precisions']['fast'])}")
    for p, why in d["precisions"]["slow"].items():
        lines.append(f"  {p} not fast: {why}")
    lines.append(f"  DLA cores: {d['dla_cores']}, 2:4 sparsity: {'yes' if d['sparsity_2_4'] else 'no'}")
    lines.append(f"  telemetry: {', '.join(d['telemetry'])}")
    if d["power_modes"]:
        lines.append("  power modes: " + ", ".join(
            m["name"] + (f" ({m['budget_w']:g} W)" if m["budget_w"] else "") for m in d["power_modes"]))
    s = d["setup"]
    if s["nvpmodel"] or s["jetson_clocks"]:
        lines.append(f"  recommended: nvpmodel {s['nvpmodel']}, jetson_clocks {'on' if s['jetson_clocks'] else 'off'}")
    lines += [f"  - {n}" for n in s["notes"] + d.get("notes", [])]
    return "\n".join(lines)

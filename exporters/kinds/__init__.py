"""Variant kinds registered by name: each kind is one module with its builder and its options.

A variant name (:mod:`exporters.spec`) is three kinds, one per role::

    pruned30-int8 on trt  =  model kind "pruned"  +  precision kind "int8"  +  format kind "trt"

``model``      makes the FP32 checkpoint the rest starts from: ``plain`` (the source), ``pruned``, ``student``
``precision``  turns the FP32 ONNX into the variant's precision: ``fp32`` (as is), ``fp16``, ``int8``
``format``     turns that into what the runtime loads: ``onnx`` (as is), ``trt`` (a TensorRT engine)

:func:`exporters.build.build_variant` runs the chain: every kind's ``prepare`` (inputs checked before
minutes of work: model, format, precision), then the model kind's checkpoint, the FP32 ONNX, and the
format kind (which calls the precision kind). Kind-specific options are declared once, by the kind,
as the fields of its frozen options dataclass (:func:`option`: type, default, help, flags); the
CLIs add them with :func:`add_arguments` and hand them on as one mapping (:func:`options_mapping`),
which ``build_variant(..., options=...)`` validates into each kind's dataclass (:func:`options_from`).

Adding a variant kind: one module, one registry line.

1. ``exporters/kinds/<name>.py`` defining ``KIND = Kind(name, role, help, options=..., prepare=..., build=...)``
   (:mod:`exporters.kinds.base`; import that module, never this package): ``options`` a frozen
   dataclass whose fields are :func:`option` s (or None); ``prepare(stage)``
   validates and stores what ``build`` needs in ``stage.prepared[name]``; ``build`` is
   ``build(stage) -> SourceModel`` for a model kind and ``build(stage, fp32: Artifact) -> Artifact``
   for a precision or format kind, each stage cached with ``stage.cached(final, key, build, label)``
   (:class:`exporters.stage.Stage`). Heavy imports inside the functions.
2. Its import and its ``KIND`` in ``_KINDS`` below.
The variant grammar (:mod:`exporters.spec`) takes its precisions and formats from this registry;
a new MODEL kind also needs its name pattern in ``exporters/spec.py`` (like ``pruned<NN>``). A new
precision must be classified (fast, or slow with a reason) in every ``devices/profiles/*.yaml``
and listed in ``devices.profiles.PRECISIONS``; a new format is what some runtime loads
(``build_format`` of its :class:`devices.runtimes.RuntimeInfo`).

Example:
    >>> sorted(k.name for k in kinds_of_role("model"))
    ['plain', 'pruned', 'student']
    >>> options_from({"finetune_epochs": 3}, "pruned").finetune_epochs
    3
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from common.errors import InputError, expected
from exporters.kinds.base import ROLES, Kind, Option, option
from exporters.kinds.bf16 import KIND as BF16
from exporters.kinds.fp16 import KIND as FP16
from exporters.kinds.int8 import KIND as INT8
from exporters.kinds.onnx import KIND as ONNX
from exporters.kinds.openvino import KIND as OPENVINO
from exporters.kinds.plain import FP32, PLAIN
from exporters.kinds.pruned import KIND as PRUNED
from exporters.kinds.student import KIND as STUDENT
from exporters.kinds.trt import KIND as TRT

__all__ = [
    "REGISTRY",
    "ROLES",
    "Kind",
    "Option",
    "add_arguments",
    "buildable",
    "check_option_names",
    "get_kind",
    "kinds_of",
    "kinds_of_role",
    "option",
    "option_names",
    "options_from",
    "options_mapping",
]

_METAVARS = {Path: "FILE", int: "N", float: "X"}
_KINDS = (PLAIN, PRUNED, STUDENT, FP32, FP16, INT8, BF16, ONNX, TRT, OPENVINO)  # the registry: one entry per kind

REGISTRY: Mapping[str, Kind] = MappingProxyType({k.name: k for k in _KINDS})
"""Kind name -> :class:`Kind`, in registration order."""


def get_kind(name: str, *, where: str = "variant kind") -> Kind:
    """The registered kind ``name``.

    Raises:
        InputError: no such kind.
    """
    kind = REGISTRY.get(name)
    if kind is None:
        raise InputError(expected(f"a variant kind, one of {', '.join(REGISTRY)}", repr(name), where))
    return kind


def kinds_of_role(role: str) -> tuple[Kind, ...]:
    """The kinds of one role, in registration order."""
    return tuple(k for k in REGISTRY.values() if k.role == role)


def buildable(precision: str, fmt: str) -> bool:
    """Whether a variant of precision kind ``precision`` is built in format kind ``fmt`` (both must agree).

    Example:
        >>> buildable("int8", "openvino"), buildable("fp16", "openvino"), buildable("bf16", "onnx")
        (True, False, False)
    """
    prec, form = get_kind(precision), get_kind(fmt)
    return form.builds(precision) and (prec.formats is None or fmt in prec.formats)


def kinds_of(spec: Any) -> dict[str, Kind]:
    """Role -> kind for a :class:`exporters.spec.VariantSpec`.

    Example:
        >>> from exporters.spec import parse_variant
        >>> {r: k.name for r, k in kinds_of(parse_variant("pruned30-int8", fmt="trt")).items()}
        {'model': 'pruned', 'precision': 'int8', 'format': 'trt'}
    """
    out = {"model": get_kind(spec.kind), "precision": get_kind(spec.precision), "format": get_kind(spec.fmt)}
    for role, kind in out.items():
        if kind.role != role:
            raise InputError(expected(f"a {role} kind", f"{kind.name} (a {kind.role} kind)", spec.name))
    return out


def _fields(kind: Kind) -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(kind.options) if kind.options is not None else ()


def _flags(f: dataclasses.Field) -> tuple[str, ...]:
    return f.metadata["option"].flags or ("--" + f.name.replace("_", "-"),)


def option_names() -> dict[str, str]:
    """Every option name -> the kind that declares it.

    Example:
        >>> option_names()["student_source"]
        'student'
    """
    return {f.name: k.name for k in REGISTRY.values() for f in _fields(k)}


def add_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """Add every kind's options to ``parser``, one argument group per kind (``dest`` = the option name).

    Args:
        parser: the (sub)command's parser.
        skip: option names the command declares itself (e.g. ``bench run``'s own ``--student``).
    """
    for kind in REGISTRY.values():
        fields = [f for f in _fields(kind) if f.name not in skip]
        if not fields:
            continue
        group = parser.add_argument_group(f"{kind.name} variants", kind.help)
        for f in fields:
            meta: Option = f.metadata["option"]
            default = f.default
            shown = "" if default is None or meta.type is bool else f" (default {default})"
            kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": meta.help + shown}
            if meta.type is bool:
                kwargs["action"] = "store_true"
            else:  # values are checked by options_from (one error line, as for every input), not argparse
                kwargs["type"] = meta.type
                kwargs["metavar"] = meta.metavar or ("{" + ",".join(map(str, meta.choices)) + "}" if meta.choices
                                                     else _METAVARS.get(meta.type))
            group.add_argument(*_flags(f), **kwargs)


def options_mapping(namespace: argparse.Namespace | Mapping[str, Any]) -> dict[str, Any]:
    """The kind options present on a parsed namespace (or mapping), as one JSON-ready mapping.

    Paths become strings, so the mapping can cross a process boundary as JSON; a text value of a
    closed set is stored as its choice is spelled, whatever the case typed (``ENTROPY`` -> ``entropy``).

    Example:
        >>> options_mapping({"calib_method": "MinMax", "finetune_epochs": 3})
        {'calib_method': 'minmax', 'finetune_epochs': 3}
    """
    names = option_names()
    items = namespace.items() if isinstance(namespace, Mapping) else vars(namespace).items()
    fields = {f.name: f for k in REGISTRY.values() for f in _fields(k)}
    return {k: (str(v) if isinstance(v, Path) else _canonical(fields[k].metadata["option"], v))
            for k, v in items if k in names}


def _canonical(meta: Option, value: Any) -> Any:
    """A text option's value as its choice is spelled (``--calib-method Entropy`` -> ``"entropy"``), else as is."""
    if isinstance(value, str) and meta.choices:
        folded = value.strip().casefold()
        return next((c for c in meta.choices if isinstance(c, str) and c.casefold() == folded), value)
    return value


def check_option_names(values: Mapping[str, Any], *, where: str = "options") -> None:
    """Refuse a mapping that names an option no kind declares (a typo is one line, not ignored)."""
    names = option_names()
    unknown = [k for k in values if k not in names]
    if unknown:
        raise InputError(expected(f"variant options, any of {', '.join(names)}", ", ".join(map(repr, unknown)), where))


def options_from(source: argparse.Namespace | Mapping[str, Any] | None, kind: str) -> Any:
    """The frozen options of ``kind`` from a namespace or mapping (absent values take the defaults).

    Args:
        source: parsed arguments, or a mapping (e.g. read from JSON: paths as strings), or None.
        kind: a registered kind name.

    Returns:
        An instance of the kind's options dataclass, or None for a kind without options.

    Raises:
        InputError: a value of the wrong type or out of range (the message names the flag).

    Example:
        >>> options_from(None, "trt").workspace_mib
        1024
    """
    k = get_kind(kind)
    if k.options is None:
        return None
    if isinstance(source, k.options):
        return source
    values = {}
    for f in _fields(k):
        if source is None:
            continue
        if isinstance(source, Mapping):
            if f.name not in source:
                continue
            value = source[f.name]
        elif hasattr(source, f.name):
            value = getattr(source, f.name)
        else:
            continue
        values[f.name] = _coerce(f, value)
    return k.options(**values)


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    meta: Option = f.metadata["option"]
    where = _flags(f)[0]
    if value is None:
        if f.default is None:
            return None
        raise InputError(expected(f"a value ({meta.expect or meta.type.__name__})", "none", where))
    if meta.type is Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise InputError(expected("a file path", repr(value), where))
        value = Path(value)
    elif meta.type is bool:
        if not isinstance(value, bool):
            raise InputError(expected("true or false", repr(value), where))
    elif meta.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(expected("a number", repr(value), where))
        value = float(value)
    elif isinstance(value, bool) or not isinstance(value, meta.type):
        raise InputError(expected(f"a value of type {meta.type.__name__}", repr(value), where))
    value = _canonical(meta, value)
    if meta.choices and value not in meta.choices:
        raise InputError(expected(f"one of {', '.join(map(str, meta.choices))}", repr(value), where))
    if meta.check is not None and not meta.check(value):
        raise InputError(expected(meta.expect or "a valid value", repr(value), where))
    return value

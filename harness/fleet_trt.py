"""TensorRT rows of a fleet run: the host builds and ships the ONNX, the device builds the engine and measures it.

An engine is specific to the GPU and the TensorRT version that build it, so the host of
``bench run --cluster`` never builds one: for a ``trt`` row it builds the engine's SOURCE ONNX with the
exporters (cached as for a local run: the FP32 ONNX for fp32/fp16, the QDQ ONNX quantized with the
``trt`` profile for int8; :func:`exporters.tensorrt_build.engine_source`), ships it like any other
artifact, and sends the builder settings in the job's ``engine`` block (:class:`devices.job.EngineBuild`,
a version-2 job). The device's agent builds the engine with its own TensorRT into its engine cache and
measures it (:func:`devices.trt_engine.engine_job`).

Not run through the fleet, each with its reason: INT8 with ``--trt-int8 calibrator`` (the calibration
images stay on the host), ``--dla-core N`` on a device whose profile has no such DLA core, and a device
whose agent predates engine jobs.

Example:
    >>> from exporters.spec import parse_variant
    >>> engine_build(parse_variant("int8", fmt="trt"), {"workspace_mib": 512})
    EngineBuild(precision='int8', int8_mode='qdq', workspace_mib=512, dla_core=None, gpu_fallback=True, sparse_weights=False, source=None)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

__all__ = ["build_source", "engine_build", "skip_reason", "with_source"]


def _settings(spec, options: Mapping[str, Any]):
    """The validated builder settings of a ``trt`` row from the run's kind options (``--workspace``, ``--dla-core``...)."""
    from exporters.kinds import options_from
    from exporters.tensorrt_build import trt_settings

    o = options_from(dict(options), "trt")
    return trt_settings(spec, int8_mode=o.trt_int8_mode, workspace_mib=o.workspace_mib, dla_core=o.dla_core,
                        sparse_weights=o.sparse_weights)


def skip_reason(spec, profile, agent: Mapping[str, Any], options: Mapping[str, Any]) -> str | None:
    """Why a ``trt`` row is not run on this fleet device, or None.

    Args:
        spec: the row's :class:`exporters.spec.VariantSpec` (format ``trt``).
        profile: the device's :class:`devices.profiles.DeviceProfile` (its ``dla_cores``).
        agent: the device's agent as it described itself when it joined (``job_versions``).
        options: the run's kind options (:attr:`harness.options.RunOptions.variant_options`).

    Raises:
        InputError: a builder option out of range (``--workspace 8``), as for a local run.
    """
    from devices.job import ENGINE_JOB_VERSION

    settings = _settings(spec, options)
    if settings.int8_mode == "calibrator":
        return ("--trt-int8 calibrator calibrates on the device with the calibration images, which stay on the host: "
                "not run through the fleet (--trt-int8 qdq, the default, is)")
    if settings.dla_core is not None and settings.dla_core >= profile.dla_cores:
        has = "no DLA" if profile.dla_cores == 0 else f"{profile.dla_cores} DLA core(s)"
        return f"--dla-core {settings.dla_core}: the device's profile {profile.name} has {has}"
    if ENGINE_JOB_VERSION not in (agent.get("job_versions") or ()):
        return (f"the device's bench agent builds no TensorRT engines (it reads job version "
                f"{agent.get('job_version')} only): update bench there and rejoin")
    return None


def engine_build(spec, options: Mapping[str, Any]):
    """The job's ``engine`` block for a ``trt`` row (its ``source`` is filled in once the ONNX is built)."""
    from devices.job import EngineBuild

    return EngineBuild(**_settings(spec, options).to_dict())


def build_source(build, progress=None, *, batch: int = 1):
    """Build (or reuse) the ONNX a ``trt`` row's engine is built from, as a local run builds it.

    Args:
        build: the row's :class:`harness.worker.BuildRequest` (format ``trt``).
        batch: the ONNX's static batch (the throughput pass's source with ``--batch N``).

    Returns:
        The exporters' ``Artifact`` of that ONNX.
    """
    from exporters.spec import parse_variant
    from exporters.tensorrt_build import engine_source
    from harness.worker import build_artifact

    spec = parse_variant(build.variant, fmt="trt")
    source, profile = engine_source(spec, _settings(spec, build.options))
    return build_artifact(replace(build, variant=source.name, format="onnx"), progress, batch=batch, int8_profile=profile)


def with_source(job, shipped: Any):
    """The job with its engine's ``source`` set to the shipped ONNX (``shipped``: the fleet run's
    ``(object ref, ArtifactRef, manifest)``, or a build failure's reason, which leaves the job as is)."""
    if job.engine is None or isinstance(shipped, str):
        return job
    return replace(job, engine=replace(job.engine, source=shipped[1]))

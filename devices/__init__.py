"""Devices: profiles, detection, runtimes and telemetry samplers.

The contract other packages call (all heavy imports happen inside the functions):

Profiles (``devices/profiles/<name>.yaml``, ``profile_version: 1``)
    ``devices.profiles.list_profiles() -> list[str]``
    ``devices.profiles.load_profile(name_or_path) -> DeviceProfile`` (frozen, validated once)
    ``profile.runs_fast(precision) -> bool``, ``profile.skip_reason(precision) -> str | None``

Detection and resolution
    ``devices.detect.detect_hardware(*, root="/") -> Hardware`` (``hardware.to_dict()`` for the record)
    ``devices.resolve.resolve_device(name, *, root="/") -> ResolvedDevice`` (``name``: a profile,
    ``"jetson"`` or ``"auto"``; raises ``InputError`` with the precise reason when unusable)
    ``devices.resolve.usability(profile, hardware) -> (usable, reason)``
    ``resolved.runs_fast(precision)`` / ``resolved.skip_reason(precision)`` take the chosen runtime
    into account (a Jetson that fell back to ONNX Runtime's CPU provider follows the cpu rules).

Runtimes
    ``devices.runtimes.REGISTRY`` (name -> ``RuntimeInfo``; adding one: see :mod:`devices.runtimes`),
    ``devices.runtimes.probe_runtimes() -> {name: RuntimeStatus}``,
    ``devices.runtimes.open_runtime(artifact_path, *, runtime, profile, threads=None, providers=None) -> Session``
    with ``.input_name``, ``.input_shape``, ``.input_dtype``, ``.run(x) -> list[np.ndarray]``,
    ``.describe() -> dict``, ``.last_split_ms`` (TensorRT: H2D/compute/D2H by CUDA events), ``.close()``.

Telemetry
    ``devices.telemetry.start_sampling(profile_or_sources, *, interval_s=0.1, clock=time.monotonic) -> Sampler``;
    ``sampler.mark()`` at the timed window's start and end, then ``sampler.stop(window=(t0, t1)) ->
    TelemetrySummary`` (``.to_dict()``, ``.per_frame(n)``, ``.fps_per_watt(fps)``; absent metrics absent).
    ``devices.telemetry.tegrastats.parse_line(line) -> TegraSample`` never raises.

``bench devices`` is :mod:`devices.cli`; the on-device check is ``python -m devices.smoke``.
"""

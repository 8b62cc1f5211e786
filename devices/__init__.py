"""Devices: profiles, detection, runtimes and telemetry samplers."""

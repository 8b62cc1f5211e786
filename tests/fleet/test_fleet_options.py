"""The fleet's command line without a cluster: option checks, the one-line errors, and that a plain
``bench run`` never imports Ray."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import InputError
from harness.fleet_run import FleetOptions, run_if_cluster

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _ns(**kw) -> argparse.Namespace:
    base = {"cluster": "127.0.0.1:6379", "on": "a,b", "queue_timeout": None, "device": "auto"}
    base.update(kw)
    return argparse.Namespace(**base)


def test_fleet_options_parse_the_device_list():
    assert FleetOptions.from_namespace(_ns(on=" a, b2 ", queue_timeout=5.0)) == FleetOptions("127.0.0.1:6379", ("a", "b2"), 5.0)


@pytest.mark.parametrize("kw, message", [
    ({"on": None}, "expected --on NAME[,NAME] with --cluster"),
    ({"on": "a,a"}, "--on: expected each device once, got a,a"),
    ({"on": "A!"}, "--on: expected a device name of 1-40 lower-case letters"),
    ({"queue_timeout": -1.0}, "--queue-timeout: expected seconds >= 0, got -1.0"),
    ({"device": "jetson-orin-nano"}, "expected no --device with --cluster"),
])
def test_fleet_options_refuse_bad_input_in_one_line(kw, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]").replace("!", "")):
        FleetOptions.from_namespace(_ns(**kw))


def test_on_without_cluster_is_an_input_error_and_no_cluster_means_a_local_run():
    with pytest.raises(InputError, match="expected --cluster ADDRESS with --on and --queue-timeout"):
        run_if_cluster(None, _ns(cluster=None, on="a", queue_timeout=3.0), argv=[])
    assert run_if_cluster(None, _ns(cluster=None, on=None), argv=[]) is None


def test_a_plain_run_never_imports_ray():
    code = ("import sys; from harness.cli import build_parser; a = build_parser().parse_args(['run', '--limit', '2']); "
            "from harness.fleet_run import run_if_cluster; from harness.options import RunOptions; "
            "assert run_if_cluster(RunOptions.from_namespace(a), a, argv=[]) is None; print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_nodes_of_an_unreachable_cluster_is_one_line_exit_2():
    pytest.importorskip("ray", reason="ray not installed (pip install 'edge-bench[fleet]')")
    proc = _bench("fleet", "nodes", "127.0.0.1:9")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bench: error: 127.0.0.1:9: expected a running Ray cluster (start its head with: ray start --head), got "
        "nothing answers (Connection refused)"]


def test_join_with_a_wrong_python_names_the_device_and_what_to_install(tmp_path):
    proc = _bench("fleet", "join", "127.0.0.1:9", "--name", "orin1", "--python", str(tmp_path / "python3.8"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench: error: device orin1: expected a Python >= 3.8 with numpy, "
                                                   "psutil and onnxruntime")


def test_describe_is_what_join_stores():
    from harness.fleet_cmd import describe_interpreter

    info = describe_interpreter(sys.executable, "x")
    assert info["python"] == ".".join(map(str, sys.version_info[:3])) and info["runtimes"]["onnxruntime"]["available"]
    assert json.loads(json.dumps(info)) == info


def test_a_refused_token_is_told_apart_from_a_cluster_that_is_not_there():
    from harness.fleet import _token_refused

    def chained(outer: Exception, inner: Exception) -> Exception:
        try:
            try:
                raise inner
            except Exception:
                raise outer
        except Exception as exc:
            return exc

    gcs = RuntimeError("Failed to connect to GCS. Last connection error: Traceback ...\nray.exceptions."
                       "AuthenticationError: RPC error: InvalidAuthToken: Authentication token is missing or incorrect.")
    assert _token_refused(chained(ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379"), gcs))
    assert _token_refused(type("AuthenticationError", (Exception,), {})("denied"))
    assert not _token_refused(chained(ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379"),
                                      RuntimeError("Failed to connect to GCS within 60 seconds")))
    assert not _token_refused(ValueError("When connecting to an existing cluster, num_cpus must not be provided"))

"""Class 6: Ctrl-C at any moment of a bench command is one line and status 130, never a traceback.

Real SIGINTs go to a real ``bench`` process at many moments from its start: during the imports
of the console script (the first ~40 ms), while the command runs, and while it exits. The process
is started the way the console script starts it (``from harness.cli import main``), with the
interpreter's ``-S`` so that nothing but bench and the standard library runs at start-up: the
site-packages ``.pth`` hooks of an environment run before any bench code and are not bench's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time

from tests.reliability.conftest import REPO, bench_env

WRAPPER = "import sys; sys.argv[0] = 'bench'; from harness.cli import main; sys.exit(main())"


def test_ctrl_c_at_any_moment_is_one_line_and_130(tmp_path):
    env = bench_env(PYTHONPATH=os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]]))
    outcomes = {}
    for delay_ms in range(0, 300, 6):
        proc = subprocess.Popen([sys.executable, "-S", "-c", WRAPPER, "history", "--archive", str(tmp_path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        err = err.decode()
        outcomes[delay_ms] = proc.returncode
        if proc.returncode == -signal.SIGINT or err.startswith("Fatal Python error: init_"):
            # the signal came before the interpreter reached bench's first line (Python's own start:
            # it dies of the signal, or reports it cannot finish initialising); no bench frame shows
            assert "/harness/" not in err and "/common/" not in err, (delay_ms, err)
            continue
        assert proc.returncode in (0, 130), (delay_ms, proc.returncode, err)
        assert "Traceback" not in err, (delay_ms, err)
        if proc.returncode == 130:
            assert err == "bench: interrupted\n", (delay_ms, err)
    # the sweep did hit the command while it was starting or running, not only after it ended
    assert 130 in outcomes.values(), outcomes

import os

# Ultralytics downloads silently when it can; nothing may be downloaded here.
os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("MPLBACKEND", "Agg")


import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _numpy_default_printoptions():
    """Importing ultralytics changes numpy's print options process-wide; doctests expect the defaults."""
    with np.printoptions(edgeitems=3, threshold=1000, floatmode="maxprec", precision=8, suppress=False,
                         linewidth=75, nanstr="nan", infstr="inf", sign="-", formatter=None, legacy=False):
        yield

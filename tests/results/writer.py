"""A record writer run as a subprocess by test_archive (killed or raced on purpose).

Usage: python writer.py ARCHIVE TAG START COUNT [SAMPLES [SLOW]]
Saves COUNT records with run ids START..START+COUNT-1 (COUNT 0 = forever), printing
"ready" once, then "saved <id>" or "exists <id>" per record.

SLOW=1 simulates slow storage (an SD card): file writes go out in 4 KiB chunks
with a pause between them and fsync takes 10 ms, so a kill at a random moment
often lands while the temp file is half written or not yet published.
"""

import copy
import itertools
import json
import os
import sys
import time
from pathlib import Path

from common.errors import InputError
from results.archive import Archive

root, tag, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n_samples = int(sys.argv[5]) if len(sys.argv) > 5 else 0
base = json.loads((Path(__file__).parent / "data" / "record_v1.json").read_text())
if n_samples:  # a bigger file makes a kill more likely to land mid-write
    base["variants"][0]["timing"]["inference_samples_ms"] = {
        "encoding": "list", "n": n_samples, "data": [10.0 + (i % 97) / 7 for i in range(n_samples)]}
if len(sys.argv) > 6 and sys.argv[6] == "1":
    real_fdopen, real_fsync = os.fdopen, os.fsync

    class SlowFile:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            for i in range(0, len(data), 1 << 12):
                self.fh.write(data[i:i + (1 << 12)])
                self.fh.flush()
                time.sleep(0.002)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.fh.__exit__(*exc)

    def slow_fsync(fd):
        time.sleep(0.01)
        real_fsync(fd)

    os.fdopen = lambda *a, **k: SlowFile(real_fdopen(*a, **k))
    os.fsync = slow_fsync
archive = Archive(root)
print("ready", flush=True)
ids = itertools.count(start) if count == 0 else range(start, start + count)
for i in ids:
    record = copy.deepcopy(base)
    record["run_id"] = f"20261121T233000Z-{i:08x}"
    record["extra"] = {"writer": tag}
    try:
        archive.save(record)
        print("saved", i, flush=True)
    except InputError:
        print("exists", i, flush=True)

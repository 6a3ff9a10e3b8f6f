"""Child process for the crash test: writes batches forever (sync=True) and prints each batch's
first timestamp only after write() returned, so every printed batch is acknowledged."""

import sys

import numpy as np

from sage_native import TimeSeriesDB

BATCH = 50


def main() -> None:
    db = TimeSeriesDB(sys.argv[1], sys.argv[2])
    i = 0
    while True:
        # Each batch arrives shuffled, and every third one entirely behind the newest point.
        base = (i // 3 * 3 + (2 - i % 3)) * BATCH
        ts = np.random.default_rng(i).permutation(np.arange(base, base + BATCH, dtype=np.int64))
        db.write([{"metric": "crash", "tags": {"w": "1"}, "timestamps": ts, "values": ts * 0.5}])
        sys.stdout.write(f"{base}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()

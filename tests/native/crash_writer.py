"""Child process for the crash test: upserts forever into an existing collection and prints
each id only after upsert() returned (fsync="always"), so every printed id is acknowledged."""

import sys

import numpy as np

from sage_native import Collection


def main() -> None:
    path, prefix = sys.argv[1], sys.argv[2]
    col = Collection.open(path)
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    i = 0
    while True:
        ids = [f"{prefix}-{i}-{j}" for j in range(int(rng.integers(1, 4)))]
        col.upsert(
            ids,
            rng.normal(size=(len(ids), col.dim)).astype(np.float32),
            metadatas=[{"i": i}] * len(ids),
            documents=[f"record {i}"] * len(ids),
        )
        sys.stdout.write("\n".join(ids) + "\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()

"""Gi* z-scores computed by PySAL esda: the reference for tests/hotspots.rs.

Reads {"values": [...], "neighbors": [[...], ...]} on standard input, where
neighbors[i] lists the indices of region i's neighbours without i itself, and writes
{"z": [...]}: the Zs of esda.G_Local(values, w, transform="B", star=True).

Given binary weights with an empty diagonal and star=True, esda itself puts a weight
of 1 on the diagonal (libpysal's fill_diagonal), so every region counts in its own
neighbourhood; the script checks that the weights esda used are exactly the given
neighbours plus the region itself.
"""

import json
import sys
import warnings

import numpy as np
import scipy.sparse
from esda.getisord import G_Local
from libpysal.weights import W


def main() -> None:
    data = json.load(sys.stdin)
    values = np.asarray(data["values"], dtype=float)
    neighbors = data["neighbors"]
    n = len(values)
    if len(neighbors) != n:
        sys.exit(f"{len(neighbors)} neighbour lists for {n} values")

    ids = list(range(n))
    # Islands (regions without neighbours) and so several components are expected.
    warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
    w = W({i: list(map(int, js)) for i, js in enumerate(neighbors)}, id_order=ids, silence_warnings=True)
    gi = G_Local(values, w, transform="B", star=True, permutations=0)

    rows = [i for i, js in enumerate(neighbors) for _ in js] + ids
    cols = [j for js in neighbors for j in js] + ids
    expected = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    used = gi.w.sparse.tocsr()
    if gi.w.id_order != ids or (used != expected).nnz != 0:
        sys.exit("esda used other weights than the given neighbours plus the diagonal")

    json.dump({"z": gi.Zs.tolist()}, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()

"""References for tests/emerging.rs: Gi* of every time bin by PySAL esda, and the
Mann-Kendall trend of every series by pymannkendall.

Reads {"bins": [[value per region], ...], "neighbors": [[...], ...], "series":
[[z per bin], ...]} on standard input (neighbors[i] without i itself) and writes
{"z": [[Zs per region], ...], "trend": [{"s", "var_s", "z", "p", "tau", "slope",
"intercept"}, ...]}: the Zs of esda.G_Local(bin, w, transform="B", star=True) for each
bin, and pymannkendall.original_test(series) for each series.
"""

import json
import sys
import warnings

import numpy as np
import pymannkendall
from esda.getisord import G_Local
from libpysal.weights import W


def main() -> None:
    data = json.load(sys.stdin)
    neighbors = data["neighbors"]
    n = len(neighbors)
    warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
    w = W({i: list(map(int, js)) for i, js in enumerate(neighbors)}, id_order=list(range(n)), silence_warnings=True)
    zs = []
    for values in data["bins"]:
        values = np.asarray(values, dtype=float)
        if len(values) != n:
            sys.exit(f"{len(values)} values for {n} regions")
        # esda divides by the values' mean and so cannot score a bin without any.
        if np.all(values == values[0]):
            zs.append(None)
            continue
        zs.append(G_Local(values, w, transform="B", star=True, permutations=0).Zs.tolist())
    trends = []
    for series in data["series"]:
        r = pymannkendall.original_test(np.asarray(series, dtype=float))
        trends.append(
            {
                "s": float(r.s),
                "var_s": float(r.var_s),
                "z": float(r.z),
                "p": float(r.p),
                "tau": float(r.Tau),
                "slope": float(r.slope),
                "intercept": float(r.intercept),
            }
        )
    json.dump({"z": zs, "trend": trends}, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()

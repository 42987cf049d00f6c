"""Prints the attributes of every feature of a Mapbox Vector Tile as CSV.

    python3 mvt_attributes.py TILE.mvt id kode nama ...

`id` is the feature id; the other names are attribute keys (empty when a feature has
none). A minimal protobuf reader, so that the benchmarks need no Python package.
"""

import csv
import struct
import sys


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(b, i)
            yield f, v
        elif w == 2:
            n, i = varint(b, i)
            yield f, b[i : i + n]
            i += n
        elif w == 1:
            yield f, b[i : i + 8]
            i += 8
        elif w == 5:
            yield f, b[i : i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {w}")


def value(b):
    """A layer's value message (MVT 2.1, 4.5.1)."""
    for f, v in fields(b):
        if f == 1:
            return v.decode()
        if f == 2:
            return struct.unpack("<f", v)[0]
        if f == 3:
            return struct.unpack("<d", v)[0]
        if f in (4, 5):
            return v
        if f == 6:
            return (v >> 1) ^ -(v & 1)
        if f == 7:
            return bool(v)
    return None


def main():
    path, columns = sys.argv[1], sys.argv[2:]
    out = csv.writer(sys.stdout)
    with open(path, "rb") as tile:
        data = tile.read()
    for f, layer in fields(data):
        if f != 3:
            continue
        items = list(fields(layer))
        keys = [v.decode() for f2, v in items if f2 == 3]
        values = [value(v) for f2, v in items if f2 == 4]
        for f2, feature in items:
            if f2 != 2:
                continue
            fid, tags = None, []
            for f3, v in fields(feature):
                if f3 == 1:
                    fid = v
                elif f3 == 2:
                    j = 0
                    while j < len(v):
                        x, j = varint(v, j)
                        tags.append(x)
            props = {keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags) - 1, 2)}
            props["id"] = fid
            out.writerow(["" if props.get(c) is None else props[c] for c in columns])


if __name__ == "__main__":
    main()

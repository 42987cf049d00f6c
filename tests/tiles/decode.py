"""Decodes vector tiles for tests/tiles.rs with an implementation independent of the
server: mapbox-vector-tile for the geometry and attributes, shapely for area and
validity. Reads {"tiles": [{"name": ..., "path": ...}]} on stdin and writes, per tile
name, its layers and features as JSON on stdout.

Coordinates stay in tile space with y pointing down (y_coord_down), as encoded.
"""

import json
import sys

import mapbox_vector_tile
import shapely.geometry
import shapely.validation
from mapbox_vector_tile.Mapbox import vector_tile_pb2

VALUE_FIELDS = ("string_value", "float_value", "double_value", "int_value", "uint_value", "sint_value", "bool_value")


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def raw_rings(commands):
    """The rings of a polygon feature as encoded (MoveTo, LineTo..., ClosePath)."""
    rings, ring, x, y, i = [], [], 0, 0, 0
    while i < len(commands):
        command, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if command in (1, 2):
            if command == 1 and ring:
                rings.append(ring)
                ring = []
            for _ in range(count):
                x += zigzag(commands[i])
                y += zigzag(commands[i + 1])
                i += 2
                ring.append((x, y))
        elif command == 7:
            rings.append(ring)
            ring = []
    if ring:
        rings.append(ring)
    return rings


def surveyor_area(ring):
    """Twice the signed area in tile coordinates (y down): positive for an exterior
    ring by the MVT rule."""
    n = len(ring)
    return sum(ring[k][0] * ring[(k + 1) % n][1] - ring[(k + 1) % n][0] * ring[k][1] for k in range(n))


def wire_values(layer):
    """Each value of the layer's table as (wire type, value)."""
    out = []
    for value in layer.values:
        present = [f for f in VALUE_FIELDS if value.HasField(f)]
        if len(present) != 1:
            raise ValueError(f"layer {layer.name}: a value with fields {present}")
        out.append((present[0][: -len("_value")], getattr(value, present[0])))
    return out


def ring_summary(feature):
    """Winding of the encoded rings: the first ring of each polygon must be positive
    (exterior), later negative ones are its holes; zero-area rings are degenerate."""
    rings = raw_rings(list(feature.geometry))
    signs = [surveyor_area(r) for r in rings]
    points = [p for r in rings for p in r]
    return {
        "bounds": [min(p[0] for p in points), min(p[1] for p in points), max(p[0] for p in points),
                   max(p[1] for p in points)] if points else None,
        "rings": len(signs),
        "first_ring_positive": bool(signs) and signs[0] > 0,
        "degenerate_rings": sum(1 for s in signs if s == 0),
        "exteriors": sum(1 for s in signs if s > 0),
        "holes": sum(1 for s in signs if s < 0),
    }


def decode(data):
    raw = vector_tile_pb2.tile()
    raw.ParseFromString(data)
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    layers = {}
    for layer in raw.layers:
        values = wire_values(layer)
        features = []
        for raw_feature, feature in zip(layer.features, decoded[layer.name]["features"]):
            tags = list(raw_feature.tags)
            properties = {}
            for k, v in zip(tags[::2], tags[1::2]):
                wire, value = values[v]
                properties[layer.keys[k]] = {"type": wire, "value": value}
            out = {
                "id": raw_feature.id if raw_feature.HasField("id") else None,
                "type": {1: "point", 2: "line", 3: "polygon"}.get(raw_feature.type, "unknown"),
                "properties": properties,
                "geometry_type": feature["geometry"]["type"],
            }
            if raw_feature.type == 3:
                shape = shapely.geometry.shape(feature["geometry"])
                out["area"] = shape.area
                out["valid"] = bool(shape.is_valid)
                out["invalid_reason"] = None if shape.is_valid else shapely.validation.explain_validity(shape)
                out.update(ring_summary(raw_feature))
            else:
                out["coordinates"] = feature["geometry"]["coordinates"]
            features.append(out)
        layers[layer.name] = {"version": layer.version, "extent": layer.extent, "features": features}
    return {"layers": layers}


def main():
    request = json.load(sys.stdin)
    result = {}
    for tile in request["tiles"]:
        with open(tile["path"], "rb") as f:
            result[tile["name"]] = decode(f.read())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

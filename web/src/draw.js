// terra-draw on the map, loaded only when an operator starts drawing or editing (the
// national view does not need it).

import {
  TerraDraw,
  TerraDrawLineStringMode,
  TerraDrawPointMode,
  TerraDrawPolygonMode,
  TerraDrawSelectMode,
} from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";

const EDITABLE = { draggable: true, coordinates: { midpoints: true, draggable: true, deletable: true } };

/** A started terra-draw with point, line, polygon and select (move, reshape) modes. */
export function createDraw(map) {
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map }),
    modes: [
      new TerraDrawPointMode(),
      new TerraDrawLineStringMode(),
      new TerraDrawPolygonMode(),
      new TerraDrawSelectMode({
        flags: { point: { feature: { draggable: true } }, linestring: { feature: EDITABLE }, polygon: { feature: EDITABLE } },
      }),
    ],
  });
  draw.start();
  return draw;
}

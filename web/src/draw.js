// terra-draw on the map, loaded only when an operator starts drawing or editing (the
// national view does not need it). Polygons and lines may not cross themselves: the
// point that would make them cross is refused while drawing or reshaping, and
// `onRefused(reason)` tells the page why.

import {
  TerraDraw,
  TerraDrawLineStringMode,
  TerraDrawPointMode,
  TerraDrawPolygonMode,
  TerraDrawSelectMode,
  ValidateNotSelfIntersecting,
} from "terra-draw";
import { TerraDrawMapLibreGLAdapter } from "terra-draw-maplibre-gl-adapter";

/** A started terra-draw with point, line, polygon and select (move, reshape) modes. */
export function createDraw(map, { onRefused = () => {}, onAccepted = () => {} } = {}) {
  const validation = (feature) => {
    const result = ValidateNotSelfIntersecting(feature);
    if (result.valid) onAccepted();
    else onRefused("self-intersects");
    return result;
  };
  const editable = { draggable: true, selfIntersectable: false, validation, coordinates: { midpoints: true, draggable: true, deletable: true } };
  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map }),
    modes: [
      new TerraDrawPointMode(),
      new TerraDrawLineStringMode({ validation }),
      new TerraDrawPolygonMode({ validation }),
      new TerraDrawSelectMode({
        flags: { point: { feature: { draggable: true } }, linestring: { feature: editable }, polygon: { feature: editable } },
      }),
    ],
  });
  draw.start();
  return draw;
}

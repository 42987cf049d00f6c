-- The main part of a region: the bounding box of its largest polygon (EPSG:4326,
-- degrees), so that the map fits a city to its mainland rather than to the far
-- islands its full bbox also holds (issue 15). Kept beside bbox as a stored column,
-- computed once per boundary import.

-- The envelope of the largest polygon of g (area in square degrees: only compared).
create function region_main_part(g geometry) returns geometry
    language sql immutable strict parallel safe
    return (select st_envelope(d.geom) from st_dump(g) d order by st_area(d.geom) desc limit 1);

alter table regions
    add column main_bbox geometry(Geometry, 4326) generated always as (region_main_part(geom)) stored;

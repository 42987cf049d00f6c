-- Administrative regions of Indonesia: provinces, regencies/cities and districts, keyed
-- by the Ministry of Home Affairs code (Kepmendagri 300.2.2-2430/2025): `34`, `34.01`,
-- `34.01.01`. All geometry is EPSG:4326 (WGS 84 longitude/latitude, GeoJSON axis order).

create extension if not exists postgis;

create type region_level as enum ('provinsi', 'kabupaten_kota', 'kecamatan');

create table regions (
    code        text primary key
                check (code ~ '^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2})?)?$'),
    -- Stable integer id for map features (MapLibre feature-state): the code's digits,
    -- so 34 -> 34, 34.01 -> 3401, 34.01.01 -> 340101. Digit counts differ per level,
    -- so the ids of different levels never collide.
    feature_id  bigint generated always as (replace(code, '.', '')::bigint) stored unique,
    name        text not null check (name <> ''),
    level       region_level not null,
    -- Parent region: the code without its last segment. Deferred so that one import
    -- transaction can insert parents and children in any order.
    parent_code text references regions (code) deferrable initially deferred,
    -- The published boundary after repair: a valid MultiPolygon, SRID 4326.
    geom_published geometry(MultiPolygon, 4326) not null
                check (st_isvalid(geom_published) and not st_isempty(geom_published)),
    -- The boundary we use everywhere: the published one extended to cover the region's
    -- children (published levels are simplified independently, so a district can
    -- poke out of its regency). With it the hierarchy nests: whatever lies in a
    -- district lies in its regency and province. Equal to geom_published for a
    -- region without children. Always valid, enforced here. SRID 4326.
    geom        geometry(MultiPolygon, 4326) not null
                check (st_isvalid(geom) and not st_isempty(geom)),
    -- Area on the WGS 84 spheroid in square kilometres.
    area_km2    double precision generated always as (st_area(geom::geography) / 1e6) stored,
    -- A point guaranteed to lie inside the region, for labels and region-only reports.
    label_point geometry(Point, 4326) generated always as (st_pointonsurface(geom)) stored,
    -- Axis-aligned bounding box as a polygon, SRID 4326.
    bbox        geometry(Polygon, 4326) generated always as (st_envelope(geom)) stored,
    -- Jakarta's five administrative cities and one administrative regency (31.01,
    -- 31.71-31.75) are not autonomous regions (daerah otonom).
    autonomous  boolean generated always as
                (code not in ('31.01', '31.71', '31.72', '31.73', '31.74', '31.75')) stored,
    -- Autonomous regions that elect their head (pilkada): all autonomous regions but DI
    -- Yogyakarta (34), whose governor is not elected. 38 + 514 - 6 - 1 = 545 daerah.
    elects_head boolean generated always as
                (code not in ('31.01', '31.71', '31.72', '31.73', '31.74', '31.75', '34')) stored,
    -- SHA-256 of the source record (code, name, level, parent, raw coordinates): a
    -- re-import of identical data is recognised and leaves the row untouched.
    source_hash bytea not null,
    source_file text not null,
    imported_at timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint regions_level_matches_code check (
        (level = 'provinsi' and length(code) = 2 and parent_code is null) or
        (level = 'kabupaten_kota' and length(code) = 5 and parent_code = left(code, 2)) or
        (level = 'kecamatan' and length(code) = 8 and parent_code = left(code, 5))
    )
);

-- GiST index for spatial joins and bbox queries (EPSG:4326).
create index regions_geom_gist on regions using gist (geom);
-- Listing the regions of a level, or the children of a parent, in code order.
create index regions_level_code on regions (level, code);
create index regions_parent_code on regions (parent_code, code);

-- The repair rule for published boundaries, applied at import to geometries PostGIS
-- finds invalid (valid ones are kept exactly as published):
-- 1. each published polygon is filled even-odd over all its rings (ST_MakeValid's
--    linework method), so a ring stored as a "hole" outside its shell, as Kabupaten
--    Sorong's mainland is, still becomes land;
-- 2. the polygons of a region are unioned, so an island stored as a separate polygon
--    inside another one ("nested shells") adds nothing and removes nothing;
-- 3. the result is made valid once more and kept as a MultiPolygon (SRID unchanged).
create function repair_boundary(raw geometry) returns geometry
language sql immutable strict parallel safe as $$
    select case
        when st_isvalid(raw) then raw
        else st_multi(st_collectionextract(st_makevalid(
            (select st_unaryunion(st_collect(st_collectionextract(st_makevalid(d.geom), 3)))
             from st_dump(raw) d)), 3))
    end
$$;

-- A parent boundary extended to cover its children: the published parent united with
-- the parts of the children outside it. Levels are simplified independently, so a
-- district can poke out of its regency; with this the hierarchy nests. The fast
-- floating-point overlay is tried first; where the near-coincident edges of the
-- levels make it fail, the overlay is snap-rounded on a 1e-9 degree grid (0.1 mm),
-- which cannot fail. SRID 4326 in and out.
create function nest_boundary(parent geometry, children geometry[]) returns geometry
language plpgsql immutable strict parallel safe as $$
begin
    return st_multi(st_collectionextract(st_makevalid(st_union(parent,
        (select st_union(st_collectionextract(st_difference(c, parent), 3)) from unnest(children) c))), 3));
exception when others then
    return st_multi(st_collectionextract(st_makevalid(st_union(parent,
        (select st_union(st_collectionextract(st_difference(c, parent, 1e-9), 3), 1e-9) from unnest(children) c),
        1e-9)), 3));
end
$$;

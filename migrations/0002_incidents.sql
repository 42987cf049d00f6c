-- Incidents recorded by operators, and region-level indicators from other agencies.
-- Geometry is EPSG:4326 (longitude, latitude).

create type incident_category as enum
    ('pemilu', 'agraria', 'antar_kelompok', 'sara', 'sumber_daya_alam', 'ekonomi', 'lainnya');
-- The stages of handling a conflict: prevention, stopping, recovery, resolved.
create type incident_status as enum ('potensi', 'terjadi', 'ditangani', 'selesai');

create table incidents (
    id            bigint generated always as identity primary key,
    -- Point, LineString or Polygon in EPSG:4326; null for a report known only by its
    -- region (then region_code names it).
    geom          geometry(Geometry, 4326)
                  check (geom is null or (geometrytype(geom) in ('POINT', 'LINESTRING', 'POLYGON') and st_isvalid(geom))),
    region_code   text references regions (code),
    category      incident_category not null,
    severity      smallint not null check (severity between 1 and 5),
    status        incident_status not null default 'potensi',
    occurred_at   timestamptz not null,
    source        text not null default '',
    description   text not null default '',
    -- Assigned by the engine: district, regency/city and province, whether the
    -- location is at sea (within 12 nautical miles), and every region a line or
    -- polygon touches.
    kecamatan_code      text references regions (code),
    kabupaten_kota_code text references regions (code),
    provinsi_code       text references regions (code),
    at_sea        boolean not null default false,
    touched_codes text[] not null default '{}',
    -- An identifier from the source system or file, unique when given, so that a file
    -- loaded twice does not load twice.
    external_id   text unique,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint incidents_located check (geom is not null or region_code is not null)
);

-- Spatial lookups of incidents (bbox filters), EPSG:4326.
create index incidents_geom_gist on incidents using gist (geom);
-- Time windows.
create index incidents_occurred_at on incidents (occurred_at);
-- Per-region listings.
create index incidents_kabupaten_kota on incidents (kabupaten_kota_code, occurred_at);

-- Region-level indicators, e.g. Bawaslu's election vulnerability index (IKP): one
-- value per region, indicator and date.
create table region_indicators (
    region_code text not null references regions (code),
    indicator   text not null check (indicator ~ '^[a-z0-9_]{1,64}$'),
    value       double precision not null check (value = value and value not in ('Infinity', '-Infinity')),
    observed_on date not null,
    source_file text not null default '',
    primary key (region_code, indicator, observed_on)
);

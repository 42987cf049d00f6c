-- Training mode: the marker of a training database (one row when the database holds
-- synthetic incidents for teaching operators; no row in a real database). Databases
-- seeded before this migration already have the table, with its row.
create table if not exists training_marker (
    only_row   boolean primary key default true check (only_row),
    created_at timestamptz not null default now(),
    note       text not null
);
comment on table training_marker is 'SIPKS training database marker: one row means synthetic incidents only';

-- Operators and their scopes, bearer tokens, and what the incident API needs: versions
-- for optimistic concurrency, soft deletion, casualties, an audit trail and
-- idempotency keys.

-- nasional: everything; provinsi: one province's subtree; kabupaten_kota: one regency
-- or city; analis: reads everything, writes nothing (GIS teams).
create type user_role as enum ('nasional', 'provinsi', 'kabupaten_kota', 'analis');

create table users (
    id            bigint generated always as identity primary key,
    username      text not null unique check (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    full_name     text not null default '',
    -- argon2id, PHC string format (salt and parameters included).
    password_hash text not null,
    role          user_role not null,
    -- The region a provinsi or kabupaten_kota user works in; none for the others.
    region_code   text references regions (code),
    disabled      boolean not null default false,
    created_at    timestamptz not null default now(),
    constraint users_scope check ((role in ('provinsi', 'kabupaten_kota')) = (region_code is not null))
);

-- Bearer tokens, stored as SHA-256 of the token: a stolen table does not log anyone in.
create table api_tokens (
    token_hash bytea primary key,
    user_id    bigint not null references users (id),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    revoked_at timestamptz
);
-- Revoking every token of a user (disable).
create index api_tokens_user on api_tokens (user_id);

alter table incidents
    add column version     integer not null default 1,
    add column deleted_at  timestamptz,
    add column reporter_id bigint references users (id),
    add column meninggal   integer not null default 0 check (meninggal >= 0),
    add column luka        integer not null default 0 check (luka >= 0),
    add column pengungsi   integer not null default 0 check (pengungsi >= 0);

-- Every create, edit and delete with who, when, and the incident before and after (as
-- the API shows it).
create table incident_history (
    id          bigint generated always as identity primary key,
    incident_id bigint not null references incidents (id),
    version     integer not null,
    action      text not null check (action in ('create', 'update', 'delete')),
    actor_id    bigint references users (id),
    at          timestamptz not null default now(),
    reason      text,
    before      jsonb,
    after       jsonb
);
-- An incident's history, in order.
create index incident_history_incident on incident_history (incident_id, id);

-- POST with an Idempotency-Key: the same key from the same user returns the incident it
-- created; a different body under the same key is refused.
create table idempotency_keys (
    user_id      bigint not null references users (id),
    key          text not null,
    request_hash bytea not null,
    incident_id  bigint not null references incidents (id),
    created_at   timestamptz not null default now(),
    primary key (user_id, key)
);

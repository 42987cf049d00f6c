-- Recording an incident through the API in one round trip: the idempotency check, the
-- row, its history entry and its idempotency key, in the one transaction of a single
-- statement. (As separate statements it took six round trips, each a wake-up of the
-- server and of this backend; under load they were much of a write's time.) The
-- notice to the other servers is sent after the commit (src/db/notify.rs).
--
-- p_after is the incident as the API shows it, without what the database decides: its
-- `id` and its `created_at` and `updated_at` (RFC 3339 in UTC, whole seconds, as the
-- API writes them) are set here.
--
-- Returns the new incident's id and times; or, when the user already used p_key, the
-- incident that key made and the request hash it was made with (nothing is written).
create function create_incident(
    p_user bigint, p_key text, p_hash bytea,
    p_wkb bytea, p_region text, p_category incident_category, p_severity smallint,
    p_status incident_status, p_occurred_at timestamptz, p_source text, p_description text,
    p_meninggal integer, p_luka integer, p_pengungsi integer,
    p_kecamatan text, p_kabupaten_kota text, p_provinsi text, p_at_sea boolean, p_touched text[],
    p_after jsonb,
    out id bigint, out created_at timestamptz, out updated_at timestamptz, out replayed_hash bytea)
language plpgsql volatile as $$
declare
    stamp text := to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
begin
    if p_key is not null then
        -- Serialises the requests of one key. The lookup below is a statement of its
        -- own, so its snapshot is taken after the wait and sees the key committed by
        -- the transaction waited for.
        perform pg_advisory_xact_lock(hashtextextended(p_key, p_user));
        select k.incident_id, k.request_hash into id, replayed_hash
          from idempotency_keys k where k.user_id = p_user and k.key = p_key;
        if found then
            return;
        end if;
    end if;
    insert into incidents as i (geom, region_code, category, severity, status, occurred_at, source, description,
                                meninggal, luka, pengungsi, kecamatan_code, kabupaten_kota_code, provinsi_code,
                                at_sea, touched_codes, reporter_id)
    values (case when p_wkb is null then null else st_setsrid(st_geomfromwkb(p_wkb), 4326) end, p_region,
            p_category, p_severity, p_status, p_occurred_at, p_source, p_description, p_meninggal, p_luka,
            p_pengungsi, p_kecamatan, p_kabupaten_kota, p_provinsi, p_at_sea, p_touched, p_user)
    returning i.id, i.created_at, i.updated_at into id, created_at, updated_at;
    insert into incident_history (incident_id, version, action, actor_id, after)
    values (id, 1, 'create', p_user,
            jsonb_set(jsonb_set(jsonb_set(p_after, '{id}', to_jsonb(id)),
                                '{properties,created_at}', to_jsonb(stamp)),
                      '{properties,updated_at}', to_jsonb(stamp)));
    if p_key is not null then
        insert into idempotency_keys (user_id, key, request_hash, incident_id) values (p_user, p_key, p_hash, id);
    end if;
end
$$;

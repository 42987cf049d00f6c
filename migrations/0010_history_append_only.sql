-- The audit history is append-only: an entry, once written, is never changed or removed,
-- whoever asks (the server's role included). Triggers refuse UPDATE and DELETE of any row
-- and TRUNCATE of the table, raising insufficient_privilege (42501) with a message that
-- says why. Only a superuser session with session_replication_role = replica (which
-- skips ordinary triggers) can clean up, as the benchmark scripts do for their own
-- rows; the server never sets it.
create function refuse_history_change() returns trigger
language plpgsql as $$
begin
    raise exception 'incident_history is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege',
              hint = 'history entries are only ever added';
end;
$$;

create trigger incident_history_no_update_or_delete
    before update or delete on incident_history
    for each row execute function refuse_history_change();

create trigger incident_history_no_truncate
    before truncate on incident_history
    for each statement execute function refuse_history_change();

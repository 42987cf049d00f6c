-- Login limits shared by every server on the database (issue 17.5): failed logins are
-- counted per user name and per client address, and a name or address that failed too
-- often waits before its next attempt (1 s, doubling up to 5 min). The check and the
-- count are one atomic step taken before the password is verified: an attempt is
-- counted as a failure in advance and the count is given back when it succeeds, so
-- parallel attempts cannot all pass the check before any of them has failed.
--
-- A stranger must not be able to lock the owner out: an address from which a user
-- logged in successfully in the last 90 days is that user's own. From there the name
-- has a counter of its own (name@address) and the per-address limit does not apply, so
-- failures elsewhere do not slow the owner down, while guessing from the owner's
-- address is still slowed down.

create table login_limits (
    -- 'name:<user name>', 'name:<user name>@<address>' or 'addr:<address>' (an IPv6
    -- address by its /64 network).
    key          text primary key,
    -- Failures in the current streak (a streak ends after a quiet spell).
    failures     integer not null default 0,
    -- The next attempt is refused before this.
    next_try     timestamptz not null default '-infinity',
    last_failure timestamptz not null default now()
);

-- The addresses a user logged in from, for the owner's own limit.
create table login_addresses (
    user_id      bigint not null references users (id),
    address      inet not null,
    last_success timestamptz not null default now(),
    primary key (user_id, address)
);

-- The wait after `failures` failures of which `free` need none: 1 s after the first
-- beyond them, doubling, at most 300 s.
create function login_delay(failures integer, free integer) returns interval
language sql immutable as $$
    select case when failures < free then interval '0'
                else least(300, power(2, least(failures - free, 9)))::integer * interval '1 second' end
$$;

-- The limits an attempt for `name` from `address` is counted against.
create function login_keys(name text, address inet) returns text[]
language sql stable as $$
    select case
        when exists (select 1 from login_addresses k join users u on u.id = k.user_id
                     where u.username = name and k.address = login_keys.address
                       and k.last_success > now() - interval '90 days')
            then array['name:' || left(name, 64) || '@' || host(address)]
        else array['addr:' || case when family(address) = 6 then network(set_masklen(address, 64))::text
                                   else host(address) end,
                   'name:' || left(name, 64)]
    end
$$;

-- Takes an attempt: the seconds to wait when a limit refuses it (nothing counted),
-- else 0 with the attempt counted as a failure. `name_free` and `address_free` are the
-- failures allowed without a wait; a streak of failures ends after `streak` without one.
create function login_attempt(name text, address inet, name_free integer, address_free integer, streak interval)
returns integer
language plpgsql as $$
declare
    keys text[] := login_keys(name, address);
    wait interval := interval '0';
    limit_row login_limits;
begin
    -- Now and then, forget the streaks that ended long ago.
    if random() < 0.01 then
        delete from login_limits where last_failure < now() - interval '1 day';
    end if;
    insert into login_limits (key) select unnest(keys) order by 1 on conflict do nothing;
    for limit_row in select * from login_limits where key = any (keys) order by key for update loop
        if limit_row.next_try > now() then
            wait := greatest(wait, limit_row.next_try - now());
        end if;
    end loop;
    if wait > interval '0' then
        return greatest(1, ceil(extract(epoch from wait)))::integer;
    end if;
    update login_limits
       set failures = case when last_failure < now() - streak then 1 else failures + 1 end,
           last_failure = now()
     where key = any (keys);
    update login_limits
       set next_try = now() + login_delay(failures, case when key like 'addr:%' then address_free else name_free end)
     where key = any (keys);
    return 0;
end;
$$;

-- A counted attempt succeeded: the name's streak ends, the address gets its count back,
-- and the address becomes the user's own.
create function login_succeeded(name text, user_id bigint, address inet, address_free integer)
returns void
language plpgsql as $$
declare
    keys text[] := login_keys(name, address);
begin
    delete from login_limits where key = any (keys) and key like 'name:%';
    update login_limits
       set failures = greatest(failures - 1, 0),
           next_try = case when failures - 1 < address_free then '-infinity' else next_try end
     where key = any (keys) and key like 'addr:%';
    insert into login_addresses (user_id, address) values (login_succeeded.user_id, address)
        on conflict on constraint login_addresses_pkey do update set last_success = now();
end;
$$;

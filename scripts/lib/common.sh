# Shared by scripts/run and scripts/test: locate the project, install what is missing,
# and provide a PostgreSQL + PostGIS server (the project's own cluster unless
# DATABASE_URL names one). Sourced, not executed.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=${SIPKS_SHARED:-$ROOT/../shared}
BOUNDARIES=${SIPKS_BOUNDARIES:-$SHARED/boundaries}
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=${SIPKS_PG_PORT:-55432}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are not installed yet; no network use when all are there.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] ||
    die "cargo not found: install the Rust toolchain (https://rustup.rs) and run again"
  command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
}

# Runs a PostgreSQL server binary as the unprivileged 'postgres' user when we are root
# (the server refuses to run as root).
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The data directory of the project's own cluster: .data/pg in the checkout, or a
# per-checkout directory under /var/lib/sipks when the 'postgres' user cannot reach
# the checkout (for example a clone under /root).
embedded_datadir() {
  if [ -n "${SIPKS_PGDATA:-}" ]; then echo "$SIPKS_PGDATA"; return; fi
  mkdir -p "$ROOT/.data"
  if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$ROOT/.data"; then
    echo "$ROOT/.data/pg"
  else
    echo "/var/lib/sipks/pg-$(printf %s "$ROOT" | md5sum | cut -c1-8)"
  fi
}

# Start (or reuse) the project's own cluster and export DATABASE_URL for database $1.
# With DATABASE_URL already set, only checks that the server answers.
ensure_database() {
  local db=$1
  if [ -n "${DATABASE_URL:-}" ]; then
    log "using DATABASE_URL server"
    ensure_apt postgresql-client-15
    psql "$DATABASE_URL" -qAtc 'select 1' >/dev/null || die "cannot connect to DATABASE_URL"
    return 0
  fi
  ensure_apt postgresql-15 postgresql-15-postgis-3
  local data; data=$(embedded_datadir)
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating the project's PostgreSQL cluster in $data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    chmod 700 "$data"
    pg_as_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_as_owner "$PG_BIN/pg_ctl" -D "$data" -w -t 60 -l "$data/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c max_connections=200 -c shared_buffers=512MB -c fsync=on" \
      start >/dev/null || { tail -20 "$data/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  local admin="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  if [ "$(psql "$admin" -qAtc "select 1 from pg_database where datname = '$db'")" != 1 ]; then
    psql "$admin" -qc "create database \"$db\"" >/dev/null
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$db"
  export SIPKS_ADMIN_DATABASE_URL="$admin"
}

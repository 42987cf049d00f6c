# Shared by the benchmark scripts: the shared workload of ../shared/bench (database
# `anchor`, 1,000,000 synthetic points, made by its setup_postgis.sh) and the bench
# database sipks_bench, with the boundaries and those points loaded as incidents.
# Sourced after common.sh.

# Starts the project's cluster (or checks the DATABASE_URL server) and builds the
# `anchor` database on it when it is not there yet. Sets BENCH_URL (sipks_bench, also
# exported as DATABASE_URL) and ANCHOR_URL.
ensure_anchor_workload() {
  ensure_apt gdal-bin
  ensure_database sipks_bench
  BENCH_URL=$DATABASE_URL
  local admin=${SIPKS_ADMIN_DATABASE_URL:-$DATABASE_URL}
  ANCHOR_URL=${admin%/*}/anchor
  if [ "$(psql "$ANCHOR_URL" -Atc 'select count(*) from incidents' 2>/dev/null || echo 0)" != 1000000 ]; then
    log "building the shared workload (database anchor, 1,000,000 points)"
    local hostport=${admin#*@}; hostport=${hostport%%/*}
    PGHOST=${hostport%:*} PGPORT=${hostport##*:} PGUSER=postgres bash "$SHARED/bench/setup_postgis.sh" 1000000 >&2
  fi
}

# The above, plus the release binary and sipks_bench with the boundaries and the
# workload's points as incidents (dates shifted to span the year up to today). Sets BIN.
ensure_bench_workload() {
  ensure_rust
  ensure_anchor_workload
  (cd "$ROOT" && cargo build --release --locked --quiet --bin sipks)
  BIN="$ROOT/target/release/sipks"
  "$BIN" migrate
  "$BIN" boundaries import --if-empty "$BOUNDARIES/wilayah_boundaries" >/dev/null
  if [ "$(psql "$BENCH_URL" -Atc 'select count(*) from incidents')" -lt 900000 ]; then
    local csv; csv=$(mktemp --suffix=.csv)
    log "exporting the workload to $csv"
    local query="select st_x(geom) as lon, st_y(geom) as lat,
      to_char((occurred_at + (date_trunc('day', now()) - timestamptz '2025-01-01 00:00:00+00')) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') as occurred_at,
      (array['pemilu','agraria','antar_kelompok','sara','sumber_daya_alam','ekonomi','lainnya'])[1 + id % 7] as category,
      severity, (array['potensi','terjadi','ditangani','selesai'])[1 + (id / 7) % 4] as status,
      'sintetis' as source, 'bench ' || id as description, 'bench-' || id as id
    from incidents order by id"
    psql "$ANCHOR_URL" -qc "\\copy ($(tr '\n' ' ' <<<"$query")) to '$csv' csv header"
    log "loading it with sipks incidents import --partial"
    /usr/bin/time -f "import: %e s, max RSS %M KB" "$BIN" --lang en incidents import --partial "$csv" | grep -v "rejected:" || true
    rm -f "$csv"
  fi
}

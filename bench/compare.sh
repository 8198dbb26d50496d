#!/usr/bin/env bash
# Side-by-side benchmark (issue 7): Encore's log vs raw RocksDB (one WriteBatch
# + WAL sync per group of appends, encore_ledger::baseline) vs a Message-DB-style
# PostgreSQL event table (synchronous_commit = on), same machine, same workloads.
#
# The full run, from the repository root (about 5 minutes plus the release build):
#
#   CARGO_TARGET_DIR=$HOME/.cache/encore-target bench/compare.sh
#
# writes the section "## Side by side: Encore vs raw RocksDB vs PostgreSQL" and
# "## CBOR: minicbor vs ciborium" of docs/BENCHMARKS.md (other sections stay).
#
#   bench/compare.sh [--smoke] [--seconds S] [--out FILE]
#     --smoke      tiny sizes, count-bounded (the smoke test `cargo test -p encore-bench` runs this)
#     --seconds S  time bound of each measurement (default 5)
#     --out FILE   the document to write (default docs/BENCHMARKS.md)
#   ENCORE_BENCH_BIN=PATH  use this encore-bench binary instead of `cargo build --release`
#
# It installs Debian's `postgresql` if pgbench/initdb are missing, runs a
# private server on 127.0.0.1 (initdb into a temporary directory, as user
# postgres when run as root) and stops it and removes everything on exit.
# Each measurement is bounded in time (-T / --seconds) and in count.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
seconds=5
out=docs/BENCHMARKS.md
command_line="${CARGO_TARGET_DIR:+CARGO_TARGET_DIR=$CARGO_TARGET_DIR }bench/compare.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --seconds) seconds="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$smoke" = 1 ]; then read_log_events=3000; else read_log_events=100000; fi
writer_counts="1 8 64"

say() { echo "compare.sh: $*" >&2; }

# --- PostgreSQL binaries -----------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/pgbench" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  say "installing Debian's postgresql (server and pgbench)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
PGBIN="$(pg_bin)"

# --- The Rust driver ----------------------------------------------------------
if [ -n "${ENCORE_BENCH_BIN:-}" ]; then
  bench_bin="$ENCORE_BENCH_BIN"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/encore-target}"
  say "building encore-bench (release)"
  cargo build --quiet --release -p encore-bench
  bench_bin="$CARGO_TARGET_DIR/release/encore-bench"
fi

work="$(mktemp -d /tmp/encore-compare.XXXXXX)"
chmod 711 "$work" # the postgres user must reach its data directory inside
pgdata="$work/pg/data"
as_pg=()
cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/results" "$work/scripts" "$work/logs" "$work/pgbench-output" "$work/pg"

# --- Encore and raw RocksDB, in-process ----------------------------------------
mode_args=()
if [ "$smoke" = 1 ]; then mode_args=(--smoke); else mode_args=(--seconds "$seconds"); fi
say "Encore and raw RocksDB"
"$bench_bin" run "${mode_args[@]}" | tee "$work/results/inprocess.tsv" >&2

# --- PostgreSQL: a private server on loopback ------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres "$work/pg"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$PGBIN/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-sync >"$work/pg/initdb.log" 2>&1 \
  || { cat "$work/pg/initdb.log" >&2; exit 1; }
port=""
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 20000))
  if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -l "$work/pg/server.log" -w -t 60 start -o \
    "-p $candidate -k $work/pg -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c shared_buffers=256MB -c max_connections=150" \
    >/dev/null 2>&1; then
    port="$candidate"
    break
  fi
done
[ -n "$port" ] || { say "PostgreSQL did not start:"; cat "$work/pg/server.log" >&2; exit 1; }
say "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
psql_() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"; }

# Message DB's shape: global position, stream, version unique per stream,
# event id unique (Encore indexes event ids too), type, data, time.
psql_ <<'SQL'
CREATE TABLE events (
  global_position bigserial PRIMARY KEY,
  stream_name     text        NOT NULL,
  version         bigint      NOT NULL,
  id              uuid        NOT NULL DEFAULT gen_random_uuid(),
  type            text        NOT NULL,
  data            bytea       NOT NULL,
  time            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_stream_version ON events (stream_name, version);
CREATE UNIQUE INDEX events_id ON events (id);
SQL

# --- pgbench scripts: the same workloads -----------------------------------------
payload="'\\x$(printf 'a5%.0s' $(seq 256))'::bytea"
# Single event: version = current + 1 in the same statement; the unique index
# refuses a concurrent duplicate.
cat >"$work/scripts/append-1.sql" <<SQL
INSERT INTO events (stream_name, version, type, data)
SELECT 'w-' || :client_id, coalesce(max(version), 0) + 1, 'Bench', $payload
FROM events WHERE stream_name = 'w-' || :client_id;
SQL
{
  echo "INSERT INTO events (stream_name, version, type, data)"
  echo "SELECT 'w-' || :client_id, cur.v + n.i, 'Bench', n.d"
  echo "FROM (SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_name = 'w-' || :client_id) cur,"
  echo -n "     (VALUES "
  for i in $(seq 1 10); do [ "$i" = 1 ] || echo -n ", "; echo -n "($i, $payload)"; done
  echo ") AS n(i, d);"
} >"$work/scripts/append-10.sql"
# A purchase: a new purchase stream (expected: no stream) and the client's
# wallet stream (expected: exactly k-1), in one transaction. A failed check
# inserts nothing; the row count checked after the run catches it.
cat >"$work/scripts/purchase.sql" <<SQL
\\set k :k + 1
BEGIN;
INSERT INTO events (stream_name, version, type, data)
SELECT 'purchase-' || :client_id || '-' || :k, 1, 'PurchaseCompleted', $payload
WHERE NOT EXISTS (SELECT 1 FROM events WHERE stream_name = 'purchase-' || :client_id || '-' || :k);
INSERT INTO events (stream_name, version, type, data)
SELECT 'wallet-' || :client_id, :k, 'WalletCharged', $payload
WHERE (SELECT coalesce(max(version), 0) FROM events WHERE stream_name = 'wallet-' || :client_id) = :k - 1;
COMMIT;
SQL
cat >"$work/scripts/read-stream.sql" <<'SQL'
SELECT global_position, stream_name, version, id, type, data, time
FROM events WHERE stream_name = 'read-stream' AND version >= 1 ORDER BY version LIMIT 1000;
SQL
# The whole log in pages of 1,000 (positions are gapless after the load).
cat >"$work/scripts/read-all.sql" <<'SQL'
SELECT global_position, stream_name, version, id, type, data, time
FROM events WHERE global_position > :pos ORDER BY global_position LIMIT 1000;
\set pos :pos + 1000
SQL

reset_table() {
  psql_ -c "TRUNCATE events RESTART IDENTITY" -c "CHECKPOINT" -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
}

# pg_measure WORKLOAD WRITERS EVENTS_PER_OP BOUND... : one pgbench run, one row.
pg_measure() {
  local workload="$1" writers="$2" per_op="$3"
  shift 3
  local threads=$((writers < 2 ? writers : 2))
  local prefix="$work/logs/$workload-$writers" output="$work/pgbench-output/$workload-$writers"
  "$PGBIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$port" -U postgres -c "$writers" -j "$threads" \
    -l --log-prefix="$prefix" -f "$work/scripts/$workload.sql" "$@" postgres >"$output" 2>&1 \
    || { cat "$output" >&2; exit 1; }
  sleep 0.2 # the exiting backends flush their WAL statistics
  local syncs=()
  case "$workload" in
    read-*) ;;
    *) syncs=(--syncs "$(psql_ -c "SELECT wal_sync FROM pg_stat_wal")") ;;
  esac
  "$bench_bin" pgbench-row --workload "$workload" --writers "$writers" --events-per-op "$per_op" \
    "${syncs[@]}" --log-prefix "$prefix" | tee -a "$work/results/postgres.tsv" >&2
}

# The rows written must be exactly the transactions pgbench logged times the
# events per transaction: no failed expected-version check, nothing lost.
check_rows() {
  local workload="$1" writers="$2" per_op="$3" want got
  want=$(($(cat "$work/logs/$workload-$writers".[0-9]* | wc -l) * per_op))
  got="$(psql_ -c "SELECT count(*) FROM events")"
  [ "$got" = "$want" ] || { say "PostgreSQL $workload/$writers: $got rows, expected $want"; exit 1; }
}

if [ "$smoke" = 1 ]; then bound=(-t 3); else bound=(-T "$seconds"); fi
say "PostgreSQL writes"
for spec in "append-1 1" "append-10 10" "purchase 2"; do
  set -- $spec
  for writers in $writer_counts; do
    reset_table
    pg_measure "$1" "$writers" "$2" "${bound[@]}" -D k=0
    check_rows "$1" "$writers" "$2"
  done
done

say "PostgreSQL reads ($read_log_events events)"
reset_table
psql_ <<SQL
INSERT INTO events (stream_name, version, type, data)
SELECT 'fill-' || ((g / 1000) % 100), ((g / 1000) / 100) * 1000 + g % 1000 + 1, 'Fill', decode(repeat('a5', 256), 'hex')
FROM generate_series(0, $read_log_events - 1000 - 1) AS g ORDER BY g;
INSERT INTO events (stream_name, version, type, data)
SELECT 'read-stream', g, 'Bench', decode(repeat('a5', 256), 'hex') FROM generate_series(1, 1000) AS g ORDER BY g;
VACUUM ANALYZE events;
SQL
[ "$(psql_ -c "SELECT count(*) = max(global_position) AND count(*) = $read_log_events FROM events")" = "t" ] \
  || { say "PostgreSQL read log is not $read_log_events gapless positions"; exit 1; }
pg_measure read-stream 1 1000 "${bound[@]}"
pg_measure read-all 1 1000 -t $((read_log_events / 1000)) -D pos=0
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
say "PostgreSQL stopped"

# --- CBOR, then the report ------------------------------------------------------
if [ "$smoke" = 1 ]; then iterations=100; else iterations=200000; fi
"$bench_bin" cbor --iterations "$iterations" --out "$out" --command "$command_line" >&2

disk="$(findmnt -no SOURCE,FSTYPE -T "$work" 2>/dev/null | head -n 1)"
rotational="$(lsblk -dno ROTA "$(findmnt -no SOURCE -T "$work" 2>/dev/null | head -n 1)" 2>/dev/null | tr -d ' ' || echo "?")"
cat >"$work/machine.md" <<EOF
Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GiB memory, disk $disk (rotational: $rotational), kernel $(uname -r), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(date -u +%Y-%m-%d). Mode: $([ "$smoke" = 1 ] && echo "smoke (tiny sizes: not figures)" || echo "full, $seconds s per measurement"); the read log holds $read_log_events events.
EOF
cat >"$work/notes.md" <<'EOF'
How each system is driven:

- **Encore**: `encore_ledger::Ledger::append` from N threads (one stream per writer, `ExpectedVersion::Any`; purchases: a new `purchase-W-K` stream with `NoStream` and `wallet-W` with `Exact(K-1)`), default options, a fresh log per measurement. Reads: `read_stream` of 1,000 events, `read_all` in pages of 1,000.
- **raw RocksDB**: `encore_ledger::baseline::RawLog` (feature `baseline`): N threads queue key/value pairs to one writer thread that drains the queue into one `WriteBatch` and writes it with `sync = true`. One put per event under `stream \0 version`; no chain, no indexes, no version checks. "Read all" scans every key in key order in pages of 1,000.
- **PostgreSQL**: a Message-DB-style `events` table (bigserial global position, stream name, version with a unique index on (stream_name, version), uuid event id with a unique index, type, bytea data, time), `synchronous_commit = on`, `fsync = on`, `shared_buffers = 256MB`, driven by `pgbench -M prepared -c N -j min(N,2)` over 127.0.0.1 with custom scripts (the version is computed as max+1 in the INSERT; purchases check both expected versions in SQL inside one transaction); latencies from `pgbench -l` per-transaction logs. The table is truncated before each measurement and the row count is checked against the logged transactions after it. Events per sync for PostgreSQL come from `pg_stat_wal.wal_sync`.

Caveat: a virtual machine of 2 cores whose disk latency varies from run to run, so the figures are noisy (compare ratios from one run, not absolute numbers across runs; runs of the same build differed by up to 20 %); pgbench itself uses CPU on the same 2 cores as the server.
EOF
"$bench_bin" report --results "$work/results/inprocess.tsv" --results "$work/results/postgres.tsv" \
  --out "$out" --machine "$work/machine.md" --notes "$work/notes.md" \
  --command "$command_line"
say "wrote $out"

# A throwaway PostgreSQL cluster for the tests and the benchmark: `source scripts/pg.sh`, then
# `pg_start` (initdb in a temporary directory, a free loopback port; sets REFTRACK_PG to the
# server's URL, postgres://postgres@127.0.0.1:PORT) and `pg_stop` (stops it and removes it; call it
# from an EXIT trap so that it runs when the tests fail too). As root, the cluster runs as the
# `postgres` user: initdb refuses to run as root.

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] || { echo "PostgreSQL is not installed: run scripts/setup.sh" >&2; return 1; }
  echo "$dir"
}

pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin port
  bin=$(pg_bin) || return 1
  REFTRACK_PG_DIR=$(mktemp -d /tmp/reftrack-pg.XXXXXX)
  chmod 755 "$REFTRACK_PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$REFTRACK_PG_DIR"
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  pg_as_owner "$bin/initdb" -D "$REFTRACK_PG_DIR/data" -U postgres -A trust --no-sync >"$REFTRACK_PG_DIR/initdb.log" 2>&1 ||
    { cat "$REFTRACK_PG_DIR/initdb.log" >&2; return 1; }
  pg_as_owner "$bin/pg_ctl" -D "$REFTRACK_PG_DIR/data" -l "$REFTRACK_PG_DIR/server.log" -w -t 60 \
    -o "-p $port -k $REFTRACK_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null ||
    { cat "$REFTRACK_PG_DIR/server.log" >&2; return 1; }
  export REFTRACK_PG="postgres://postgres@127.0.0.1:$port"
}

pg_stop() {
  [ -n "${REFTRACK_PG_DIR:-}" ] || return 0
  pg_as_owner "$(pg_bin)/pg_ctl" -D "$REFTRACK_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$REFTRACK_PG_DIR"
  REFTRACK_PG_DIR=
}

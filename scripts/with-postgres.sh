#!/usr/bin/env bash
# Run a command beside a private, throwaway PostgreSQL server.
#
# Starts a server from the machine's PostgreSQL binaries in a temporary data directory on a
# free loopback port (as the unprivileged `postgres` user when run as root), exports
# AUTOPLAT_TEST_PG_URL for the command, and stops the server afterwards whatever happens.
# PG_DURABLE=1 keeps fsync/synchronous_commit on (benchmarks); tests run without them.
set -euo pipefail

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && {
    pg_config --bindir; return 0; }
  return 1
}

bindir=$(find_bindir) || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing PostgreSQL server binaries" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bindir=$(find_bindir)
  else
    echo "with-postgres: no PostgreSQL binaries found (install postgresql)" >&2
    exit 1
  fi
}

as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/autoplat-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300"
if [ "${PG_DURABLE:-0}" != 1 ]; then
  opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -o "$opts" -w start >/dev/null

export AUTOPLAT_TEST_PG_URL="postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
rc=$?
set -e
exit $rc

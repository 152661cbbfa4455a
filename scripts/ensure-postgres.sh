#!/bin/sh
# Make a PostgreSQL server reachable for the tests that use one for real.
# 1. one answers already: done.  2. a Debian cluster is installed: start it.
# 3. server binaries but no cluster: initdb a private one as a non-root user.
# 4. nothing installed: install Debian's server package, then 3.
# The private cluster listens on 127.0.0.1:5432 only when that port is free,
# otherwise on 54329; tests read CHARGELEDGER_TEST_POSTGRES (see tests/conftest.py).
set -eu
ready() { pg_isready -q -h 127.0.0.1 -p "${1:-5432}" 2>/dev/null; }
command -v pg_isready >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
ready && exit 0
if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do ready && exit 0; sleep 1; done
fi
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); }
data=${TMPDIR:-/tmp}/chargeledger-pg
port=5432
ready 54329 && exit 0
if [ ! -f "$data/PG_VERSION" ]; then
    id pgtest >/dev/null 2>&1 || useradd --system --no-create-home pgtest 2>/dev/null || true
    mkdir -p "$data" && chown pgtest "$data"
    su pgtest -s /bin/sh -c "$bindir/initdb -D $data -U postgres --auth=trust >/dev/null"
fi
ss -ltn 2>/dev/null | grep -q ':5432 ' && port=54329
su pgtest -s /bin/sh -c "$bindir/pg_ctl -D $data -o '-p $port -k /tmp -c listen_addresses=127.0.0.1' -l $data/log start >/dev/null"
for _ in 1 2 3 4 5 6 7 8 9 10; do ready $port && break; sleep 1; done
psql -h 127.0.0.1 -p $port -U postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
echo "private PostgreSQL on 127.0.0.1:$port"

#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the server tests (user postgres, trust auth on
# loopback only). On a fresh Debian machine it installs the `postgresql` package and starts the cluster; where a
# server already runs it does nothing. The tests create (and drop) their own database per run.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if command -v pg_isready >/dev/null && ready; then
  echo "ci-services: PostgreSQL already answers on $HOST:$PORT"
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null; then
  echo "ci-services: installing postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# The newest installed cluster (Debian creates "main" on install).
VERSION=$(ls /etc/postgresql | sort -V | tail -1)
CONF=/etc/postgresql/$VERSION/main
if [ ! -d "$CONF" ]; then $SUDO pg_createcluster "$VERSION" main; fi

# Trust the postgres user on loopback only (test machines), ahead of the default rules.
if ! $SUDO grep -q "modelvet-ci" "$CONF/pg_hba.conf"; then
  $SUDO sed -i "1i host all postgres 127.0.0.1/32 trust # modelvet-ci" "$CONF/pg_hba.conf"
fi
$SUDO sed -i "s/^#\?listen_addresses.*/listen_addresses = '127.0.0.1'/" "$CONF/postgresql.conf"
$SUDO sed -i "s/^#\?port = .*/port = $PORT/" "$CONF/postgresql.conf"

$SUDO pg_ctlcluster "$VERSION" main start || $SUDO pg_ctlcluster "$VERSION" main reload
for _ in $(seq 1 30); do
  if ready; then
    echo "ci-services: PostgreSQL $VERSION answers on $HOST:$PORT"
    exit 0
  fi
  sleep 1
done
echo "ci-services: PostgreSQL did not start; see /var/log/postgresql/" >&2
exit 1

#!/usr/bin/env bash
# Start what the tests need when it is down: PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-services: installing PostgreSQL (Debian packages)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
for v in /etc/postgresql/*; do
  pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
done
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "ensure-services: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 3

#!/usr/bin/env bash
# What the tests need beyond the venv: PostgreSQL on 127.0.0.1:5432 (started if down) and
# Debian's Chromium for the browser tests (installed if missing). Idempotent and quick when
# everything is already there.
set -euo pipefail

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "ensure-services: installing Debian's chromium for the browser tests" >&2
  apt_install chromium || echo "ensure-services: chromium could not be installed; browser tests will skip" >&2
fi

if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-services: installing PostgreSQL (Debian packages)" >&2
  apt_install postgresql
fi
for v in /etc/postgresql/*; do
  [ -d "$v" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
done
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "ensure-services: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 3

#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (SQLite, no server needed).
# A newcomer's tour: scaffold a governed project, check its contract, show it resolved.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
monday="$here/.venv/bin/monday"
work="$(mktemp -d "${TMPDIR:-/tmp}/monday-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CI="${CI:-true}"   # plain output, so the demo reads the same in a terminal and a log

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. monday init: scaffold a governed project"
"$monday" init "$work/claims-triage"
cd "$work/claims-triage"

step "2. monday spec validate: the contract holds"
"$monday" spec validate

step "3. a broken contract is refused with FILE:LINE:COL and a fix"
sed 's/risk: limited/risk: extreme/' monday.yaml > broken.yaml
if "$monday" spec validate broken.yaml; then echo "unexpected: broken contract accepted"; exit 1
else echo "(exit $? as expected)"; fi
rm broken.yaml

step "4. monday spec show: the resolved contract, its digest and git provenance"
"$monday" spec show | tail -n 25

printf '\nDemo done.\n'

#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (SQLite, no server needed).
# A newcomer's tour of a governed AI system (examples/claims-triage), in a scratch copy.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$here/.venv/bin:$PATH"
work="$(mktemp -d "${TMPDIR:-/tmp}/monday-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export CI="${CI:-true}"   # plain output: the demo reads the same in a terminal and in a log

step() { printf '\n== %s\n' "$*"; }

step "1. monday init: scaffold a new governed project (it validates as written)"
monday init "$work/new-project" | tail -n 3

cp -r "$here/examples/claims-triage" "$work/claims-triage"
cd "$work/claims-triage"

step "2. monday spec validate: the claims-triage contract holds"
monday spec validate

step "3. a broken contract is refused with FILE:LINE:COL and how to fix it"
sed -e 's/risk: high/risk: extreme/' -e 's/handoff_window: P90D/handoff_windw: P90D/' \
  monday.yaml > broken.yaml
if monday spec validate broken.yaml; then echo "unexpected: broken contract accepted"; exit 1
else echo "(exit $? as expected)"; fi
rm broken.yaml

step "4. monday spec show: the contract resolved, its digest and provenance"
monday spec show --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
p, s = d["provenance"], d["spec"]
print("system   ", s["system"]["name"], "(risk:", s["system"]["risk"] + ")")
print("cutover  ", s["cutover"], "+", s["handoff_window"], "handoff window")
print("failures ", ", ".join(f["id"] + " " + f["severity"] for f in s["failure_modes"]))
print("digest   ", p["digest"])'

step "5. monday eval run: the model on its 400-case eval set"
monday eval run triage --cache off > "$work/run.txt" 2>&1
sed -n '1,5p' "$work/run.txt"

step "6. monday eval gate: the candidate v2 model (drops the text features) against the baseline"
set +e
CLAIMS_MODEL_VERSION=v2 monday eval gate triage --cache off \
  --comment-out "$work/pr-comment.md" --html "$work/gate.html" --junit "$work/junit.xml" \
  > "$work/gate.txt" 2>&1
rc=$?
set -e
grep -E "^(gate|required|threshold|regression|budget|flipped)" "$work/gate.txt" | cut -c1-150
echo "(exit $rc: the regression is caught; PR comment, HTML and JUnit reports written)"
[ "$rc" = 1 ] || { echo "unexpected: the gate did not fail the regressed model"; exit 1; }

step "7. monday eval gate: the current v1 model passes against the committed baseline"
monday eval gate triage --cache off > "$work/gate-v1.txt" 2>&1
grep -E "^(gate|required|threshold|regression|budget)" "$work/gate-v1.txt" | cut -c1-150

printf '\nDemo done.\n'

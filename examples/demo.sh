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

step "5. monday audit keygen: the log's signing key and the vault key (vkey recorded in monday.yaml)"
monday audit keygen | tail -n 1
monday audit keygen --vault > /dev/null
grep -n "vkey:" monday.yaml

step "6. monday eval run: the model on its 400-case eval set"
monday eval run triage --cache off > "$work/run.txt" 2>&1
sed -n '1,5p' "$work/run.txt"

step "7. monday eval gate: the candidate v2 model (drops the text features) against the baseline"
set +e
CLAIMS_MODEL_VERSION=v2 monday eval gate triage --cache off \
  --comment-out "$work/pr-comment.md" --html "$work/gate.html" --junit "$work/junit.xml" \
  > "$work/gate.txt" 2>&1
rc=$?
set -e
grep -E "^(gate|required|threshold|regression|budget|flipped|recorded)" "$work/gate.txt" | cut -c1-150
echo "(exit $rc: the regression is caught; PR comment, HTML and JUnit reports written)"
[ "$rc" = 1 ] || { echo "unexpected: the gate did not fail the regressed model"; exit 1; }

step "8. a release of v2 is refused: no passing gate verdict for it in the log"
set +e
CLAIMS_MODEL_VERSION=v2 monday release record --model claims-triage --version v2 --suite triage \
  > "$work/release-v2.txt" 2>&1
rc=$?
set -e
cut -c1-160 "$work/release-v2.txt" | head -n 3
echo "(exit $rc)"
[ "$rc" = 1 ] || { echo "unexpected: an unapproved release was accepted"; exit 1; }

step "9. the current v1 model passes the gate; its release is bound to that verdict"
monday eval gate triage --cache off > "$work/gate-v1.txt" 2>&1
grep -E "^(gate|required|threshold|regression|budget|recorded)" "$work/gate-v1.txt" | cut -c1-150
monday release record --model claims-triage --version v1 --suite triage | cut -c1-160

step "10. the system in production: 300 claims routed, each decision signed into the log"
python -m claims.serve 300

step "11. a receipt for one decision, verified offline against the vkey alone"
monday audit checkpoint > /dev/null
monday audit receipt 42 -o "$work/decision-42.tlog-proof"
monday audit verify "$work/decision-42.tlog-proof" | cut -c1-160

step "12. monday audit why 42: the model version in force, the gate verdict behind it, the proofs"
monday audit why 42 | cut -c1-160

step "13. tampering is caught: one changed byte in the receipt's entry fails verification"
python3 - "$work/decision-42.tlog-proof" "$work/forged.tlog-proof" <<'PY'
import base64, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
entry = json.loads(base64.b64decode(lines[1].split(b" ", 1)[1]))
entry["payload"]["outcome"]["label"] = "fast_track" if entry["payload"]["outcome"]["label"] != "fast_track" else "standard"
lines[1] = b"extra " + base64.b64encode(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())
open(sys.argv[2], "wb").write(b"\n".join(lines))
PY
set +e
monday audit verify "$work/forged.tlog-proof" 2>&1 | cut -c1-160
rc=${PIPESTATUS[0]}
set -e
echo "(exit $rc)"
[ "$rc" = 1 ] || { echo "unexpected: a forged receipt verified"; exit 1; }

step "14. a customer's right to erasure: vault material gone, every proof still verifies"
customer=$(python3 -c 'import random; r = random.Random(99); print(f"cust-{r.randrange(10_000):05d}")')
monday audit erase "$customer" --legal-basis DSR-2026-0042 | cut -c1-160
monday audit verify "$work/decision-42.tlog-proof" | head -n 1 | cut -c1-120

step "15. monday audit fsck and monitor: the whole log recomputed, every decision's binding checked"
monday audit fsck | cut -c1-200
monday audit monitor | cut -c1-150
monday audit log -n 6 | cut -c1-150

printf '\nDemo done: contract validated, regression gated, release bound to its verdict, decisions\nsigned, explained and verified, tampering caught, erasure honoured. Scratch copy: removed on exit.\n'

#!/usr/bin/env bash
# Create .venv and install the locked dependencies plus Monday itself (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
quiet() { grep -v -e "is ignored: it is neither a file nor a directory" || true; }
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
  -r requirements.lock 2> >(quiet >&2)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . 2> >(quiet >&2)

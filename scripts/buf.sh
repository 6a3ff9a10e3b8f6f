#!/usr/bin/env bash
# buf for this repository, run from its root: fills build/proto-deps (the google/api protos that
# protos/ imports, copied from the installed googleapis-common-protos by scripts/proto_deps.py;
# buf.yaml names that directory as a second module) and then runs buf with the given arguments:
#   bash scripts/buf.sh lint
#   bash scripts/buf.sh build -o sage.protoset
# BUF=<path> picks the buf binary (default: node_modules/.bin/buf, else buf on PATH);
# PYTHON=<path> the interpreter that has the project installed (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

buf="${BUF:-}"
if [ -z "$buf" ]; then
  if [ -x node_modules/.bin/buf ]; then buf=node_modules/.bin/buf
  elif command -v buf >/dev/null; then buf=$(command -v buf)
  else echo "buf is not installed; run 'npm install' at the repo root" >&2; exit 2
  fi
fi
"${PYTHON:-python3}" scripts/proto_deps.py >/dev/null
exec "$buf" "$@"

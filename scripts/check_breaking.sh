#!/usr/bin/env bash
# Fail when protos/ breaks wire or JSON compatibility (buf's WIRE_JSON rules, set in
# buf.yaml) with the previous state of the contracts:
#   - on main (or a detached HEAD that main contains): the previous commit, HEAD~1;
#   - on another branch: its merge-base with main, i.e. what merging it would change.
# BASE=<git revision> overrides the choice; BUF=<path> picks the buf binary (see scripts/buf.sh).
# A breaking change belongs in a new package version (sage.kv.v2 next to sage.kv.v1).
# Exits 0 with a message when there is nothing to compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${BASE:-}" ]; then
  base="$BASE"
else
  base="HEAD~1"
  if git rev-parse -q --verify 'main^{commit}' >/dev/null; then
    fork=$(git merge-base HEAD main || true)
    if [ -n "$fork" ] && [ "$fork" != "$(git rev-parse HEAD)" ]; then base="$fork"; fi
  fi
fi

if ! git rev-parse -q --verify "${base}^{commit}" >/dev/null; then
  echo "check_breaking: skipped: no commit '${base}' to compare with (first commit or shallow clone)"
  exit 0
fi
if [ -z "$(git ls-tree -d "$base" protos)" ]; then
  echo "check_breaking: skipped: ${base} has no protos/"
  exit 0
fi

against=$(mktemp -d)
trap 'rm -rf "$against"' EXIT
git archive "$base" protos | tar -x -C "$against"
# The module layout comes from buf.yaml; the base's own when it has one.
if git cat-file -e "${base}:buf.yaml" 2>/dev/null; then
  git show "${base}:buf.yaml" >"$against/buf.yaml"
else
  cp buf.yaml "$against/buf.yaml"
fi
# A base whose buf.yaml names build/proto-deps (the google/api protos) needs it filled too.
"${PYTHON:-python3}" scripts/proto_deps.py --dest "$against/build/proto-deps" >/dev/null

described=$(git log -1 --format="%h %s" "$base")
# Only the protos module is compared: the base may not have build/proto-deps as a module at all.
if bash scripts/buf.sh breaking protos --against "$against/protos"; then
  echo "check_breaking: protos/ is wire- and JSON-compatible with ${described}"
else
  echo "check_breaking: protos/ breaks compatibility with ${described}; see above." >&2
  echo "  Keep the old fields/numbers (reserve them when removing), or put the change in a new" >&2
  echo "  package version (e.g. sage.kv.v2 next to sage.kv.v1)." >&2
  exit 1
fi

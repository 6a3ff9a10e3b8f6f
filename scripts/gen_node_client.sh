#!/usr/bin/env bash
# Generate the TypeScript sources of the Node client (clients/node/src/gen/) from protos/.
# ts-proto runs as a protoc plugin under buf (scripts/buf.sh); both come from npm (root and clients/node).
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=clients/node/node_modules/.bin/protoc-gen-ts_proto
[ -x "$plugin" ] || { echo "ts-proto is missing: run 'npm install' in clients/node" >&2; exit 1; }
bash scripts/buf.sh generate --template clients/node/buf.gen.yaml
echo "generated clients/node/src/gen/ from protos/"

#!/usr/bin/env bash
# The main job on a fresh machine: set up, bring the mesh up, run the demo through Envoy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== sage mesh up"
sage mesh up --run-dir run
echo "== demo"
python3 examples/mesh_demo.py --run-dir run
echo
echo "The mesh is still running (logs in run/logs/). Stop it with: sage mesh down --run-dir run"

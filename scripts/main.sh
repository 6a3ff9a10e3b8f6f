#!/usr/bin/env bash
# The main job on a fresh machine: set up, bring the mesh up, then answer questions about this
# project's docs/ with RAG over the mesh (ingest -> hybrid retrieval -> SmolLM2 on CPU through the
# LLM service), print the evaluation table and one chat turn through Envoy + the OpenAI gateway.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
echo "== sage mesh up"
sage mesh up --run-dir run
SAGE_ETCD_ENDPOINTS="127.0.0.1:$(python3 -c 'import json; print(json.load(open("run/state.json"))["ports"]["etcd"])')"
export SAGE_ETCD_ENDPOINTS
echo "== KV through Envoy"
python3 examples/mesh_demo.py --run-dir run
echo "== an API key for the gateway"
SAGE_GATEWAY_KEY="$(sage keys create --user demo --name main-job | tail -n 1)"
export SAGE_GATEWAY_KEY
echo "== RAG over the mesh"
python3 examples/rag/main_job.py --run-dir run  # ends with the line saying how to stop the mesh

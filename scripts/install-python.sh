#!/usr/bin/env bash
# The Python part of an install: the ONE list of extras and --no-deps packages, shared by
# scripts/setup.sh (the README's first command), quickstart.sh and deploy/Dockerfile, so what
# the image runs cannot drift from what a developer's machine runs.
#
#   bash scripts/install-python.sh [--editable] [PROFILE|EXTRAS]
#
# PROFILE: minimal (SDK, local runtime, embedded backends), standard (+ the services' real
# engines and the Ray executor: what every service of the image runs), dev (standard + test
# tools; the default), vllm (standard + vLLM). Anything else is a raw extras list ("dev,ray").
# Then the packages of scripts/pip-nodeps.txt, with --no-deps. PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
editable=()
if [ "${1:-}" = "--editable" ]; then editable=(-e); shift; fi
case "${1:-dev}" in
  minimal) extras="minimal" ;;
  standard) extras="standard,ray" ;;
  dev) extras="dev,ray" ;;
  vllm) extras="standard,ray,vllm" ;;
  *) extras="$1" ;;
esac
echo "== pip: installing the project [${extras}] (builds the native core)"
"$PY" -m pip install -q --disable-pip-version-check "${editable[@]}" ".[${extras}]"
mapfile -t nodeps < <(grep -v '^\s*#' scripts/pip-nodeps.txt | sed '/^\s*$/d')
if [ ${#nodeps[@]} -gt 0 ]; then
  echo "== pip: ${nodeps[*]} (--no-deps, scripts/pip-nodeps.txt)"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps "${nodeps[@]}"
fi

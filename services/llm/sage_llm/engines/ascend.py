"""Huawei Ascend NPUs through ``torch-npu``: the transformers engine on device ``npu``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from sage_llm.errors import EngineUnavailableError

if TYPE_CHECKING:
    from sage_llm.engines.transformers_engine import TransformersEngine


def ascend_available() -> bool:
    return importlib.util.find_spec("torch_npu") is not None


def load_ascend_engine(
    model_path: str | Path | None, name: str | None = None, **options: int
) -> TransformersEngine:
    if not ascend_available():
        raise EngineUnavailableError(
            "the ascend engine needs torch-npu (Huawei's PyTorch plug-in) and the CANN toolkit; "
            "install them on an Ascend host (pip install torch-npu), or choose backend "
            "'transformers' (CPU/CUDA) or 'auto'"
        )
    import torch
    import torch_npu  # noqa: F401  (registers the "npu" device with torch)

    if not getattr(torch, "npu").is_available():  # noqa: B009 (added by torch_npu at import)
        raise EngineUnavailableError(
            "torch-npu is installed but reports no Ascend NPU on this host"
        )
    from sage_llm.engines.transformers_engine import TransformersEngine

    return TransformersEngine.load(
        model_path, device="npu", name=name, engine_label="ascend", **options
    )

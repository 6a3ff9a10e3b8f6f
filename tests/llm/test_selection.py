import logging
from pathlib import Path

import pytest

from sage_llm import selection
from sage_llm.engines.ascend import ascend_available, load_ascend_engine
from sage_llm.errors import EngineUnavailableError, InvalidParameterError
from sage_llm.selection import build_engine, choose_engine, cuda_available


@pytest.mark.skipif(
    cuda_available() or ascend_available(), reason="this machine has an accelerator"
)
def test_auto_on_a_cpu_only_host_picks_transformers_for_a_hugging_face_folder(
    tmp_path: Path,
) -> None:
    choice = choose_engine("auto", tmp_path)
    assert (choice.engine, choice.device) == ("transformers", "cpu")
    assert "no CUDA GPU" in choice.reason


@pytest.mark.skipif(
    cuda_available() or ascend_available(), reason="this machine has an accelerator"
)
def test_auto_on_a_cpu_only_host_picks_llamacpp_for_a_gguf_model() -> None:
    pytest.importorskip("llama_cpp")
    choice = choose_engine("auto")  # the bundled model is a .gguf file
    assert (choice.engine, choice.device) == ("llamacpp", "cpu")
    assert "GGUF" in choice.reason


@pytest.mark.skipif(
    cuda_available() or ascend_available(), reason="this machine has an accelerator"
)
def test_auto_without_llama_cpp_falls_back_to_transformers_and_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selection, "llamacpp_available", lambda: False)
    choice = choose_engine("auto", "model.gguf")
    assert (choice.engine, choice.device) == ("transformers", "cpu")
    assert "install-llamacpp.sh" in choice.reason


def test_auto_never_picks_mock() -> None:
    assert choose_engine("auto").engine != "mock"


def test_choice_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sage_llm.selection"):
        engine = build_engine("mock")
    assert engine.info.engine == "mock"
    assert "engine mock on cpu (asked for by name)" in caplog.text


def test_unknown_backend_names_the_field() -> None:
    with pytest.raises(InvalidParameterError) as err:
        choose_engine("tpu")
    assert err.value.field == "backend_type"


@pytest.mark.skipif(ascend_available(), reason="torch-npu is installed here")
def test_ascend_without_torch_npu_says_what_to_install() -> None:
    with pytest.raises(EngineUnavailableError, match="torch-npu"):
        load_ascend_engine(None)


@pytest.mark.skipif(cuda_available(), reason="this machine has a CUDA GPU")
def test_cuda_backend_without_a_gpu_is_refused() -> None:
    with pytest.raises(EngineUnavailableError, match="no CUDA GPU"):
        choose_engine("cuda")

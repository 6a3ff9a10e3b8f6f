"""docs/api.md is generated from the protos' comments and kept in step with them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_api_docs", ROOT / "scripts" / "gen_api_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_api_doc_matches_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_api_docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rpc_and_field_of_every_service_is_documented() -> None:
    from sage_proto.common.v1 import common_pb2
    from sage_proto.kernel.v1 import kernel_pb2
    from sage_proto.kv.v1 import kv_pb2
    from sage_proto.llm.v1 import llm_pb2
    from sage_proto.memory.v1 import memory_pb2
    from sage_proto.vdb.v1 import vdb_pb2

    doc = (ROOT / "docs" / "api.md").read_text()
    for module in (common_pb2, kernel_pb2, kv_pb2, llm_pb2, memory_pb2, vdb_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert f'<a id="{service.full_name}"></a>service {service.name}' in doc
            for method in service.methods:
                assert f"| `{method.name}` | " in doc, method.full_name
        for message in module.DESCRIPTOR.message_types_by_name.values():
            assert f'<a id="{message.full_name}"></a>message' in doc
            for f in message.fields:
                assert f"| `{f.name}` | " in doc, f.full_name


def test_an_uncommented_field_is_named(gen: ModuleType, tmp_path: Path) -> None:
    proto = tmp_path / "demo" / "v1" / "demo.proto"
    proto.parent.mkdir(parents=True)
    proto.write_text(
        'syntax = "proto3";\n\n// A demo.\npackage demo.v1;\n\n'
        "// Thing is documented.\nmessage Thing {\n  // Documented.\n  string a = 1;\n  string b = 2;\n}\n"
    )
    text, missing = gen.render(gen.compile_protos(tmp_path))
    assert missing == ["demo/v1/demo.proto: field demo.v1.Thing.b"]
    assert "| `a` | string | 1 | Documented. |" in text

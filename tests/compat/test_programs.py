"""Programs written here in the style of SAGE's tutorials and seeds, run through the `sage`
names: each checks what the tutorial program prints or keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sage.common.core.functions.batch_function import BatchFunction
from sage.common.core.functions.comap_function import BaseCoMapFunction
from sage.common.core.functions.flatmap_function import FlatMapFunction
from sage.common.core.functions.join_function import BaseJoinFunction
from sage.common.core.functions.keyby_function import KeyByFunction
from sage.common.core.functions.sink_function import SinkFunction
from sage.common.utils.logging.custom_logger import CustomLogger
from sage.kernel.api.local_environment import LocalEnvironment


class Greetings(BatchFunction):
    def __init__(self, n: int = 5, word: str = "Hello") -> None:
        super().__init__()
        self.n, self.i, self.word = n, 0, word

    def execute(self) -> Any:
        if self.i >= self.n:
            return None
        self.i += 1
        return {"id": self.i, "msg": f"{self.word}-{self.i}"}


class ById(KeyByFunction):
    def execute(self, data: Any) -> Any:
        return data["id"]


class Pair(BaseJoinFunction):
    def __init__(self) -> None:
        super().__init__()
        self.left: dict[Any, Any] = {}
        self.right: dict[Any, Any] = {}

    def execute(self, payload: Any, key: Any, tag: int) -> list[Any]:
        mine, other = (self.left, self.right) if tag == 0 else (self.right, self.left)
        mine[key] = payload
        if key not in other:
            return []
        a, b = (payload, other[key]) if tag == 0 else (other[key], payload)
        return [{"id": key, "msg": f"{a['msg']} + {b['msg']}"}]


class Tag(BaseCoMapFunction):
    def map0(self, data: Any) -> Any:
        return f"[Stream0] {data['msg']}"

    def map1(self, data: Any) -> Any:
        return f"[Stream1] {data['msg']}"


class Words(FlatMapFunction):
    def execute(self, data: Any) -> Any:
        for word in data.split():
            self.collect(word)


class Tally(SinkFunction):
    counts: dict[str, int] = {}

    def execute(self, data: Any) -> None:
        Tally.counts[data] = Tally.counts.get(data, 0) + 1


def test_join_world_pairs_both_streams_by_id(capsys: pytest.CaptureFixture[str]) -> None:
    CustomLogger.disable_global_console_debug()
    env = LocalEnvironment("join")
    left = env.from_batch(Greetings, 5, "Hello").keyby(ById)
    right = env.from_batch(Greetings, 5, "World").keyby(ById)
    left.connect(right).join(Pair).sink(lambda r: print(f"Joined: {r}"))
    env.submit(autostop=True)
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines == sorted(
        f"Joined: {{'id': {i}, 'msg': 'Hello-{i} + World-{i}'}}" for i in range(1, 6)
    )


def test_comap_world_routes_each_input_to_its_map() -> None:
    env = LocalEnvironment("comap")
    out: list[str] = []
    a, b = env.from_batch(Greetings, 2, "Hello"), env.from_batch(Greetings, 2, "World")
    a.connect(b).comap(Tag).sink(out.append)
    env.submit(autostop=True)
    assert sorted(out) == [
        "[Stream0] Hello-1",
        "[Stream0] Hello-2",
        "[Stream1] World-1",
        "[Stream1] World-2",
    ]


def test_wordcount_counts_words_of_the_sentences() -> None:
    Tally.counts = {}
    env = LocalEnvironment("wordcount")
    env.from_batch(["hello world", "hello sage", "world of ai"]).flatmap(Words).sink(Tally)
    env.submit(autostop=True)
    assert Tally.counts == {"hello": 2, "world": 2, "sage": 1, "of": 1, "ai": 1}


def test_parallel_square_filter_keeps_even_squares() -> None:
    env = LocalEnvironment("parallelism")
    out: list[int] = []
    (
        env.from_batch(list(range(1, 11)))
        .map(lambda x: x * x, parallelism=3)
        .filter(lambda x: x % 2 == 0, parallelism=2)
        .sink(out.append)
    )
    env.submit(autostop=True)
    assert sorted(out) == [4, 16, 36, 64, 100]


def test_seed_003_file_source_to_console_sink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sage.core.api.env import LocalEnvironment as SeedEnvironment
    from sage.lib.io import ConsoleSink, FileSource

    data = tmp_path / "data.csv"
    data.write_text("a,1\nb,2\n")
    env = SeedEnvironment("hello_sage")
    env.source(FileSource, path=str(data)).map(lambda x: x.upper()).sink(ConsoleSink)
    env.execute()
    assert capsys.readouterr().out.splitlines() == ["A,1", "B,2"]


def test_file_source_takes_sage_config_keys(tmp_path: Path) -> None:
    from sage.libs.foundation.io.source import FileSource

    (tmp_path / "q.txt").write_text("one\ntwo\n")
    assert FileSource({"file_path": str(tmp_path / "q.txt")}).execute() == "one"
    with pytest.raises(ValueError, match="file_path"):
        FileSource({})


def test_sage_db_app_finds_the_nearest_vector_first() -> None:
    from sage.middleware.components.sage_db.python.sage_db import DatabaseConfig, IndexType, SageDB

    cfg = DatabaseConfig(4)
    cfg.index_type = IndexType.AUTO
    db = SageDB.from_config(cfg)
    for uid in range(5):
        db.add(np.arange(4, dtype=np.float32) + uid, {"tag": "demo", "uid": str(uid)})
    hits = db.search(np.array([0, 1, 2, 3], dtype=np.float32), k=3)
    assert [h.metadata["uid"] for h in hits] == ["0", "1", "2"] and hits[0].score == 0
    assert db.size == 5 and db.find_by_metadata("uid", "3") == [3]
    with pytest.raises(ValueError):
        db.add([1.0, 2.0], {})  # wrong dimension: refused, nothing stored
    assert db.size == 5


def test_sage_db_service_as_registered_service() -> None:
    from sage.middleware.components.sage_db.python.micro_service.sage_db_service import (
        SageDBService,
    )

    env = LocalEnvironment("db-service")
    env.register_service("db", SageDBService, dimension=4, index_type="AUTO")
    svc = env.service_factories["db"].create_service()
    svc.add(np.arange(4, dtype=np.float32), {"uid": "0"})
    assert svc.search([0, 1, 2, 3], k=1)[0]["metadata"] == {"uid": "0"}


def test_embedding_models_by_method_name() -> None:
    from sage.common.components.sage_embedding import EmbeddingService, get_embedding_model

    model = get_embedding_model("hash", dim=64)
    assert len(model.embed("hello world")) == 64 and model.get_dim() == 64
    assert model.embed("same text") == model.embed("same text")
    with pytest.raises(ValueError, match="not available"):
        get_embedding_model("hf", model="BAAI/bge-large-en-v1.5")
    service = EmbeddingService({"method": "mockembedder", "dimension": 8, "cache_enabled": True})
    service.setup()
    service.process({"task": "embed", "inputs": ["a", "b"]})
    again = service.process({"task": "embed", "inputs": ["a"], "options": {"return_stats": True}})
    assert again["stats"]["cached"] == 1 and again["dimension"] == 8


def test_sage_promptor_and_generator_shapes_on_the_mock_engine() -> None:
    from sage.middleware.operators.rag import QAPromptor, SageLLMGenerator

    original, messages = QAPromptor({}).execute({"query": "Where?", "results": ["on the desk"]})
    assert original["query"] == "Where?" and "on the desk" in messages[-1]["content"]
    result = SageLLMGenerator({"backend_type": "mock"}).execute([original, messages])
    assert result["query"] == "Where?" and isinstance(result["generated"], str)


def test_load_config_finds_a_bare_name_in_the_config_folder(tmp_path: Path) -> None:
    from sage.common.utils.config.loader import load_config

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.yaml").write_text("generator: {model: m}\n")
    script = tmp_path / "app.py"
    script.write_text(
        "from sage.common.utils.config.loader import load_config\ncfg = load_config('app.yaml')\n"
    )
    scope: dict[str, Any] = {"__file__": str(script)}
    exec(compile(script.read_text(), str(script), "exec"), scope)
    assert scope["cfg"] == {"generator": {"model": "m"}}
    with pytest.raises(FileNotFoundError, match="tried"):
        load_config(str(tmp_path / "missing.yaml"))

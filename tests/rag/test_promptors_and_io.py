import io
import json
from pathlib import Path

import pytest

from sage_client import (
    ChatPromptor,
    FileSink,
    FileSource,
    LocalEnvironment,
    QAPromptor,
    TerminalSink,
)


def _record() -> dict:
    return {
        "query": "Which port?",
        "results": [{"text": "etcd uses 2379", "source": "mesh.md", "position": 2}],
    }


def test_qa_promptor_fills_context_with_sources_and_question() -> None:
    out = QAPromptor("Docs:\n{context}\nQ: {question}").execute(_record())
    user = out["prompt"][-1]
    assert user["role"] == "user"
    assert user["content"] == "Docs:\n[1] (mesh.md) etcd uses 2379\nQ: Which port?"
    assert out["prompt"][0]["role"] == "system"


def test_qa_promptor_without_context_is_the_no_retrieval_baseline() -> None:
    out = QAPromptor({"use_context": False}).execute(_record())
    assert "etcd" not in out["prompt"][-1]["content"]


def test_template_with_unknown_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="docs"):
        QAPromptor("{docs} {question}")


def test_chat_promptor_puts_recent_history_before_the_question() -> None:
    record = _record() | {
        "history": [
            {"role": "user", "content": "old"},
            {"role": "assistant", "content": "older answer"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
        ]
    }
    msgs = ChatPromptor({"max_history": 2}).execute(record)["prompt"]
    assert [m["content"] for m in msgs[1:3]] == ["hi", "hello"]
    assert msgs[-1]["content"].endswith("Question: Which port?\nAnswer:")


def test_file_source_to_file_sink_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "q.jsonl"
    src.write_text('{"query": "a"}\n{"query": "b"}\n', encoding="utf-8")
    out = tmp_path / "out" / "answers.jsonl"
    env = LocalEnvironment("io")
    env.from_batch(FileSource, {"path": str(src)}).map(
        lambda r: r | {"answer": r["query"].upper()}
    ).sink(FileSink, {"path": str(out), "append": False})
    env.submit(autostop=True)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["answer"] for r in rows) == ["A", "B"]


def test_file_source_reports_the_bad_line(tmp_path: Path) -> None:
    src = tmp_path / "q.jsonl"
    src.write_text('{"query": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="q.jsonl:2"):
        FileSource({"path": str(src)})


def test_terminal_sink_prints_answer_with_sources() -> None:
    buf = io.StringIO()
    TerminalSink(stream=buf).execute(_record() | {"answer": "2379"})
    assert buf.getvalue() == "Q: Which port?\nA: 2379\nsources: mesh.md#2\n\n"

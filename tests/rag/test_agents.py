import pytest

from sage_client import ReActAgent, ToolError, ToolRegistry, calculator, make_kv_lookup
from sage_client.rag.agents import parse_step


class ScriptedModel:
    """Plays back fixed replies and records what the agent showed it (a stand-in for the policy
    of a model, so the loop's handling of each reply can be checked exactly)."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.seen: list[list[dict[str, str]]] = []

    def __call__(self, messages: list[dict[str, str]]) -> str:
        self.seen.append([dict(m) for m in messages])
        return self.replies.pop(0)


def test_tool_schema_comes_from_the_signature() -> None:
    registry = ToolRegistry()

    def lookup(key: str, limit: int = 3, tags: list[str] | None = None) -> str:
        """Find a value.

        More text."""
        return key

    tool = registry.register(lookup)
    assert tool.schema()["function"] == {
        "name": "lookup",
        "description": "Find a value.",
        "parameters": {
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "limit": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["key"],
            "additionalProperties": False,
        },
    }


def test_untyped_parameter_is_refused() -> None:
    def bad(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match="'x' needs a type hint"):
        ToolRegistry().register(bad)


def test_arguments_are_checked_against_the_schema() -> None:
    registry = ToolRegistry()
    registry.register(calculator)
    with pytest.raises(ToolError, match="calculator.expression must be a string"):
        registry.call("calculator", {"expression": 3})
    with pytest.raises(ToolError, match="unknown tool 'calc'; available tools: calculator"):
        registry.call("calc", {})
    with pytest.raises(ToolError, match=r"needs argument\(s\) \['expression'\]"):
        registry.call("calculator", {})


def test_calculator_evaluates_arithmetic_and_refuses_code() -> None:
    assert calculator("(3 + 4) * 2 ** 3 - 10 / 4") == 53.5
    with pytest.raises(ToolError, match="numbers"):
        calculator("__import__('os').getcwd()")
    with pytest.raises(ToolError, match="division by zero"):
        calculator("1/0")


def test_kv_lookup_reads_a_store_and_reports_missing_keys() -> None:
    lookup = make_kv_lookup({"capital:fr": b"Paris"})
    assert lookup("capital:fr") == "Paris"
    with pytest.raises(ToolError, match="no value is stored under 'x'"):
        lookup("x")


def test_parse_step_reads_actions_and_final_answers() -> None:
    assert parse_step(
        'Thought: add\nAction: calculator\nAction Input: {"expression": "1+1"} then done'
    ) == (
        "action",
        ("calculator", {"expression": "1+1"}),
    )
    assert parse_step("Thought: done\nFinal Answer: 42") == ("final", "42")
    kind, reason = parse_step("I think the answer is 42")
    assert kind == "invalid" and "Final Answer" in reason


def test_agent_uses_a_tool_then_answers() -> None:
    model = ScriptedModel(
        'Thought: I need to multiply.\nAction: calculator\nAction Input: {"expression": "17 * 23"}',
        "Thought: I have it.\nFinal Answer: 391",
    )
    out = ReActAgent({"llm": model, "tools": [calculator]}).execute("What is 17 times 23?")
    assert out["answer"] == "391" and out["stopped"] == "final_answer"
    assert out["steps"][0]["observation"] == "391"
    assert model.seen[1][-1] == {"role": "user", "content": "Observation: 391"}
    assert '"expression": {"type": "string"}' in model.seen[0][0]["content"]


def test_tool_errors_are_fed_back_to_the_model() -> None:
    model = ScriptedModel(
        'Action: calculator\nAction Input: {"expression": "1/0"}',
        'Action: calculator\nAction Input: {"expression": "1/2"}',
        "Final Answer: 0.5",
    )
    out = ReActAgent({"llm": model, "tools": [calculator]}).execute("half?")
    assert model.seen[1][-1]["content"] == "Observation: Error: division by zero"
    assert out["answer"] == "0.5"


def test_step_limit_stops_a_model_that_never_answers() -> None:
    model = ScriptedModel(*['Action: calculator\nAction Input: {"expression": "1"}'] * 3)
    out = ReActAgent({"llm": model, "tools": [calculator], "max_steps": 3}).execute("loop")
    assert out["answer"] is None and out["stopped"] == "step_limit" and len(out["steps"]) == 3


def test_malformed_reply_gets_a_format_hint() -> None:
    model = ScriptedModel("Action: calculator\nAction Input: {oops", "Final Answer: ok")
    ReActAgent({"llm": model, "tools": [calculator]}).execute("q")
    assert "not valid JSON" in model.seen[1][-1]["content"]

"""The example programs run as real processes and print exactly this."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kernel"

EXPECTED = {
    "hello_world.py": "".join(f"HELLO, WORLD! #{n}\n" for n in range(1, 11)),
    "word_count.py": (
        "the: 4\ndog: 2\nfox: 2\nquick: 2\na: 1\nbrown: 1\nfor: 1\njumps: 1\nlazy: 1\nnap: 1\n"
        "over: 1\nsleeps: 1\n"
    ),
    "keyed_state.py": (
        "alice: total=26 items=book,pen,book quantities={'book': 2, 'pen': 1}\n"
        "bob: total=14 items=pen,book quantities={'book': 1, 'pen': 1}\n"
        "carol: total=32 items=lamp,pen quantities={'lamp': 1, 'pen': 1}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_the_expected_output(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[name]

"""The `sage` command."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("sage: no commands yet", file=sys.stderr)
    return 2

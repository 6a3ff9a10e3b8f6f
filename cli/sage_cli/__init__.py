"""sage_cli."""

"""sage_runtime."""

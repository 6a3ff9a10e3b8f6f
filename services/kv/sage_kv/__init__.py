"""sage_kv."""

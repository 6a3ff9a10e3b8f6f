"""sage_proto."""

"""sage_deploy."""

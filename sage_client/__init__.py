"""sage_client."""

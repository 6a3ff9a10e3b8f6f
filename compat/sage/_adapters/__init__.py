"""API-shape adapters for SAGE names that have no SAGE Mesh counterpart of the same shape
(a logger facade, a config-file finder, port constants). Behaviour lives in SAGE Mesh."""

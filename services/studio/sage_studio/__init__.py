"""SAGE Studio: the web console's server (static bundle + authenticated JSON routes)."""

"""Server-side deployment: the topology, the process launcher behind `sage mesh`,
Envoy configuration and the docker-compose generator. sage_client never imports it."""

"""The SAGE Mesh VDB service: named collections of the native vector core over gRPC."""

"""The one codec of the mesh's contract: each encoding and default is written once, here.

- ``vectors``: packed little-endian float32 vectors;
- ``metadata``: typed ``Metadata`` <-> dict;
- ``vdb``: the VDB enums (from the proto descriptors) and the index defaults and ranges;
- ``sampling``: the sampling parameter names (from the proto descriptor);
- ``embedding``: the default embedding model and its dimension.

The etcd key prefix lives with discovery (``sage_client.discovery.KEY_PREFIX``).
"""

from sage_client.codec.embedding import EMBEDDING_DIMENSION, EMBEDDING_MODEL
from sage_client.codec.metadata import MetadataValues, dict_to_metadata, metadata_to_dict
from sage_client.codec.sampling import SAMPLING_FIELDS, SCALAR_SAMPLING_FIELDS, sampling_message
from sage_client.codec.vectors import (
    FLOAT32,
    pack_vectors,
    unpack_vectors,
    vector_bytes,
    vector_view,
    vectors_view,
)

__all__ = [
    "EMBEDDING_DIMENSION",
    "EMBEDDING_MODEL",
    "FLOAT32",
    "SAMPLING_FIELDS",
    "SCALAR_SAMPLING_FIELDS",
    "MetadataValues",
    "dict_to_metadata",
    "metadata_to_dict",
    "pack_vectors",
    "sampling_message",
    "unpack_vectors",
    "vector_bytes",
    "vector_view",
    "vectors_view",
]

"""Kept for old imports: the codec lives in ``sage_client.codec``."""

from sage_client.codec.metadata import dict_to_metadata, metadata_to_dict
from sage_client.codec.vectors import FLOAT32, pack_vectors, unpack_vectors

__all__ = ["FLOAT32", "dict_to_metadata", "metadata_to_dict", "pack_vectors", "unpack_vectors"]

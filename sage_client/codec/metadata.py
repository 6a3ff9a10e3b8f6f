"""Typed metadata (``sage.common.v1.Metadata``) <-> a dict of str, int, float, bool or list of str."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sage_proto.common.v1 import common_pb2

MetadataValues = Mapping[str, str | int | float | bool | Sequence[str]]


def dict_to_metadata(values: Mapping[str, Any] | None) -> common_pb2.Metadata:
    meta = common_pb2.Metadata()
    for key, value in (values or {}).items():
        slot = meta.fields[key]
        # bool before int: bool is a subclass of int.
        if isinstance(value, bool):
            slot.bool_value = value
        elif isinstance(value, int):
            slot.int_value = value
        elif isinstance(value, float):
            slot.double_value = value
        elif isinstance(value, str):
            slot.string_value = value
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            slot.string_list_value.values.extend(value)
        else:
            raise TypeError(
                f"metadata[{key!r}] is a {type(value).__name__}; "
                "use str, int, float, bool or list[str]"
            )
    return meta


def metadata_to_dict(meta: common_pb2.Metadata) -> dict[str, Any]:
    """Unset values (no kind) are left out."""
    out: dict[str, Any] = {}
    for key, value in meta.fields.items():
        kind = value.WhichOneof("kind")
        if kind == "string_list_value":
            out[key] = list(value.string_list_value.values)
        elif kind is not None:
            out[key] = getattr(value, kind)
    return out

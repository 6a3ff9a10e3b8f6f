"""sage_client."""

# DataStream API (SAGE's names): `from sage_client import LocalEnvironment, MapFunction, ...`
from sage_client.dataflow import *  # noqa: F403
from sage_client.dataflow import __all__ as _dataflow_all

__all__ = [*_dataflow_all]

"""The local runtime: plans a logical graph into chained tasks and runs them on threads."""

from sage_client.dataflow.runtime.job import Job, run_graph

__all__ = ["Job", "run_graph"]

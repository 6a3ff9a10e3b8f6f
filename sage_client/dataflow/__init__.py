"""SAGE-compatible dataflows: the DataStream API and the local runtime behind LocalEnvironment."""

from sage_client.dataflow.api.datastream import (
    ConnectedStreams,
    DataStream,
    KeyedStream,
    WindowedStream,
    WindowResultStream,
)
from sage_client.dataflow.api.environment import BaseEnvironment, LocalEnvironment
from sage_client.dataflow.api.errors import DeadLetter, Fail, FailedRecord, Retry, Skip
from sage_client.dataflow.api.functions import (
    AggregateFunction,
    BaseFunction,
    BatchFunction,
    Collector,
    CoMapFunction,
    FilterFunction,
    FlatMapFunction,
    JoinFunction,
    KeyByFunction,
    MapFunction,
    ReduceFunction,
    SinkFunction,
    SourceFunction,
    StopSignal,
    WindowFunction,
)
from sage_client.dataflow.api.windows import SessionWindow, SlidingWindow, TumblingWindow, Window
from sage_client.dataflow.services import ServiceNotFoundError, set_remote_resolver

__all__ = [
    "AggregateFunction",
    "BaseEnvironment",
    "BaseFunction",
    "BatchFunction",
    "CoMapFunction",
    "Collector",
    "ConnectedStreams",
    "DataStream",
    "DeadLetter",
    "Fail",
    "FailedRecord",
    "FilterFunction",
    "FlatMapFunction",
    "JoinFunction",
    "KeyByFunction",
    "KeyedStream",
    "LocalEnvironment",
    "MapFunction",
    "ReduceFunction",
    "Retry",
    "ServiceNotFoundError",
    "SessionWindow",
    "SinkFunction",
    "Skip",
    "SlidingWindow",
    "SourceFunction",
    "StopSignal",
    "TumblingWindow",
    "Window",
    "WindowFunction",
    "WindowResultStream",
    "WindowedStream",
    "set_remote_resolver",
]

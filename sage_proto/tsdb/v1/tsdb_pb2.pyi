from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Durability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DURABILITY_UNSPECIFIED: _ClassVar[Durability]
    DURABILITY_ASYNC: _ClassVar[Durability]
    DURABILITY_SYNC: _ClassVar[Durability]

class Aggregation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGGREGATION_UNSPECIFIED: _ClassVar[Aggregation]
    AGGREGATION_SUM: _ClassVar[Aggregation]
    AGGREGATION_AVG: _ClassVar[Aggregation]
    AGGREGATION_MIN: _ClassVar[Aggregation]
    AGGREGATION_MAX: _ClassVar[Aggregation]
    AGGREGATION_COUNT: _ClassVar[Aggregation]
    AGGREGATION_FIRST: _ClassVar[Aggregation]
    AGGREGATION_LAST: _ClassVar[Aggregation]
    AGGREGATION_STDDEV: _ClassVar[Aggregation]
    AGGREGATION_PERCENTILE: _ClassVar[Aggregation]

class WindowType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WINDOW_TYPE_UNSPECIFIED: _ClassVar[WindowType]
    WINDOW_TYPE_TUMBLING: _ClassVar[WindowType]
    WINDOW_TYPE_SLIDING: _ClassVar[WindowType]
    WINDOW_TYPE_SESSION: _ClassVar[WindowType]

class Interpolation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_UNSPECIFIED: _ClassVar[Interpolation]
    INTERPOLATION_NONE: _ClassVar[Interpolation]
    INTERPOLATION_LINEAR: _ClassVar[Interpolation]
    INTERPOLATION_FORWARD: _ClassVar[Interpolation]
    INTERPOLATION_BACKWARD: _ClassVar[Interpolation]
    INTERPOLATION_ZERO: _ClassVar[Interpolation]

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_LEFT: _ClassVar[Side]
    SIDE_RIGHT: _ClassVar[Side]
DURABILITY_UNSPECIFIED: Durability
DURABILITY_ASYNC: Durability
DURABILITY_SYNC: Durability
AGGREGATION_UNSPECIFIED: Aggregation
AGGREGATION_SUM: Aggregation
AGGREGATION_AVG: Aggregation
AGGREGATION_MIN: Aggregation
AGGREGATION_MAX: Aggregation
AGGREGATION_COUNT: Aggregation
AGGREGATION_FIRST: Aggregation
AGGREGATION_LAST: Aggregation
AGGREGATION_STDDEV: Aggregation
AGGREGATION_PERCENTILE: Aggregation
WINDOW_TYPE_UNSPECIFIED: WindowType
WINDOW_TYPE_TUMBLING: WindowType
WINDOW_TYPE_SLIDING: WindowType
WINDOW_TYPE_SESSION: WindowType
INTERPOLATION_UNSPECIFIED: Interpolation
INTERPOLATION_NONE: Interpolation
INTERPOLATION_LINEAR: Interpolation
INTERPOLATION_FORWARD: Interpolation
INTERPOLATION_BACKWARD: Interpolation
INTERPOLATION_ZERO: Interpolation
SIDE_UNSPECIFIED: Side
SIDE_LEFT: Side
SIDE_RIGHT: Side

class TimeRange(_message.Message):
    __slots__ = ("start_ms", "end_ms")
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    start_ms: int
    end_ms: int
    def __init__(self, start_ms: _Optional[int] = ..., end_ms: _Optional[int] = ...) -> None: ...

class SeriesBatch(_message.Message):
    __slots__ = ("metric", "tags", "timestamps_ms", "values", "vector_dimension", "vectors", "fields")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tags: _containers.ScalarMap[str, str]
    timestamps_ms: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    vector_dimension: int
    vectors: bytes
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, metric: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., timestamps_ms: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ..., vector_dimension: _Optional[int] = ..., vectors: _Optional[bytes] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("series", "durability")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[SeriesBatch]
    durability: Durability
    def __init__(self, series: _Optional[_Iterable[_Union[SeriesBatch, _Mapping]]] = ..., durability: _Optional[_Union[Durability, str]] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("points_written", "points_dropped")
    POINTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    POINTS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    points_written: int
    points_dropped: int
    def __init__(self, points_written: _Optional[int] = ..., points_dropped: _Optional[int] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "time_range", "limit", "include_vectors", "include_fields")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    time_range: TimeRange
    limit: int
    include_vectors: bool
    include_fields: bool
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., limit: _Optional[int] = ..., include_vectors: _Optional[bool] = ..., include_fields: _Optional[bool] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("series", "truncated")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[SeriesBatch]
    truncated: bool
    def __init__(self, series: _Optional[_Iterable[_Union[SeriesBatch, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class WindowAggregateRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "time_range", "window_type", "window_size_ms", "slide_ms", "session_gap_ms", "aggregation", "percentile", "interpolation", "group_by", "limit")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_TYPE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_MS_FIELD_NUMBER: _ClassVar[int]
    SLIDE_MS_FIELD_NUMBER: _ClassVar[int]
    SESSION_GAP_MS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    INTERPOLATION_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    time_range: TimeRange
    window_type: WindowType
    window_size_ms: int
    slide_ms: int
    session_gap_ms: int
    aggregation: Aggregation
    percentile: float
    interpolation: Interpolation
    group_by: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., window_type: _Optional[_Union[WindowType, str]] = ..., window_size_ms: _Optional[int] = ..., slide_ms: _Optional[int] = ..., session_gap_ms: _Optional[int] = ..., aggregation: _Optional[_Union[Aggregation, str]] = ..., percentile: _Optional[float] = ..., interpolation: _Optional[_Union[Interpolation, str]] = ..., group_by: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ...) -> None: ...

class WindowGroup(_message.Message):
    __slots__ = ("group", "series_count", "window_start_ms", "window_end_ms", "values", "counts")
    class GroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SERIES_COUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_MS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    group: _containers.ScalarMap[str, str]
    series_count: int
    window_start_ms: _containers.RepeatedScalarFieldContainer[int]
    window_end_ms: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, group: _Optional[_Mapping[str, str]] = ..., series_count: _Optional[int] = ..., window_start_ms: _Optional[_Iterable[int]] = ..., window_end_ms: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class WindowAggregateResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[WindowGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[WindowGroup, _Mapping]]] = ...) -> None: ...

class JoinConfig(_message.Message):
    __slots__ = ("window_size_ms", "max_delay_ms")
    WINDOW_SIZE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    window_size_ms: int
    max_delay_ms: int
    def __init__(self, window_size_ms: _Optional[int] = ..., max_delay_ms: _Optional[int] = ...) -> None: ...

class JoinEvents(_message.Message):
    __slots__ = ("side", "timestamps_ms", "keys", "values", "ids")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_MS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    side: Side
    timestamps_ms: _containers.RepeatedScalarFieldContainer[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, side: _Optional[_Union[Side, str]] = ..., timestamps_ms: _Optional[_Iterable[int]] = ..., keys: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class StreamJoinRequest(_message.Message):
    __slots__ = ("config", "events")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    config: JoinConfig
    events: JoinEvents
    def __init__(self, config: _Optional[_Union[JoinConfig, _Mapping]] = ..., events: _Optional[_Union[JoinEvents, _Mapping]] = ...) -> None: ...

class JoinPairs(_message.Message):
    __slots__ = ("left_timestamps_ms", "right_timestamps_ms", "keys", "left_values", "right_values", "left_ids", "right_ids")
    LEFT_TIMESTAMPS_MS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_TIMESTAMPS_MS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    LEFT_VALUES_FIELD_NUMBER: _ClassVar[int]
    RIGHT_VALUES_FIELD_NUMBER: _ClassVar[int]
    LEFT_IDS_FIELD_NUMBER: _ClassVar[int]
    RIGHT_IDS_FIELD_NUMBER: _ClassVar[int]
    left_timestamps_ms: _containers.RepeatedScalarFieldContainer[int]
    right_timestamps_ms: _containers.RepeatedScalarFieldContainer[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    left_values: _containers.RepeatedScalarFieldContainer[float]
    right_values: _containers.RepeatedScalarFieldContainer[float]
    left_ids: _containers.RepeatedScalarFieldContainer[int]
    right_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, left_timestamps_ms: _Optional[_Iterable[int]] = ..., right_timestamps_ms: _Optional[_Iterable[int]] = ..., keys: _Optional[_Iterable[str]] = ..., left_values: _Optional[_Iterable[float]] = ..., right_values: _Optional[_Iterable[float]] = ..., left_ids: _Optional[_Iterable[int]] = ..., right_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class StreamJoinResponse(_message.Message):
    __slots__ = ("pairs", "late_events", "watermark_ms")
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    LATE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_MS_FIELD_NUMBER: _ClassVar[int]
    pairs: JoinPairs
    late_events: int
    watermark_ms: int
    def __init__(self, pairs: _Optional[_Union[JoinPairs, _Mapping]] = ..., late_events: _Optional[int] = ..., watermark_ms: _Optional[int] = ...) -> None: ...

class SeriesInfo(_message.Message):
    __slots__ = ("metric", "tags", "points", "first_timestamp_ms", "last_timestamp_ms", "retention_ms", "vector_dimension")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tags: _containers.ScalarMap[str, str]
    points: int
    first_timestamp_ms: int
    last_timestamp_ms: int
    retention_ms: int
    vector_dimension: int
    def __init__(self, metric: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., points: _Optional[int] = ..., first_timestamp_ms: _Optional[int] = ..., last_timestamp_ms: _Optional[int] = ..., retention_ms: _Optional[int] = ..., vector_dimension: _Optional[int] = ...) -> None: ...

class ListSeriesRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "limit")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    limit: int
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListSeriesResponse(_message.Message):
    __slots__ = ("series", "truncated")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[SeriesInfo]
    truncated: bool
    def __init__(self, series: _Optional[_Iterable[_Union[SeriesInfo, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class DeleteSeriesRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "time_range", "durability")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    time_range: TimeRange
    durability: Durability
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., durability: _Optional[_Union[Durability, str]] = ...) -> None: ...

class DeleteSeriesResponse(_message.Message):
    __slots__ = ("points_deleted",)
    POINTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    points_deleted: int
    def __init__(self, points_deleted: _Optional[int] = ...) -> None: ...

class SetRetentionRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "retention_ms", "durability")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MS_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    retention_ms: int
    durability: Durability
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., retention_ms: _Optional[int] = ..., durability: _Optional[_Union[Durability, str]] = ...) -> None: ...

class SetRetentionResponse(_message.Message):
    __slots__ = ("series_updated",)
    SERIES_UPDATED_FIELD_NUMBER: _ClassVar[int]
    series_updated: int
    def __init__(self, series_updated: _Optional[int] = ...) -> None: ...

class DownsampleRequest(_message.Message):
    __slots__ = ("metric", "tag_filter", "time_range", "window_size_ms", "aggregation", "dest_metric", "durability")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TAG_FILTER_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SIZE_MS_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    DEST_METRIC_FIELD_NUMBER: _ClassVar[int]
    DURABILITY_FIELD_NUMBER: _ClassVar[int]
    metric: str
    tag_filter: str
    time_range: TimeRange
    window_size_ms: int
    aggregation: Aggregation
    dest_metric: str
    durability: Durability
    def __init__(self, metric: _Optional[str] = ..., tag_filter: _Optional[str] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., window_size_ms: _Optional[int] = ..., aggregation: _Optional[_Union[Aggregation, str]] = ..., dest_metric: _Optional[str] = ..., durability: _Optional[_Union[Durability, str]] = ...) -> None: ...

class DownsampleResponse(_message.Message):
    __slots__ = ("points_written",)
    POINTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    points_written: int
    def __init__(self, points_written: _Optional[int] = ...) -> None: ...

class CompactRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CompactResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: int
    def __init__(self, points: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("series", "metrics", "points", "chunks", "bytes", "wal_bytes", "seq", "snapshot_seq", "late_points", "dropped_retention", "fsync")
    SERIES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    WAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SEQ_FIELD_NUMBER: _ClassVar[int]
    LATE_POINTS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_RETENTION_FIELD_NUMBER: _ClassVar[int]
    FSYNC_FIELD_NUMBER: _ClassVar[int]
    series: int
    metrics: int
    points: int
    chunks: int
    bytes: int
    wal_bytes: int
    seq: int
    snapshot_seq: int
    late_points: int
    dropped_retention: int
    fsync: str
    def __init__(self, series: _Optional[int] = ..., metrics: _Optional[int] = ..., points: _Optional[int] = ..., chunks: _Optional[int] = ..., bytes: _Optional[int] = ..., wal_bytes: _Optional[int] = ..., seq: _Optional[int] = ..., snapshot_seq: _Optional[int] = ..., late_points: _Optional[int] = ..., dropped_retention: _Optional[int] = ..., fsync: _Optional[str] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

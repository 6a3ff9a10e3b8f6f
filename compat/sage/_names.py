"""The SAGE name -> SAGE Mesh object table: the whole compatibility namespace.

``MODULES[sage_module][name] = "sage_mesh_module:attribute"``. Each SAGE module listed here is
importable (``sage._finder``); every prefix of one is a package. To map a new SAGE name, add a
line; docs/sage-compat.md shows this table (``python -m sage._names`` prints it as Markdown),
and tests/compat/test_names.py imports every entry.
"""

from __future__ import annotations

_DF = "sage_client.dataflow"
_FUNCTIONS = {
    "BaseFunction": f"{_DF}:BaseFunction",
    "SourceFunction": f"{_DF}:SourceFunction",
    "BatchFunction": f"{_DF}:BatchFunction",
    "MapFunction": f"{_DF}:MapFunction",
    "FilterFunction": f"{_DF}:FilterFunction",
    "FlatMapFunction": f"{_DF}:FlatMapFunction",
    "SinkFunction": f"{_DF}:SinkFunction",
    "KeyByFunction": f"{_DF}:KeyByFunction",
    "BaseCoMapFunction": f"{_DF}:CoMapFunction",
    "BaseJoinFunction": f"{_DF}:JoinFunction",
    "Collector": f"{_DF}:Collector",
    "StopSignal": f"{_DF}:StopSignal",
}
# SAGE's one-class-per-module layout: sage.common.core.functions.<module> -> its classes
_FUNCTION_MODULES = {
    "base_function": ["BaseFunction"],
    "source_function": ["SourceFunction", "StopSignal"],
    "batch_function": ["BatchFunction"],
    "map_function": ["MapFunction"],
    "filter_function": ["FilterFunction"],
    "flatmap_function": ["FlatMapFunction", "Collector"],
    "sink_function": ["SinkFunction"],
    "keyby_function": ["KeyByFunction"],
    "comap_function": ["BaseCoMapFunction"],
    "join_function": ["BaseJoinFunction"],
}
_ENVIRONMENTS = {
    "LocalEnvironment": f"{_DF}:LocalEnvironment",
    "RemoteEnvironment": "sage_client.remote:RemoteEnvironment",
    "BaseEnvironment": f"{_DF}:BaseEnvironment",
}
_SERVICES = {
    "BaseService": f"{_DF}.api.service:BaseService",
    "ServiceContext": f"{_DF}.api.service:ServiceContext",
    "PipelineBridge": f"{_DF}.pipeline_service:PipelineBridge",
    "PipelineRequest": f"{_DF}.pipeline_service:PipelineRequest",
    "PipelineService": f"{_DF}.pipeline_service:PipelineService",
    "PipelineServiceSource": f"{_DF}.pipeline_service:PipelineServiceSource",
    "PipelineServiceSink": f"{_DF}.pipeline_service:PipelineServiceSink",
}
_SCHEDULER = {
    "BaseScheduler": f"{_DF}.scheduler:BaseScheduler",
    "PlacementDecision": f"{_DF}.scheduler:PlacementDecision",
    "NodeSelector": f"{_DF}.scheduler:NodeSelector",
    "NodeResources": f"{_DF}.scheduler:NodeResources",
    "FIFOScheduler": f"{_DF}.scheduler:FIFOScheduler",
    "LoadAwareScheduler": f"{_DF}.scheduler:LoadAwareScheduler",
}
_IO = {
    "FileSource": "sage_client.rag.io:FileSource",
    "TextFileSource": "sage_client.rag.io:FileSource",
    "TerminalSink": "sage_client.rag.io:TerminalSink",
    "ConsoleSink": "sage_client.rag.io:ConsoleSink",
    "PrintSink": "sage_client.rag.io:PrintSink",
    "FileSink": "sage_client.rag.io:FileSink",
    # connectors (docs/connectors.md); SAGE's config dict or keyword arguments
    "KafkaSource": "sage_client.dataflow.connectors.kafka:KafkaSource",
    "APISource": "sage_client.dataflow.connectors.api_source:APISource",
    "StreamSource": "sage_client.dataflow.connectors.stream_source:StreamSource",
    "DatabaseSink": "sage_client.dataflow.connectors.database:DatabaseSink",
    "RedisStreamSource": "sage_client.dataflow.connectors.redis_streams:RedisStreamSource",
    "RedisStreamSink": "sage_client.dataflow.connectors.redis_streams:RedisStreamSink",
}
_RAG = {
    "QAPromptor": "sage_client.rag.promptors:PairQAPromptor",  # SAGE shape: [data, messages]
    "ChatPromptor": "sage_client.rag:ChatPromptor",
    "OpenAIGenerator": "sage_client.rag:OpenAIGenerator",
    "HFGenerator": "sage_client.rag.generators:HFGenerator",
    "SageLLMGenerator": "sage_client.rag:SageLLMGenerator",
    "DenseRetriever": "sage_client.rag:DenseRetriever",
    "BM25Retriever": "sage_client.rag:BM25Retriever",
    "HybridRetriever": "sage_client.rag:HybridRetriever",
    "BGEReranker": "sage_client.rag:EmbeddingReranker",
    "LLMbased_Reranker": "sage_client.rag:LLMReranker",
    "CharacterSplitter": "sage_client.rag:TokenChunker",
    "SentenceTransformersTokenTextSplitter": "sage_client.rag:TokenChunker",
    "F1Evaluate": "sage_client.rag:F1Evaluator",
    "EMEvaluate": "sage_client.rag:ExactMatchEvaluator",
    "RecallEvaluate": "sage_client.rag:RecallAtKEvaluator",
    "RougeLEvaluate": "sage_client.rag:RougeLEvaluator",
    "ContextRecallEvaluate": "sage_client.rag:ContextRecallEvaluator",
    "LatencyEvaluate": "sage_client.rag:LatencyEvaluator",
    "TokenCountEvaluate": "sage_client.rag:TokenCountEvaluator",
}
_LOADERS = {
    "TextLoader": "sage_client.rag:TextLoader",
    "MarkdownLoader": "sage_client.rag:MarkdownLoader",
    "PDFLoader": "sage_client.rag:PDFLoader",
    "JSONLLoader": "sage_client.rag:JSONLLoader",
}
_EMBEDDING = {
    "EmbeddingModel": "sage_client.llm.embedding_models:EmbeddingModel",
    "get_embedding_model": "sage_client.llm.embedding_models:get_embedding_model",
    "apply_embedding_model": "sage_client.llm.embedding_models:apply_embedding_model",
    "list_embedding_models": "sage_client.llm.embedding_models:list_embedding_models",
    "check_model_availability": "sage_client.llm.embedding_models:check_model_availability",
    "EmbeddingService": "sage_client.llm.embedding_models:EmbeddingService",
}
_SAGE_DB = {
    "SageDB": "sage_client.native_db:SageDB",
    "DatabaseConfig": "sage_client.native_db:DatabaseConfig",
    "SearchParams": "sage_client.native_db:SearchParams",
    "QueryResult": "sage_client.native_db:QueryResult",
    "IndexType": "sage_client.native_db:IndexType",
    "DistanceMetric": "sage_client.native_db:DistanceMetric",
    "SageDBService": "sage_client.native_db:SageDBService",
}
_MULTIMODAL_DB = {  # sage_db's multimodal items (sage_client/multimodal_db.py)
    name: f"sage_client.multimodal_db:{name}"
    for name in (
        "MultimodalSageDB",
        "ModalityType",
        "FusionStrategy",
        "ModalData",
        "MultimodalData",
        "FusionParams",
        "MultimodalSearchParams",
        "QueryResult",
        "create_text_image_db",
        "create_audio_visual_db",
    )
}
_SAGE_FLOW = {  # sage_flow: vector streams (sage_client/flow, docs/flow.md)
    "SageFlowService": "sage_client.flow:SageFlowService",
    "StreamEnvironment": "sage_client.flow:StreamEnvironment",
    "SimpleStreamSource": "sage_client.flow:SimpleStreamSource",
    "VectorRecord": "sage_client.flow:VectorRecord",
}

_TS = "sage_client.tsdb_api"
_SAGE_TSDB = {  # sage_tsdb: the TSDB core, embedded or the TSDB service (docs/tsdb.md)
    "SageTSDB": f"{_TS}:SageTSDB",
    "TimeRange": f"{_TS}:TimeRange",
    "TimeSeriesData": f"{_TS}:TimeSeriesData",
    "AggregationType": f"{_TS}:AggregationType",
    "InterpolationType": f"{_TS}:InterpolationType",
    "WindowType": f"{_TS}:WindowType",
    "WindowConfig": f"{_TS}:WindowConfig",
    "JoinConfig": f"{_TS}:JoinConfig",
    "WindowAggregator": f"{_TS}:WindowAggregator",
    "OutOfOrderStreamJoin": f"{_TS}:OutOfOrderStreamJoin",
    "SageTSDBService": f"{_TS}:SageTSDBService",
}
_TSDB_CORE = ["SageTSDB", "TimeRange", "TimeSeriesData", "AggregationType", "InterpolationType"]
_TSDB_ALGORITHMS = ["WindowAggregator", "OutOfOrderStreamJoin", "WindowConfig", "JoinConfig"]
_TSDB_ALGORITHMS += ["WindowType", "AggregationType"]

_NM = "sage._adapters.neuromem"
_SAGE_MEM = {  # neuromem: in-process collections on the native core (sage._adapters.neuromem)
    "MemoryManager": f"{_NM}:MemoryManager",
    "BaseMemoryCollection": f"{_NM}:BaseMemoryCollection",
    "VDBMemoryCollection": f"{_NM}:VDBMemoryCollection",
    "KVMemoryCollection": f"{_NM}:KVMemoryCollection",
    "GraphMemoryCollection": f"{_NM}:GraphMemoryCollection",
    "SimpleGraphIndex": f"{_NM}:SimpleGraphIndex",
}
_MEM_COLLECTIONS = [n for n in _SAGE_MEM if n != "MemoryManager"]
_MEM_SERVICES = {
    "ParallelVDBService": f"{_NM}.parallel:ParallelVDBService",
    "parallel_insert_to_vdb": f"{_NM}.parallel:parallel_insert_to_vdb",
    "ParallelInsertResult": f"{_NM}.parallel:ParallelInsertResult",
}


def _pick(table: dict[str, str], names: list[str]) -> dict[str, str]:
    return {n: table[n] for n in names}


MODULES: dict[str, dict[str, str]] = {
    # -- sage.common (L1) -----------------------------------------------------------------
    "sage.common.core": {**_FUNCTIONS},
    "sage.common.core.functions": {**_FUNCTIONS},
    **{
        f"sage.common.core.functions.{module}": _pick(_FUNCTIONS, names)
        for module, names in _FUNCTION_MODULES.items()
    },
    "sage.common.utils.logging.custom_logger": {
        "CustomLogger": "sage._adapters.logging:CustomLogger"
    },
    "sage.common.utils.logging": {"CustomLogger": "sage._adapters.logging:CustomLogger"},
    "sage.common.utils.config.loader": {"load_config": "sage._adapters.config:load_config"},
    "sage.common.config.ports": {"SagePorts": "sage._adapters.config:SagePorts"},
    "sage.common.components.sage_embedding": {**_EMBEDDING},
    "sage.common.components.sage_embedding.embedding_api": _pick(
        _EMBEDDING, ["apply_embedding_model", "get_embedding_model", "EmbeddingModel"]
    ),
    "sage.common.components.sage_embedding.embedding_model": _pick(
        _EMBEDDING, ["EmbeddingModel", "apply_embedding_model"]
    ),
    "sage.common.components.sage_embedding.service": _pick(_EMBEDDING, ["EmbeddingService"]),
    "sage.common.components.sage_llm": {
        "UnifiedInferenceClient": "sage_client.llm.unified:UnifiedInferenceClient",
    },
    # -- sage.kernel (L3) -----------------------------------------------------------------
    "sage.kernel.api": {**_ENVIRONMENTS},
    "sage.kernel.api.local_environment": _pick(_ENVIRONMENTS, ["LocalEnvironment"]),
    "sage.kernel.api.remote_environment": _pick(_ENVIRONMENTS, ["RemoteEnvironment"]),
    "sage.kernel.api.base_environment": _pick(_ENVIRONMENTS, ["BaseEnvironment"]),
    "sage.kernel.api.datastream": {"DataStream": f"{_DF}:DataStream"},
    "sage.kernel.api.connected_streams": {"ConnectedStreams": f"{_DF}:ConnectedStreams"},
    "sage.kernel.api.service": {**_SERVICES},
    "sage.kernel.api.service.base_service": _pick(_SERVICES, ["BaseService"]),
    "sage.kernel.api.service.pipeline_service": {
        k: v for k, v in _SERVICES.items() if k.startswith("Pipeline")
    },
    "sage.kernel.runtime.communication.packet": {"StopSignal": f"{_DF}:StopSignal"},
    "sage.kernel.runtime.factory.service_factory": {
        "ServiceFactory": f"{_DF}.services:ServiceSpec"
    },
    "sage.kernel.scheduler": {**_SCHEDULER},
    "sage.kernel.scheduler.api": _pick(_SCHEDULER, ["BaseScheduler"]),
    "sage.kernel.scheduler.decision": _pick(_SCHEDULER, ["PlacementDecision"]),
    "sage.kernel.scheduler.node_selector": _pick(_SCHEDULER, ["NodeSelector", "NodeResources"]),
    "sage.kernel.scheduler.impl": _pick(_SCHEDULER, ["FIFOScheduler", "LoadAwareScheduler"]),
    "sage.platform.service": _pick(_SERVICES, ["BaseService"]),
    "sage.common.service.base_service": _pick(_SERVICES, ["BaseService"]),
    # -- sage.libs (L3) -------------------------------------------------------------------
    **{
        f"{io}{sub}": dict(_IO)
        for io in ("sage.libs.foundation.io", "sage.libs.io_utils", "sage.libs.io", "sage.lib.io")
        for sub in ("", ".source", ".sink")
    },
    "sage.libs.rag": {**_RAG, **_LOADERS},
    "sage.libs.rag.promptor": _pick(_RAG, ["QAPromptor"]),
    "sage.libs.rag.generator": _pick(_RAG, ["OpenAIGenerator", "HFGenerator"]),
    "sage.libs.rag.retriever": _pick(_RAG, ["DenseRetriever", "BM25Retriever"]),
    "sage.libs.rag.reranker": _pick(_RAG, ["BGEReranker", "LLMbased_Reranker"]),
    "sage.libs.rag.chunk": _pick(
        _RAG, ["CharacterSplitter", "SentenceTransformersTokenTextSplitter"]
    ),
    "sage.libs.rag.evaluate": {k: v for k, v in _RAG.items() if k.endswith("Evaluate")},
    "sage.libs.rag.document_loaders": {**_LOADERS},
    # -- sage.middleware (L4) -------------------------------------------------------------
    "sage.middleware.operators.rag": {**_RAG, **_LOADERS},
    "sage.middleware.operators.rag.promptor": _pick(_RAG, ["QAPromptor"]),
    "sage.middleware.operators.rag.generator": _pick(_RAG, ["OpenAIGenerator", "HFGenerator"]),
    "sage.middleware.operators.rag.retriever": _pick(_RAG, ["DenseRetriever", "BM25Retriever"]),
    "sage.middleware.operators.rag.evaluate": {
        k: v for k, v in _RAG.items() if k.endswith("Evaluate")
    },
    "sage.middleware.operators.llm": _pick(_RAG, ["SageLLMGenerator", "OpenAIGenerator"]),
    "sage.middleware.components.sage_db": {**_SAGE_DB},
    "sage.middleware.components.sage_db.python.sage_db": {**_SAGE_DB},
    "sage.middleware.components.sage_db.python.multimodal_sage_db": {**_MULTIMODAL_DB},
    "sage.middleware.components.sage_db.python.micro_service.sage_db_service": _pick(
        _SAGE_DB, ["SageDBService"]
    ),
    "sage.middleware.components.sage_flow": {**_SAGE_FLOW},
    "sage.middleware.components.sage_flow.python.sage_flow": _pick(
        _SAGE_FLOW, ["StreamEnvironment", "SimpleStreamSource", "VectorRecord"]
    ),
    "sage.middleware.components.sage_flow.python.micro_service": _pick(
        _SAGE_FLOW, ["SageFlowService"]
    ),
    "sage.middleware.components.sage_flow.python.micro_service.sage_flow_service": _pick(
        _SAGE_FLOW, ["SageFlowService"]
    ),
    **{f"sage.middleware.components.sage_mem{sub}": {**_SAGE_MEM} for sub in ("", ".neuromem")},
    "sage.middleware.components.sage_mem.neuromem.memory_manager": _pick(
        _SAGE_MEM, ["MemoryManager"]
    ),
    "sage.middleware.components.sage_mem.neuromem.memory_collection": _pick(
        _SAGE_MEM, _MEM_COLLECTIONS
    ),
    **{
        f"sage.middleware.components.sage_mem.neuromem.memory_collection.{module}": _pick(
            _SAGE_MEM, names
        )
        for module, names in {
            "base_collection": ["BaseMemoryCollection"],
            "vdb_collection": ["VDBMemoryCollection"],
            "kv_collection": ["KVMemoryCollection"],
            "graph_collection": ["GraphMemoryCollection", "SimpleGraphIndex"],
        }.items()
    },
    "sage.middleware.components.sage_mem.services": {**_MEM_SERVICES},
    "sage.middleware.components.sage_mem.services.parallel_vdb_service": {**_MEM_SERVICES},
    "sage.middleware.components.sage_mem.neuromem.utils.path_utils": {
        "get_default_data_dir": f"{_NM}:get_default_data_dir"
    },
    "sage.middleware.components.sage_tsdb": {**_SAGE_TSDB},
    "sage.middleware.components.sage_tsdb.python": {**_SAGE_TSDB},
    "sage.middleware.components.sage_tsdb.python.sage_tsdb": _pick(_SAGE_TSDB, _TSDB_CORE),
    "sage.middleware.components.sage_tsdb.python.algorithms": _pick(_SAGE_TSDB, _TSDB_ALGORITHMS),
    "sage.middleware.components.sage_tsdb.python.micro_service": _pick(
        _SAGE_TSDB, ["SageTSDBService"]
    ),
    "sage.middleware.components.sage_tsdb.python.micro_service.sage_tsdb_service": _pick(
        _SAGE_TSDB, ["SageTSDBService"]
    ),
    # seed 000: the multi-provider API client and the JWT manager (docs/api-client.md)
    "sage.middleware.api": {"APIClient": "sage_client.api_client:APIClient"},
    "sage.middleware.api.client": {"APIClient": "sage_client.api_client:APIClient"},
    "sage.middleware.auth": {"JWTManager": "sage_client.jwt:JWTManager"},
    "sage.middleware.auth.jwt": {"JWTManager": "sage_client.jwt:JWTManager"},
    # -- SAGE's 2026 "core" layout (src/sage/{foundation, stream, runtime}): the same names --
    "sage.foundation": {**_FUNCTIONS},
    "sage.foundation.config.ports": {"SagePorts": "sage._adapters.config:SagePorts"},
    "sage.stream": {
        "DataStream": f"{_DF}:DataStream",
        "ConnectedStreams": f"{_DF}:ConnectedStreams",
    },
    "sage.runtime": {
        **_pick(_ENVIRONMENTS, ["LocalEnvironment"]),
        "StopSignal": f"{_DF}:StopSignal",
    },
    # -- the older sage.core.api.* / sage.api.* names (SAGE's README, seeds 001 and 003) ------
    "sage.core.api": {**_ENVIRONMENTS},
    "sage.core.api.env": {**_ENVIRONMENTS},
    "sage.core.api.local_environment": _pick(_ENVIRONMENTS, ["LocalEnvironment"]),
    "sage.core.api.remote_environment": _pick(_ENVIRONMENTS, ["RemoteEnvironment"]),
    "sage.core.api.function": {**_FUNCTIONS},
    **{
        f"sage.core.api.function.{module}": _pick(_FUNCTIONS, names)
        for module, names in _FUNCTION_MODULES.items()
    },
    "sage.api.local_environment": _pick(_ENVIRONMENTS, ["LocalEnvironment"]),
    "sage.api.remote_environment": _pick(_ENVIRONMENTS, ["RemoteEnvironment"]),
    "sage.api.function": {**_FUNCTIONS},
    **{
        f"sage.api.function.{module}": _pick(_FUNCTIONS, names)
        for module, names in _FUNCTION_MODULES.items()
    },
}

# SAGE modules that are one of ours as a whole (the same module object; ``python -m`` runs it)
MODULE_ALIASES: dict[str, str] = {
    "sage.kernel.jobmanager.job_manager": "sage._adapters.job_manager",
}


def markdown() -> str:
    """The table as Markdown rows: SAGE module | names | SAGE Mesh objects."""
    rows = ["| SAGE import | SAGE Mesh object |", "|---|---|"]
    for module, names in sorted(MODULES.items()):
        for name, target in sorted(names.items()):
            rows.append(f"| `{module}.{name}` | `{target.replace(':', '.')}` |")
    for module, target in sorted(MODULE_ALIASES.items()):
        rows.append(f"| `{module}` (the module; `python -m` runs it) | `{target}` |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown())

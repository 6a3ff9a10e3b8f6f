"""RAG and agent operators for DataStream pipelines.

    env.from_batch(questions).map(HybridRetriever, {"path": "run/docs-index"}) \\
       .map(QAPromptor, {}).map(SageLLMGenerator, {"backend_type": "cpu"}).sink(TerminalSink)

Loaders and chunkers build the index (``ChunkIndexer``), retrievers and rerankers fill
``results``, promptors ``prompt``, generators ``answer``, evaluators ``metrics``.
"""

from sage_client.rag.agents import (
    ReActAgent,
    Tool,
    ToolError,
    ToolRegistry,
    calculator,
    make_kv_lookup,
    make_vdb_search,
)
from sage_client.rag.chunkers import (
    SentenceChunker,
    TokenChunker,
    chunk_by_sentences,
    chunk_by_tokens,
)
from sage_client.rag.evaluators import (
    BleuEvaluator,
    ContextRecallEvaluator,
    EvaluationSummary,
    Evaluator,
    ExactMatchEvaluator,
    F1Evaluator,
    LatencyEvaluator,
    RecallAtKEvaluator,
    RougeLEvaluator,
    TokenCountEvaluator,
    format_table,
    summarize,
)
from sage_client.rag.extractive import AnswerExtractor
from sage_client.rag.generators import OpenAIGenerator, SageLLMGenerator
from sage_client.rag.indexing import ChunkIndexer, index_chunks
from sage_client.rag.io import FileSink, FileSource, TerminalSink, format_answer, read_jsonl
from sage_client.rag.loaders import (
    DocumentLoader,
    JSONLLoader,
    MarkdownLoader,
    PDFLoader,
    TextLoader,
    find_files,
    load_document,
)
from sage_client.rag.promptors import ChatPromptor, QAPromptor
from sage_client.rag.rerankers import EmbeddingReranker, LLMReranker
from sage_client.rag.retrievers import BM25Retriever, DenseRetriever, HybridRetriever
from sage_client.rag.store import close_collection, open_collection

__all__ = [
    "AnswerExtractor",
    "BM25Retriever",
    "BleuEvaluator",
    "ChatPromptor",
    "ChunkIndexer",
    "ContextRecallEvaluator",
    "DenseRetriever",
    "DocumentLoader",
    "EmbeddingReranker",
    "EvaluationSummary",
    "Evaluator",
    "ExactMatchEvaluator",
    "F1Evaluator",
    "FileSink",
    "FileSource",
    "HybridRetriever",
    "JSONLLoader",
    "LLMReranker",
    "LatencyEvaluator",
    "MarkdownLoader",
    "OpenAIGenerator",
    "PDFLoader",
    "QAPromptor",
    "ReActAgent",
    "RecallAtKEvaluator",
    "RougeLEvaluator",
    "SageLLMGenerator",
    "SentenceChunker",
    "TerminalSink",
    "TextLoader",
    "TokenChunker",
    "TokenCountEvaluator",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "calculator",
    "chunk_by_sentences",
    "chunk_by_tokens",
    "close_collection",
    "find_files",
    "format_answer",
    "format_table",
    "index_chunks",
    "load_document",
    "make_kv_lookup",
    "make_vdb_search",
    "open_collection",
    "read_jsonl",
    "summarize",
]

"""A vector stream linked to RAG: embed a stream of texts, join it against a collection, and
emit each text's nearest document chunks.

    python examples/flow/rag_stream.py

Pipeline: timestamped texts -> embed_texts (all-MiniLM-L6-v2, 16 per call) -> event-time
windows of 10 s -> one native top-k search per window against a collection of this project's
docs/ -> each text with its neighbours' sources. A second output joins the text stream with
itself (texts closer than a similarity threshold within the same window).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sage_client import LocalEnvironment, find_files, open_collection
from sage_client.dataflow.api.windows import TumblingWindow
from sage_client.flow import embed_texts, similarity_join, vector_window
from sage_client.rag.pipelines import ingest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = [
    (0.5, "How do I start the whole mesh on one machine?"),
    (1.2, "Which command brings every service up without Docker?"),
    (3.0, "What does a benchmark print on its last line?"),
    (4.1, "How are credentials presented to every RPC?"),
    (11.0, "How many dimensions do the MiniLM embeddings have?"),
    (12.5, "What is the embedding size of all-MiniLM-L6-v2?"),
    (14.0, "How do windows and watermarks work in the DataStream runtime?"),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        collection = open_collection(Path(tmp) / "docs")
        chunks = ingest(find_files(ROOT / "docs", relative_to=ROOT), collection, root=ROOT)
        print(f"indexed {chunks} chunks from docs/")

        records = [{"uid": f"t{i}", "timestamp": ts, "text": t} for i, (ts, t) in enumerate(EVENTS)]
        env = LocalEnvironment("flow-rag")
        vectors = embed_texts(env.from_batch(records), batch_size=16)
        neighbours = vector_window(vectors, TumblingWindow(10.0)).topk(
            collection, k=2, include_metadatas=True
        )
        neighbours.sink(_print_neighbours)
        similar = similarity_join(vectors, vectors, TumblingWindow(10.0), threshold=0.6)
        similar.sink(_print_pair)
        env.submit(autostop=True)
        env.close()


def _print_neighbours(n) -> None:  # noqa: ANN001
    sources = [m.get("source", "?") if m else "?" for m in n.metadatas or []]
    print(f"[{n.window.start:g}s-{n.window.end:g}s] {n.payload['text']} -> {', '.join(sources)}")


def _print_pair(m) -> None:  # noqa: ANN001
    if m.left < m.right:  # each unordered pair once, no self-pairs
        print(
            f"similar in [{m.window.start:g}s-{m.window.end:g}s]: {m.left} ~ {m.right} ({m.score:.2f})"
        )


if __name__ == "__main__":
    main()

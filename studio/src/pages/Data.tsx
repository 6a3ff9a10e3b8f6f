import { FormEvent, useState } from "react";
import { call } from "../api";
import { AdminOnly, usePoll } from "../usePoll";
import { KvBrowser } from "./KvBrowser";
import { TsdbView } from "./TsdbView";

interface Collection {
  name: string;
  dimension: number;
  metric: string;
  count: number;
  embedding_model: string;
}

interface Hit {
  id: string;
  score: number | null;
  metadata: Record<string, unknown>;
  document: string;
}

export function Data({ credential, admin }: { credential: string; admin: boolean }) {
  const list = usePoll<{ data: Collection[] }>(
    credential,
    admin ? "/studio/api/collections" : null,
    "listing collections",
  );
  const [collection, setCollection] = useState("");
  const [text, setText] = useState("");
  const [where, setWhere] = useState(""); // a metadata filter, JSON
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (!admin) return <AdminOnly page="Data" />;
  const collections = list.data?.data ?? [];
  const chosen = collection || collections[0]?.name || "";

  const search = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen || !text.trim()) return;
    setBusy(true);
    setError("");
    try {
      let filter: unknown = undefined;
      if (where.trim()) {
        try {
          filter = JSON.parse(where);
        } catch (err) {
          throw new Error(`the filter is not JSON: ${(err as Error).message}`);
        }
      }
      const found = await call<{ data: Hit[] }>(
        credential,
        `/studio/api/collections/${encodeURIComponent(chosen)}/search`,
        "searching",
        { method: "POST", body: JSON.stringify({ text, top_k: 10, ...(filter ? { where: filter } : {}) }) },
      );
      setHits(found.data);
    } catch (err) {
      setError((err as Error).message);
      setHits(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div data-testid="data">
      <h2>Data: VDB collections</h2>
      {list.loading && <p className="muted">Loading collections…</p>}
      {list.error && <p className="error">{list.error}</p>}
      {list.data && collections.length === 0 && (
        <p className="muted">No collection yet: create one with `sage vdb create`.</p>
      )}
      {collections.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Collection</th>
              <th>Vectors</th>
              <th>Dimension</th>
              <th>Metric</th>
              <th>Embedding model</th>
            </tr>
          </thead>
          <tbody>
            {collections.map((c) => (
              <tr key={c.name} data-testid="collection">
                <td>{c.name}</td>
                <td>{c.count}</td>
                <td>{c.dimension}</td>
                <td>{c.metric}</td>
                <td>{c.embedding_model || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {collections.length > 0 && (
        <form className="composer" onSubmit={search}>
          <select
            value={chosen}
            onChange={(e) => setCollection(e.target.value)}
            data-testid="collection-pick"
          >
            {collections.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name}
              </option>
            ))}
          </select>
          <input
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="Search text…"
            data-testid="search-text"
          />
          <input
            value={where}
            onChange={(e) => setWhere(e.target.value)}
            placeholder='filter, e.g. {"lang": "en"}'
            data-testid="search-where"
            style={{ maxWidth: 220 }}
          />
          <button type="submit" disabled={busy} data-testid="search">
            {busy ? "Searching…" : "Search"}
          </button>
        </form>
      )}
      {error && <p className="error">{error}</p>}
      {hits && hits.length === 0 && <p className="muted">No hits.</p>}
      {hits && hits.length > 0 && (
        <ol className="hits" data-testid="hits">
          {hits.map((h) => (
            <li key={h.id}>
              <b>{h.id}</b> <span className="muted">{h.score?.toFixed(4)}</span>
              <div>{h.document}</div>
              {Object.keys(h.metadata).length > 0 && <code>{JSON.stringify(h.metadata)}</code>}
            </li>
          ))}
        </ol>
      )}
      <KvBrowser credential={credential} />
      <TsdbView credential={credential} />
    </div>
  );
}

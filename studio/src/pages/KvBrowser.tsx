import { FormEvent, useState } from "react";
import { call } from "../api";

interface Entry {
  key: string;
  version: number;
  ttl_ms: number;
  size: number;
  text: string | null;
  truncated: boolean;
}

interface Page {
  data: Entry[];
  next_page_token: string;
}

// A KV namespace's entries under a prefix, a page at a time (the KV refuses the namespaces
// the gateway and the memory service own, and the page shows its message).
export function KvBrowser({ credential }: { credential: string }) {
  const [namespace, setNamespace] = useState("default");
  const [prefix, setPrefix] = useState("");
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const load = async (token: string) => {
    setBusy(true);
    setError("");
    try {
      const page = await call<Page>(
        credential,
        `/studio/api/kv/${encodeURIComponent(namespace.trim())}/scan`,
        "reading the KV",
        { method: "POST", body: JSON.stringify({ prefix, page_token: token, page_size: 50 }) },
      );
      setEntries((before) => (token && before ? [...before, ...page.data] : page.data));
      setNext(page.next_page_token);
    } catch (err) {
      setError((err as Error).message);
      if (!token) setEntries(null);
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (namespace.trim()) load("");
  };

  return (
    <section data-testid="kv-browser">
      <h2>Data: KV</h2>
      <form className="composer" onSubmit={submit}>
        <input
          value={namespace}
          onChange={(e) => setNamespace(e.target.value)}
          placeholder="Namespace"
          data-testid="kv-namespace"
        />
        <input
          value={prefix}
          onChange={(e) => setPrefix(e.target.value)}
          placeholder="Key prefix (empty: every key)"
          data-testid="kv-prefix"
        />
        <button type="submit" disabled={busy} data-testid="kv-scan">
          {busy ? "Reading…" : "Browse"}
        </button>
      </form>
      {error && (
        <p className="error" data-testid="kv-error">
          {error}
        </p>
      )}
      {entries && entries.length === 0 && (
        <p className="muted" data-testid="kv-empty">
          No key in this namespace{prefix ? ` under “${prefix}”` : ""}.
        </p>
      )}
      {entries && entries.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              <th>Version</th>
              <th>TTL</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.key} data-testid="kv-entry">
                <td>
                  <code>{e.key}</code>
                </td>
                <td>
                  {e.text === null ? (
                    <span className="muted">{e.size} bytes (binary)</span>
                  ) : (
                    <>
                      {e.text}
                      {e.truncated && <span className="muted">… ({e.size} bytes)</span>}
                    </>
                  )}
                </td>
                <td>{e.version}</td>
                <td>{e.ttl_ms ? `${Math.round(e.ttl_ms / 1000)} s` : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button onClick={() => load(next)} disabled={busy} data-testid="kv-more">
          More
        </button>
      )}
    </section>
  );
}

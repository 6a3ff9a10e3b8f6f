import { FormEvent, useCallback, useEffect, useRef, useState } from "react";
import { ChatMessage, Model, Session, call, streamChat } from "../api";

declare global {
  interface Window {
    // what bench/studio.py reads (performance.now(), ms): when each SSE token reached the page,
    // and the frames that painted the first n tokens
    __studioArrivals?: number[];
    __studioPaints?: { n: number; t: number }[];
  }
}

interface Props {
  credential: string;
}

export function Chat({ credential }: Props) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [sessionsError, setSessionsError] = useState("");
  const [current, setCurrent] = useState<string>("");
  const [models, setModels] = useState<Model[]>([]);
  const [model, setModel] = useState("");
  const [modelsError, setModelsError] = useState("");
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [draft, setDraft] = useState("");
  const [memory, setMemory] = useState(false);
  const [collection, setCollection] = useState(""); // RAG: a collection the gateway offers
  const [maxTokens, setMaxTokens] = useState(256);
  const [streaming, setStreaming] = useState(false);
  const [tokens, setTokens] = useState(0);
  const [error, setError] = useState("");
  const abort = useRef<AbortController | null>(null);

  const loadSessions = useCallback(async () => {
    try {
      const list = await call<{ data: Session[] }>(credential, "/v1/sessions", "loading sessions");
      setSessions(list.data.sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0)));
      setSessionsError("");
    } catch (err) {
      setSessionsError((err as Error).message);
      setSessions([]);
    }
  }, [credential]);

  useEffect(() => {
    loadSessions();
    call<{ data: Model[] }>(credential, "/v1/models", "loading models")
      .then((list) => {
        setModels(list.data);
        setModel((m) => m || list.data[0]?.id || "");
      })
      .catch((err) => setModelsError((err as Error).message));
  }, [credential, loadSessions]);

  useEffect(() => {
    if (tokens === 0) return;
    // a task queued from the frame's animation callback runs once that frame is painted
    requestAnimationFrame(() =>
      setTimeout(() => (window.__studioPaints ??= []).push({ n: tokens, t: performance.now() })),
    );
  }, [tokens]);

  // the chat page is interactive once its sessions and models are in (bench/studio.py)
  useEffect(() => {
    if (sessions !== null && models.length > 0 && !performance.getEntriesByName("studio-interactive").length)
      performance.mark("studio-interactive");
  }, [sessions, models]);

  const open = async (id: string) => {
    if (streaming) return;
    setCurrent(id);
    setError("");
    try {
      const detail = await call<{ history: ChatMessage[] }>(
        credential,
        `/v1/sessions/${encodeURIComponent(id)}`,
        "opening the session",
      );
      setMessages(detail.history ?? []);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const create = async (): Promise<string> => {
    const made = await call<Session>(credential, "/v1/sessions", "creating a session", {
      method: "POST",
      body: JSON.stringify({ title: "New chat" }),
    });
    await loadSessions();
    setCurrent(made.id);
    setMessages([]);
    return made.id;
  };

  const rename = async (id: string, old: string) => {
    const title = window.prompt("Rename the chat", old);
    if (!title) return;
    try {
      await call(credential, `/v1/sessions/${encodeURIComponent(id)}/title`, "renaming", {
        method: "PATCH",
        body: JSON.stringify({ title }),
      });
      await loadSessions();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const remove = async (id: string) => {
    try {
      await call(credential, `/v1/sessions/${encodeURIComponent(id)}`, "deleting", {
        method: "DELETE",
      });
      if (id === current) {
        setCurrent("");
        setMessages([]);
      }
      await loadSessions();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const send = async (event: FormEvent) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text || streaming) return;
    if (!model) {
      setError("No model to chat with: the mesh lists none (is an LLM instance up?).");
      return;
    }
    setError("");
    setDraft("");
    let sessionId = current;
    try {
      if (!sessionId) sessionId = await create();
    } catch (err) {
      setError((err as Error).message);
      return;
    }
    const history: ChatMessage[] = [...messages, { role: "user", content: text }];
    setMessages([...history, { role: "assistant", content: "" }]);
    setTokens(0);
    setStreaming(true);
    window.__studioPaints = [];
    window.__studioArrivals = [];
    const controller = new AbortController();
    abort.current = controller;
    try {
      await streamChat(
        credential,
        {
          model,
          messages: [{ role: "user", content: text }],
          session_id: sessionId,
          max_tokens: maxTokens,
          ...(memory ? { memory: true } : {}),
          ...(collection.trim() ? { rag: { collection: collection.trim() } } : {}),
        },
        (token) => {
          window.__studioArrivals?.push(performance.now());
          setTokens((n) => n + 1);
          setMessages((all) => {
            const last = all[all.length - 1];
            return [...all.slice(0, -1), { ...last, content: last.content + token }];
          });
        },
        controller.signal,
        (sources) =>
          setMessages((all) => {
            const last = all[all.length - 1];
            return [...all.slice(0, -1), { ...last, sources }];
          }),
      );
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setStreaming(false);
      abort.current = null;
      loadSessions();
    }
  };

  const stop = () => abort.current?.abort();

  return (
    <div className="chat">
      <aside className="sessions" data-testid="sessions">
        <button onClick={() => create().catch((e) => setError(e.message))} data-testid="new-chat">
          + New chat
        </button>
        {sessions === null && <p className="muted">Loading sessions…</p>}
        {sessionsError && <p className="error">{sessionsError}</p>}
        {sessions?.length === 0 && !sessionsError && (
          <p className="muted" data-testid="no-sessions">
            No chats yet: send a message to start one.
          </p>
        )}
        <ul>
          {sessions?.map((s) => (
            <li key={s.id} className={s.id === current ? "active" : ""} data-testid="session">
              <a onClick={() => open(s.id)}>{s.title || s.id}</a>
              <span className="actions">
                <button title="Rename" onClick={() => rename(s.id, s.title ?? "")}>
                  ✎
                </button>
                <button title="Delete" onClick={() => remove(s.id)} data-testid="delete-session">
                  ✕
                </button>
              </span>
            </li>
          ))}
        </ul>
      </aside>
      <section className="conversation">
        <div className="toolbar">
          <label>
            Model{" "}
            <select value={model} onChange={(e) => setModel(e.target.value)} data-testid="model">
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Max tokens{" "}
            <input
              type="number"
              min={1}
              value={maxTokens}
              onChange={(e) => setMaxTokens(Math.max(1, Number(e.target.value) || 1))}
              data-testid="max-tokens"
              style={{ width: 90 }}
            />
          </label>
          <label>
            <input type="checkbox" checked={memory} onChange={(e) => setMemory(e.target.checked)} />{" "}
            memory
          </label>
          <label>
            Sources{" "}
            <input
              value={collection}
              onChange={(e) => setCollection(e.target.value)}
              placeholder="collection (RAG)"
              data-testid="rag-collection"
              style={{ width: 150 }}
            />
          </label>
          {modelsError && <span className="error">{modelsError}</span>}
        </div>
        <div className="messages" data-testid="messages">
          {messages.length === 0 && <p className="muted center">Ask something to begin.</p>}
          {messages.map((m, i) => (
            <div
              key={i}
              className={`msg ${m.role}`}
              data-testid={
                m.role === "assistant"
                  ? streaming && i === messages.length - 1
                    ? "reply-streaming"
                    : "reply"
                  : "prompt"
              }
            >
              {m.content || (streaming && i === messages.length - 1 ? "…" : "")}
              {m.sources && m.sources.length > 0 && (
                <ol className="sources" data-testid="sources">
                  {m.sources.map((s) => (
                    <li key={s.id} title={JSON.stringify(s.metadata)}>
                      <b>{s.id}</b> {s.document}
                    </li>
                  ))}
                </ol>
              )}
            </div>
          ))}
        </div>
        {error && (
          <p className="error" data-testid="chat-error">
            {error}
          </p>
        )}
        <form className="composer" onSubmit={send}>
          <input
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="Message the mesh…"
            data-testid="draft"
          />
          {streaming ? (
            <button type="button" onClick={stop} data-testid="stop">
              Stop
            </button>
          ) : (
            <button type="submit" data-testid="send">
              Send
            </button>
          )}
        </form>
        <p className="muted small" data-testid="token-count">
          {streaming ? `streaming: ${tokens} tokens` : tokens ? `${tokens} tokens` : ""}
        </p>
      </section>
    </div>
  );
}

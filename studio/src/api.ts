// The browser's calls: the gateway's OpenAI API (/v1, through Envoy, same origin) and Studio's
// own JSON routes (/studio/api). Every call carries the signed-in credential.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

const KEY = "sage-studio-credential";

export function savedCredential(): string {
  return sessionStorage.getItem(KEY) ?? "";
}

export function saveCredential(value: string): void {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

async function errorOf(reply: Response, what: string): Promise<ApiError> {
  let message = `${what} failed: HTTP ${reply.status}`;
  try {
    const body = await reply.json();
    if (body?.error?.message) message = `${what} failed: ${body.error.message}`;
  } catch {
    /* not JSON: keep the status */
  }
  return new ApiError(reply.status, message);
}

export async function call<T>(
  credential: string,
  path: string,
  what: string,
  init: RequestInit = {},
): Promise<T> {
  let reply: Response;
  try {
    reply = await fetch(path, {
      ...init,
      headers: {
        authorization: `Bearer ${credential}`,
        ...(init.body ? { "content-type": "application/json" } : {}),
        ...(init.headers ?? {}),
      },
    });
  } catch (err) {
    throw new ApiError(0, `${what} failed: the mesh is unreachable (${String(err)}); is it up?`);
  }
  if (!reply.ok) throw await errorOf(reply, what);
  return (await reply.json()) as T;
}

export interface Me {
  user: string;
  admin: boolean;
}

export interface Session {
  id: string;
  title?: string;
  updated_at?: number;
  messages?: number;
}

export interface Model {
  id: string;
}

export interface Source {
  id: string;
  score: number | null;
  document: string;
  metadata: Record<string, unknown>;
}

export interface ChatMessage {
  role: "user" | "assistant" | "system";
  content: string;
  sources?: Source[]; // the RAG hits of an assistant message (the gateway's `sources`)
}

// One streamed chat turn: tokens are handed to onToken as they arrive; aborting `signal`
// cancels the fetch, which the gateway sees as a disconnect and cancels upstream.
export async function streamChat(
  credential: string,
  body: {
    model: string;
    messages: ChatMessage[];
    session_id?: string;
    max_tokens?: number;
    memory?: boolean;
    rag?: { collection: string };
  },
  onToken: (text: string) => void,
  signal: AbortSignal,
  onSources: (sources: Source[]) => void = () => {},
): Promise<void> {
  let reply: Response;
  try {
    reply = await fetch("/v1/chat/completions", {
      method: "POST",
      signal,
      headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
      body: JSON.stringify({ ...body, stream: true }),
    });
  } catch (err) {
    if (signal.aborted) return;
    throw new ApiError(0, `chat failed: the gateway is unreachable (${String(err)})`);
  }
  if (!reply.ok || !reply.body) throw await errorOf(reply, "chat");
  const reader = reply.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") return;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new ApiError(502, `chat failed: ${chunk.error.message}`);
          if (chunk.sources) onSources(chunk.sources);
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) onToken(text);
        }
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}

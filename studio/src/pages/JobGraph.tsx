import { useEffect, useRef, useState } from "react";
import { usePoll } from "../usePoll";

interface OperatorView {
  id: string;
  kind: string;
  name: string;
  parallelism: number;
  records_in: number;
  records_out: number;
  errors: number;
  backlog: number;
}

interface EdgeView {
  source: string;
  target: string;
  partitioning: string;
  feedback: boolean;
}

interface GraphReply {
  operators: OperatorView[];
  edges: EdgeView[];
  sampled_at: number;
}

const NODE_W = 170;
const NODE_H = 74;
const GAP_X = 60;
const GAP_Y = 18;

// Columns by longest path from a source (feedback edges ignored), rows in graph order.
function layout(ops: OperatorView[], edges: EdgeView[]) {
  const depth = new Map(ops.map((o) => [o.id, 0]));
  const forward = edges.filter((e) => !e.feedback);
  for (let pass = 0; pass < ops.length; pass++) {
    let changed = false;
    for (const e of forward) {
      const next = (depth.get(e.source) ?? 0) + 1;
      if (next > (depth.get(e.target) ?? 0)) {
        depth.set(e.target, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const o of ops) {
    const col = depth.get(o.id) ?? 0;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    at.set(o.id, { x: 10 + col * (NODE_W + GAP_X), y: 10 + row * (NODE_H + GAP_Y) });
  }
  const cols = Math.max(1, ...[...depth.values()].map((d) => d + 1));
  const height = Math.max(1, ...rows.values());
  return {
    at,
    width: 20 + cols * NODE_W + (cols - 1) * GAP_X,
    height: 20 + height * NODE_H + (height - 1) * GAP_Y,
  };
}

// What an operator has handled: records read, or records made for a source (which reads none).
const throughput = (o: OperatorView) => (o.records_in > 0 ? o.records_in : o.records_out);

const perSecond = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k/s` : `${n.toFixed(0)}/s`);

// A job's DAG with per-operator counters read every second: records in/out, the rate of records
// handled between the last two reads, and the backlog queued at the operator's input.
export function JobGraph({ credential, jobId }: { credential: string; jobId: string }) {
  const graph = usePoll<GraphReply>(
    credential,
    `/studio/api/jobs/${encodeURIComponent(jobId)}/graph`,
    "reading the job's graph",
    1000,
  );
  const previous = useRef<GraphReply | null>(null);
  const [rates, setRates] = useState<Record<string, number>>({});
  useEffect(() => {
    const now = graph.data;
    const before = previous.current;
    if (now && before && now.sampled_at > before.sampled_at) {
      const dt = now.sampled_at - before.sampled_at;
      const old = new Map(before.operators.map((o) => [o.id, o]));
      setRates(
        Object.fromEntries(
          now.operators.map((o) => {
            const was = old.get(o.id);
            return [o.id, Math.max(0, (throughput(o) - (was ? throughput(was) : 0)) / dt)];
          }),
        ),
      );
    }
    if (now) previous.current = now;
  }, [graph.data]);
  if (graph.error) return <p className="error">{graph.error}</p>;
  if (!graph.data) return <p className="muted">Loading the job's graph…</p>;
  const { operators, edges } = graph.data;
  if (operators.length === 0) return <p className="muted">This job has no operators.</p>;
  const { at, width, height } = layout(operators, edges);
  return (
    <svg
      className="dag"
      data-testid="job-dag"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label="the job's operators and the edges between them"
    >
      <defs>
        <marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">
          <path d="M0,0 L8,4 L0,8 z" fill="#888" />
        </marker>
      </defs>
      {edges.map((e, i) => {
        const a = at.get(e.source);
        const b = at.get(e.target);
        if (!a || !b) return null;
        return (
          <line
            key={i}
            x1={a.x + NODE_W}
            y1={a.y + NODE_H / 2}
            x2={b.x}
            y2={b.y + NODE_H / 2}
            className={e.feedback ? "edge feedback" : "edge"}
            markerEnd="url(#arrow)"
          >
            <title>{e.partitioning}</title>
          </line>
        );
      })}
      {operators.map((o) => {
        const p = at.get(o.id)!;
        return (
          <g key={o.id} transform={`translate(${p.x},${p.y})`} data-testid="dag-node">
            <rect width={NODE_W} height={NODE_H} rx={6} className={o.errors ? "node failed" : "node"} />
            <text x={8} y={16} className="node-name">
              {o.name.length > 22 ? o.name.slice(0, 21) + "…" : o.name}
              {o.parallelism > 1 ? ` ×${o.parallelism}` : ""}
            </text>
            <text x={8} y={32} className="node-kind">
              {o.kind}
            </text>
            <text x={8} y={48} data-testid={`dag-counts-${o.id}`}>
              in {o.records_in} · out {o.records_out}
            </text>
            <text x={8} y={64} data-testid={`dag-rate-${o.id}`}>
              {perSecond(rates[o.id] ?? 0)} · backlog {o.backlog}
              {o.errors ? ` · ${o.errors} errors` : ""}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

// The tail of the job's log, read every two seconds while the job runs.
export function JobLogs({ credential, jobId, live }: { credential: string; jobId: string; live: boolean }) {
  const logs = usePoll<{ data: string[] }>(
    credential,
    `/studio/api/jobs/${encodeURIComponent(jobId)}/logs`,
    "reading the job's log",
    live ? 2000 : 0,
  );
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight; // follow the tail
  }, [logs.data]);
  if (logs.error) return <p className="error">{logs.error}</p>;
  if (!logs.data) return <p className="muted">Loading the log…</p>;
  if (logs.data.data.length === 0) return <p className="muted">Nothing printed yet.</p>;
  return (
    <pre className="log" data-testid="job-log" ref={box}>
      {logs.data.data.join("\n")}
    </pre>
  );
}

// A finished job's result: the records that reached its sinks (a job submitted with
// collect_result), or the job manager's reason when there is none.
export function JobResult({ credential, jobId }: { credential: string; jobId: string }) {
  const result = usePoll<{ total: number; data: string[] }>(
    credential,
    `/studio/api/jobs/${encodeURIComponent(jobId)}/result`,
    "reading the job's result",
  );
  if (result.error)
    return (
      <p className="muted" data-testid="job-result-none">
        {result.error}
      </p>
    );
  if (!result.data) return <p className="muted">Loading the result…</p>;
  const { total, data } = result.data;
  return (
    <div data-testid="job-result">
      <p className="muted">
        {total} record{total === 1 ? "" : "s"}
        {total > data.length ? `, the first ${data.length} shown` : ""}
      </p>
      <pre className="log">{data.join("\n")}</pre>
    </div>
  );
}

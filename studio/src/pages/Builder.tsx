import { PointerEvent as ReactPointerEvent, useRef, useState } from "react";
import { call } from "../api";
import { AdminOnly, usePoll } from "../usePoll";
import { JobGraph, JobResult } from "./JobGraph";

interface ParamSpec {
  name: string;
  kind: "int" | "float" | "str" | "text";
  default: string | number;
  help: string;
}

interface OpSpec {
  op: string;
  role: "source" | "map" | "filter" | "flatmap" | "sink";
  help: string;
  params: ParamSpec[];
}

interface Node {
  id: string;
  op: string;
  params: Record<string, string | number>;
  x: number;
  y: number;
}

interface Edge {
  from: string;
  to: string;
}

const NODE_W = 160;
const NODE_H = 56;

// The Builder: operators dragged from the palette onto the canvas, wired output to input,
// each with a form for its parameters; the pipeline is a spec (sage_client.pipeline_spec,
// what `sage pipeline run FILE` runs) that Run submits to the job manager.
export function Builder({ credential, admin, openJob }: { credential: string; admin: boolean; openJob?: string }) {
  const opened = usePoll<{ operators: { id: string; kind: string; name: string }[]; edges: { source: string; target: string }[] }>(
    credential,
    admin && openJob ? `/studio/api/jobs/${encodeURIComponent(openJob)}/graph` : null,
    "opening the job's graph",
  );
  const ops = usePoll<{ data: OpSpec[] }>(credential, admin ? "/studio/api/pipelines/ops" : null, "reading the operators");
  const [name, setName] = useState("my-pipeline");
  const [nodes, setNodes] = useState<Node[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [selected, setSelected] = useState("");
  const [wiring, setWiring] = useState("");
  const [dragging, setDragging] = useState<{ op?: string; id?: string; dx: number; dy: number } | null>(null);
  const [ghost, setGhost] = useState<{ x: number; y: number } | null>(null);
  const [runError, setRunError] = useState("");
  const [job, setJob] = useState("");
  const [specText, setSpecText] = useState("");
  const canvas = useRef<HTMLDivElement>(null);
  const counter = useRef(0);
  if (!admin) return <AdminOnly page="Builder" />;
  if (openJob) return <OpenedJob jobId={openJob} graph={opened.data} error={opened.error} />;
  const catalogue = ops.data?.data ?? [];
  const kindOf = (op: string) => catalogue.find((o) => o.op === op);

  const local = (e: { clientX: number; clientY: number }) => {
    const box = canvas.current!.getBoundingClientRect();
    return { x: e.clientX - box.left, y: e.clientY - box.top };
  };
  const startPalette = (op: string) => (e: ReactPointerEvent) => {
    e.preventDefault();
    setDragging({ op, dx: NODE_W / 2, dy: NODE_H / 2 });
  };
  const startMove = (node: Node) => (e: ReactPointerEvent) => {
    e.preventDefault();
    const p = local(e);
    setDragging({ id: node.id, dx: p.x - node.x, dy: p.y - node.y });
    setSelected(node.id);
  };
  const onMove = (e: ReactPointerEvent) => {
    if (!dragging || !canvas.current) return;
    const p = local(e);
    if (dragging.id) {
      setNodes((ns) =>
        ns.map((n) => (n.id === dragging.id ? { ...n, x: Math.max(0, p.x - dragging.dx), y: Math.max(0, p.y - dragging.dy) } : n)),
      );
    } else setGhost({ x: p.x - dragging.dx, y: p.y - dragging.dy });
  };
  const onUp = (e: ReactPointerEvent) => {
    if (dragging?.op && canvas.current) {
      const box = canvas.current.getBoundingClientRect();
      const inside = e.clientX >= box.left && e.clientX <= box.right && e.clientY >= box.top && e.clientY <= box.bottom;
      const kind = kindOf(dragging.op);
      if (inside && kind) {
        const p = local(e);
        counter.current += 1;
        const id = `${kind.op.split(".")[1]}-${counter.current}`;
        const params = Object.fromEntries(kind.params.map((q) => [q.name, q.default]));
        setNodes((ns) => [...ns, { id, op: kind.op, params, x: Math.max(0, p.x - NODE_W / 2), y: Math.max(0, p.y - NODE_H / 2) }]);
        setSelected(id);
      }
    }
    setDragging(null);
    setGhost(null);
  };
  const clickOut = (id: string) => setWiring(wiring === id ? "" : id);
  const clickIn = (id: string) => {
    if (!wiring || wiring === id) return;
    setEdges((es) => [...es.filter((e) => e.to !== id), { from: wiring, to: id }]); // one input each
    setWiring("");
  };
  const remove = (id: string) => {
    setNodes((ns) => ns.filter((n) => n.id !== id));
    setEdges((es) => es.filter((e) => e.from !== id && e.to !== id));
    setSelected("");
  };
  const setParam = (id: string, param: ParamSpec, raw: string) =>
    setNodes((ns) =>
      ns.map((n) =>
        n.id === id ? { ...n, params: { ...n.params, [param.name]: param.kind === "int" || param.kind === "float" ? Number(raw) : raw } } : n,
      ),
    );
  const spec = () => ({
    name,
    operators: nodes.map((n) => ({ id: n.id, op: n.op, params: n.params, x: Math.round(n.x), y: Math.round(n.y) })),
    edges,
  });
  const run = async () => {
    setRunError("");
    setJob("");
    try {
      const submitted = await call<{ id: string }>(credential, "/studio/api/pipelines/run", "running the pipeline", {
        method: "POST",
        body: JSON.stringify(spec()),
      });
      setJob(submitted.id);
    } catch (err) {
      setRunError((err as Error).message);
    }
  };
  const loadSpec = () => {
    try {
      const data = JSON.parse(specText);
      setName(data.name ?? "pipeline");
      setNodes(
        (data.operators ?? []).map((o: Node, i: number) => ({ ...o, params: o.params ?? {}, x: o.x ?? 20 + i * 190, y: o.y ?? 40 })),
      );
      setEdges(data.edges ?? []);
      setRunError("");
    } catch (err) {
      setRunError(`the spec is not valid JSON: ${(err as Error).message}`);
    }
  };
  const at = new Map(nodes.map((n) => [n.id, n]));
  const chosen = nodes.find((n) => n.id === selected);
  const chosenKind = chosen && kindOf(chosen.op);
  return (
    <div data-testid="builder" onPointerMove={onMove} onPointerUp={onUp}>
      <h2>Builder</h2>
      {ops.error && <p className="error">{ops.error}</p>}
      <div className="builder">
        <aside className="palette" data-testid="palette">
          {catalogue.map((o) => (
            <div key={o.op} className={`palette-op ${o.role}`} title={o.help} onPointerDown={startPalette(o.op)} data-testid={`palette-${o.op}`}>
              {o.op}
            </div>
          ))}
        </aside>
        <div className="canvas" ref={canvas} data-testid="canvas">
          {nodes.length === 0 && <p className="muted hint">Drag operators here, then wire an output (●) to an input (○).</p>}
          <svg className="wires">
            {edges.map((e) => {
              const a = at.get(e.from);
              const b = at.get(e.to);
              return a && b ? (
                <line key={`${e.from}-${e.to}`} x1={a.x + NODE_W} y1={a.y + NODE_H / 2} x2={b.x} y2={b.y + NODE_H / 2} className="edge" data-testid="wire" />
              ) : null;
            })}
          </svg>
          {nodes.map((n) => {
            const kind = kindOf(n.op);
            return (
              <div
                key={n.id}
                className={`canvas-node ${kind?.role ?? ""} ${n.id === selected ? "selected" : ""}`}
                style={{ left: n.x, top: n.y, width: NODE_W, height: NODE_H }}
                data-testid="canvas-node"
                data-node={n.id}
              >
                {kind?.role !== "source" && (
                  <button className={`port in ${wiring ? "armed" : ""}`} onClick={() => clickIn(n.id)} data-testid={`in-${n.id}`} title="input">
                    ○
                  </button>
                )}
                <div className="node-head" onPointerDown={startMove(n)}>
                  <b>{n.id}</b>
                  <div className="muted small">{n.op}</div>
                </div>
                {kind?.role !== "sink" && (
                  <button className={`port out ${wiring === n.id ? "armed" : ""}`} onClick={() => clickOut(n.id)} data-testid={`out-${n.id}`} title="output">
                    ●
                  </button>
                )}
              </div>
            );
          })}
          {ghost && dragging?.op && (
            <div className="canvas-node ghost" style={{ left: ghost.x, top: ghost.y, width: NODE_W, height: NODE_H }}>
              {dragging.op}
            </div>
          )}
        </div>
        <aside className="inspector" data-testid="inspector">
          <label>
            Name <input value={name} onChange={(e) => setName(e.target.value)} data-testid="pipeline-name" />
          </label>
          {chosen && chosenKind && (
            <div className="card">
              <b>{chosen.id}</b> <span className="muted">{chosenKind.help}</span>
              {chosenKind.params.map((p) => (
                <label key={p.name} className="param">
                  {p.name}
                  {p.kind === "text" ? (
                    <textarea value={String(chosen.params[p.name] ?? "")} onChange={(e) => setParam(chosen.id, p, e.target.value)} data-testid={`param-${p.name}`} />
                  ) : (
                    <input
                      type={p.kind === "str" ? "text" : "number"}
                      value={String(chosen.params[p.name] ?? "")}
                      onChange={(e) => setParam(chosen.id, p, e.target.value)}
                      data-testid={`param-${p.name}`}
                    />
                  )}
                  <span className="muted small">{p.help}</span>
                </label>
              ))}
              <button onClick={() => remove(chosen.id)}>Remove</button>
            </div>
          )}
          <div className="toolbar">
            <button onClick={run} disabled={nodes.length === 0} data-testid="run-pipeline">
              Run
            </button>
            <button onClick={() => setSpecText(JSON.stringify(spec(), null, 2))} data-testid="show-spec">
              Spec
            </button>
            <button onClick={loadSpec} disabled={!specText.trim()}>
              Load
            </button>
          </div>
          <textarea className="spec" value={specText} onChange={(e) => setSpecText(e.target.value)} placeholder="the pipeline spec (JSON): Spec shows it, Load opens one" data-testid="spec" />
          {runError && (
            <p className="error" data-testid="run-error">
              {runError}
            </p>
          )}
        </aside>
      </div>
      {job && (
        <section className="card" data-testid="builder-job">
          <h3>Job {job}</h3>
          <BuilderJob credential={credential} jobId={job} />
        </section>
      )}
    </div>
  );
}

function BuilderJob({ credential, jobId }: { credential: string; jobId: string }) {
  const job = usePoll<{ state: string; error: string }>(credential, `/studio/api/jobs/${encodeURIComponent(jobId)}`, "reading the job", 1000);
  const state = job.data?.state ?? "…";
  return (
    <>
      <p>
        State: <b data-testid="builder-job-state">{state}</b>
        {job.data?.error && <span className="error"> {job.data.error}</span>}
      </p>
      <JobGraph credential={credential} jobId={jobId} />
      {state === "succeeded" && <JobResult credential={credential} jobId={jobId} />}
    </>
  );
}

// A submitted job's graph on the canvas, laid out by depth: what ran, read-only (a job built in
// Python has functions the catalogue does not know, so it opens as its shape).
function OpenedJob({
  jobId,
  graph,
  error,
}: {
  jobId: string;
  graph: { operators: { id: string; kind: string; name: string }[]; edges: { source: string; target: string }[] } | null;
  error: string;
}) {
  if (error) return <p className="error">{error}</p>;
  if (!graph) return <p className="muted">Opening job {jobId}…</p>;
  const depth = new Map(graph.operators.map((o) => [o.id, 0]));
  for (let pass = 0; pass < graph.operators.length; pass++)
    for (const e of graph.edges) depth.set(e.target, Math.max(depth.get(e.target) ?? 0, (depth.get(e.source) ?? 0) + 1));
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const o of graph.operators) {
    const d = depth.get(o.id) ?? 0;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    at.set(o.id, { x: 20 + d * (NODE_W + 60), y: 30 + r * (NODE_H + 24) });
  }
  return (
    <div data-testid="builder-opened">
      <h2>Builder: job {jobId}</h2>
      <p className="muted">
        The graph this job runs, read-only. <a href="#/builder">A new pipeline</a>
      </p>
      <div className="canvas" data-testid="canvas">
        <svg className="wires">
          {graph.edges.map((e) => {
            const a = at.get(e.source);
            const b = at.get(e.target);
            return a && b ? (
              <line key={`${e.source}-${e.target}`} x1={a.x + NODE_W} y1={a.y + NODE_H / 2} x2={b.x} y2={b.y + NODE_H / 2} className="edge" data-testid="wire" />
            ) : null;
          })}
        </svg>
        {graph.operators.map((o) => (
          <div key={o.id} className={`canvas-node ${o.kind}`} style={{ left: at.get(o.id)!.x, top: at.get(o.id)!.y, width: NODE_W, height: NODE_H }} data-testid="canvas-node">
            <div className="node-head">
              <b>{o.name}</b>
              <div className="muted small">{o.kind}</div>
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}

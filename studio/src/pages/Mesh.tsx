import { useEffect, useRef, useState } from "react";
import { AdminOnly, usePoll } from "../usePoll";

interface Instance {
  service: string;
  instance: string;
  address: string;
  version: string;
  health: string;
  protocol: string;
  start_time?: number | null;
  calls?: number;
  errors?: number;
  latency_buckets?: [number | null, number][];
  metrics_error?: string;
}

interface Reply {
  data: Instance[];
  sampled_at: number;
}

interface Window {
  callsPerSecond: number;
  p50: number | null;
  p99: number | null;
}

// The q-quantile of the calls between two reads, from the difference of cumulative histogram
// buckets, interpolated inside its bucket (as Prometheus's histogram_quantile does).
export function quantile(q: number, now: [number | null, number][], before: [number | null, number][]) {
  const old = new Map(before.map(([b, n]) => [b, n]));
  const counts = now.map(([b, n]) => [b, n - (old.get(b) ?? 0)] as [number | null, number]);
  const total = counts.length ? counts[counts.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [bound, n] of counts) {
    if (n >= rank) {
      if (bound === null) return lower; // past the last finite bound: its lower edge
      return lower + ((bound - lower) * (rank - below)) / Math.max(n - below, 1e-9);
    }
    if (bound !== null) lower = bound;
    below = n;
  }
  return lower;
}

const key = (r: Instance) => `${r.service}/${r.instance}`;

function uptime(start: number | null | undefined, now: number) {
  if (!start) return "—";
  const s = Math.max(0, Math.round(now - start));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const ms = (seconds: number | null) =>
  seconds === null ? "—" : seconds < 0.01 ? `${(seconds * 1000).toFixed(2)} ms` : `${(seconds * 1000).toFixed(1)} ms`;

export function Mesh({ credential, admin }: { credential: string; admin: boolean }) {
  const { data, error, loading } = usePoll<Reply>(
    credential,
    admin ? "/studio/api/mesh" : null,
    "reading the mesh",
    2000,
  );
  const previous = useRef<Reply | null>(null);
  const [windows, setWindows] = useState<Record<string, Window>>({});
  useEffect(() => {
    const before = previous.current;
    if (data && before && data.sampled_at > before.sampled_at) {
      const dt = data.sampled_at - before.sampled_at;
      const old = new Map(before.data.map((r) => [key(r), r]));
      const next: Record<string, Window> = {};
      for (const r of data.data) {
        const was = old.get(key(r));
        if (!was || r.calls === undefined || was.calls === undefined) continue;
        if (r.start_time !== was.start_time) continue; // restarted: its counters began again
        next[key(r)] = {
          callsPerSecond: Math.max(0, (r.calls - was.calls) / dt),
          p50: quantile(0.5, r.latency_buckets ?? [], was.latency_buckets ?? []),
          p99: quantile(0.99, r.latency_buckets ?? [], was.latency_buckets ?? []),
        };
      }
      setWindows(next);
    }
    if (data) previous.current = data;
  }, [data]);
  if (!admin) return <AdminOnly page="Mesh" />;
  const rows = data?.data ?? [];
  const healthy = rows.filter((r) => r.health === "SERVING").length;
  return (
    <div data-testid="mesh">
      <h2>Mesh</h2>
      {loading && !data && <p className="muted">Loading instances from etcd…</p>}
      {error && (
        <p className="error" data-testid="mesh-error">
          {error}
        </p>
      )}
      {data && rows.length === 0 && (
        <p className="muted">No instance is registered in etcd: start the mesh (`sage mesh up`).</p>
      )}
      {rows.length > 0 && (
        <>
          <p className="muted" data-testid="mesh-summary">
            {healthy} of {rows.length} instances serving
          </p>
          <table>
            <thead>
              <tr>
                <th>Service</th>
                <th>Instance</th>
                <th>Address</th>
                <th>Version</th>
                <th>Health</th>
                <th>Uptime</th>
                <th>Calls/s</th>
                <th>p50</th>
                <th>p99</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.service}/${r.instance}`} data-testid="instance">
                  <td>{r.service}</td>
                  <td>{r.instance}</td>
                  <td>
                    <code>{r.address}</code>
                  </td>
                  <td>{r.version}</td>
                  <td className={r.health === "SERVING" ? "ok" : "bad"} data-testid="health">
                    {r.health}
                  </td>
                  <td data-testid="uptime">{uptime(r.start_time, data?.sampled_at ?? 0)}</td>
                  {r.metrics_error ? (
                    <td colSpan={3} className="muted" title={r.metrics_error}>
                      no metrics
                    </td>
                  ) : (
                    <>
                      <td data-testid="calls-per-s">
                        {windows[key(r)] ? windows[key(r)].callsPerSecond.toFixed(1) : "—"}
                      </td>
                      <td data-testid="p50">{ms(windows[key(r)]?.p50 ?? null)}</td>
                      <td data-testid="p99">{ms(windows[key(r)]?.p99 ?? null)}</td>
                    </>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

import { useState } from "react";
import { call } from "../api";
import { usePoll } from "../usePoll";

interface Series {
  metric: string;
  tags: Record<string, string>;
  points: number;
  first_timestamp_ms: number;
  last_timestamp_ms: number;
}

interface Chart {
  metric: string;
  tags: Record<string, string>;
  window_ms: number;
  points: [number, number][];
}

const W = 640;
const H = 200;
const PAD = 40;
const tagText = (tags: Record<string, string>) =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ") || "—";
const stamp = (ms: number) => new Date(ms).toLocaleString();

// The TSDB's series, and a chart of the one picked: its whole span as window averages.
export function TsdbView({ credential }: { credential: string }) {
  const series = usePoll<{ data: Series[] }>(credential, "/studio/api/tsdb/series", "listing series");
  const [chart, setChart] = useState<Chart | null>(null);
  const [error, setError] = useState("");
  const open = async (s: Series) => {
    setError("");
    try {
      setChart(
        await call<Chart>(credential, "/studio/api/tsdb/chart", "drawing the series", {
          method: "POST",
          body: JSON.stringify({ metric: s.metric, tags: s.tags }),
        }),
      );
    } catch (err) {
      setError((err as Error).message);
      setChart(null);
    }
  };
  const rows = series.data?.data ?? [];
  return (
    <section data-testid="tsdb-view">
      <h2>Data: time series</h2>
      {series.loading && <p className="muted">Loading series…</p>}
      {series.error && <p className="error">{series.error}</p>}
      {series.data && rows.length === 0 && (
        <p className="muted" data-testid="tsdb-empty">
          No series yet: write points with <code>sage tsdb write</code> or the SDK.
        </p>
      )}
      {rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Metric</th>
              <th>Tags</th>
              <th>Points</th>
              <th>From</th>
              <th>To</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr
                key={s.metric + tagText(s.tags)}
                className="clickable"
                onClick={() => open(s)}
                data-testid="series"
              >
                <td>{s.metric}</td>
                <td>{tagText(s.tags)}</td>
                <td>{s.points}</td>
                <td>{stamp(s.first_timestamp_ms)}</td>
                <td>{stamp(s.last_timestamp_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && <p className="error">{error}</p>}
      {chart && <SeriesChart chart={chart} />}
    </section>
  );
}

function SeriesChart({ chart }: { chart: Chart }) {
  const pts = chart.points;
  if (pts.length === 0) return <p className="muted">No point in this series' span.</p>;
  const t0 = pts[0][0];
  const t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  const values = pts.map((p) => p[1]);
  const lo = Math.min(...values);
  const hi = Math.max(Math.max(...values), lo + 1e-9);
  const x = (t: number) => PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD);
  const y = (v: number) => H - PAD / 2 - ((v - lo) / (hi - lo)) * (H - PAD);
  const line = pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <figure className="card" data-testid="series-chart">
      <figcaption>
        {chart.metric} {tagText(chart.tags)}: {pts.length} windows of {chart.window_ms} ms (average)
      </figcaption>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label="the series over time">
        <line x1={PAD} y1={H - PAD / 2} x2={W - PAD} y2={H - PAD / 2} className="axis" />
        <text x={2} y={y(hi) + 4} className="tick">
          {hi.toPrecision(4)}
        </text>
        <text x={2} y={y(lo) + 4} className="tick">
          {lo.toPrecision(4)}
        </text>
        <polyline points={line} className="series-line" data-testid="series-line" />
      </svg>
    </figure>
  );
}

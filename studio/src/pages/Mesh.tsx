import { AdminOnly, usePoll } from "../usePoll";

interface Instance {
  service: string;
  instance: string;
  address: string;
  version: string;
  health: string;
  protocol: string;
}

export function Mesh({ credential, admin }: { credential: string; admin: boolean }) {
  const { data, error, loading } = usePoll<{ data: Instance[] }>(
    credential,
    admin ? "/studio/api/mesh" : null,
    "reading the mesh",
    2000,
  );
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
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

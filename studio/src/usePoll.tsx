import { useEffect, useState } from "react";
import { call } from "./api";

// A JSON route read now and every `everyMs` (0: once): its data, its error, and whether it loads.
export function usePoll<T>(credential: string, path: string | null, what: string, everyMs = 0) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(Boolean(path));
  useEffect(() => {
    if (!path) return;
    let live = true;
    const load = () =>
      call<T>(credential, path, what)
        .then((d) => live && (setData(d), setError("")))
        .catch((e) => live && setError((e as Error).message))
        .finally(() => live && setLoading(false));
    setLoading(true);
    load();
    const timer = everyMs ? setInterval(load, everyMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [credential, path, what, everyMs]);
  return { data, error, loading };
}

export function AdminOnly({ page }: { page: string }) {
  return (
    <p className="muted" data-testid="admin-only">
      The {page} page shows the mesh's internals: it needs an admin key or a token with the{" "}
      <code>admin</code> scope.
    </p>
  );
}

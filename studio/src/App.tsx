import { useEffect, useState } from "react";
import { Me, call, saveCredential, savedCredential } from "./api";
import { SignIn } from "./pages/SignIn";
import { Chat } from "./pages/Chat";
import { Mesh } from "./pages/Mesh";
import { Jobs } from "./pages/Jobs";
import { Data } from "./pages/Data";
import { Builder } from "./pages/Builder";

const PAGES = ["chat", "builder", "mesh", "jobs", "data"] as const;
type Page = (typeof PAGES)[number];

function pageOf(hash: string): Page {
  const name = hash.replace(/^#\/?/, "").split("/")[0];
  return (PAGES as readonly string[]).includes(name) ? (name as Page) : "chat";
}

// #/builder/<job id> opens that job's graph on the Builder's canvas
function jobInHash(hash: string): string | undefined {
  const parts = hash.replace(/^#\/?/, "").split("/");
  return parts[0] === "builder" && parts[1] ? decodeURIComponent(parts[1]) : undefined;
}

export function App() {
  const [credential, setCredential] = useState(savedCredential());
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(Boolean(credential));
  const [hash, setHash] = useState(location.hash);
  const page = pageOf(hash);

  useEffect(() => {
    const onHash = () => setHash(location.hash);
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (!credential || me) return;
    call<Me>(credential, "/studio/api/me", "sign-in")
      .then(setMe)
      .catch(() => {
        saveCredential("");
        setCredential("");
      })
      .finally(() => setChecking(false));
  }, [credential, me]);

  if (checking) return <div className="center muted">Checking your credential…</div>;
  if (!credential || !me)
    return (
      <SignIn
        onSignedIn={(value, who) => {
          saveCredential(value);
          setCredential(value);
          setMe(who);
        }}
      />
    );

  const signOut = () => {
    saveCredential("");
    setCredential("");
    setMe(null);
  };
  return (
    <div className="shell">
      <nav className="nav">
        <span className="brand">SAGE Studio</span>
        {PAGES.map((p) => (
          <a
            key={p}
            href={`#/${p}`}
            data-testid={`nav-${p}`}
            className={p === page ? "active" : ""}
          >
            {p[0].toUpperCase() + p.slice(1)}
          </a>
        ))}
        <span className="spacer" />
        <span className="who" data-testid="who">
          {me.user}
          {me.admin ? " (admin)" : ""}
        </span>
        <button onClick={signOut} data-testid="sign-out">
          Sign out
        </button>
      </nav>
      <main className="main">
        {page === "chat" && <Chat credential={credential} />}
        {page === "mesh" && <Mesh credential={credential} admin={me.admin} />}
        {page === "jobs" && <Jobs credential={credential} admin={me.admin} />}
        {page === "data" && <Data credential={credential} admin={me.admin} />}
        {page === "builder" && (
          <Builder credential={credential} admin={me.admin} openJob={jobInHash(hash)} key={hash} />
        )}
      </main>
    </div>
  );
}

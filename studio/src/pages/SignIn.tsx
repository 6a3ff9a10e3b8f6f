import { FormEvent, useState } from "react";
import { Me, call } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: (credential: string, me: Me) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const credential = value.trim();
    if (!credential) {
      setError("Paste an API key (sk-sage-…) or a JWT.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      onSignedIn(credential, await call<Me>(credential, "/studio/api/me", "sign-in"));
    } catch (err) {
      setError(String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="signin" onSubmit={submit} data-testid="signin">
      <h1>SAGE Studio</h1>
      <p className="muted">
        Sign in with an API key of the gateway (<code>sage keys create --user NAME</code>) or a JWT.
      </p>
      <input
        type="password"
        autoFocus
        placeholder="sk-sage-… or a JWT"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        data-testid="credential"
      />
      <button type="submit" disabled={busy} data-testid="sign-in">
        {busy ? "Signing in…" : "Sign in"}
      </button>
      {error && (
        <p className="error" data-testid="signin-error">
          {error}
        </p>
      )}
    </form>
  );
}

import { useQueryClient } from "@tanstack/react-query";
import { useRouter } from "@tanstack/react-router";
import { useRef, useState, type FormEvent } from "react";
import { api, isUnauthorized } from "../api/client";
import { setApiKey } from "../api/session";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeading } from "../components/PageHeading";

const REASONS: Record<string, string> = {
  expired: "Your API key was not accepted any more (it may have been revoked). Sign in again to continue.",
  "signed-out": "You are signed out. The API key was removed from this browser session.",
};

/** Only same-site paths: a crafted `?redirect=https://evil` must not send a freshly signed-in person elsewhere. */
function safeRedirect(target: string | undefined): string {
  return target && target.startsWith("/") && !target.startsWith("//") ? target : "/workspaces";
}

export function SignInPage({ reason, redirect }: { reason?: string; redirect?: string }) {
  const router = useRouter();
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const candidate = key.trim();
    if (!candidate) {
      setError(new Error("Enter an API key."));
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Try the key before keeping it, so a typo is a message here rather than a broken workspace page.
      await api.listWorkspaces(candidate);
      setApiKey(candidate);
      queryClient.clear();
      router.history.push(safeRedirect(redirect));
    } catch (e) {
      setError(isUnauthorized(e) ? new Error("That API key was not accepted. Check it and try again.") : e);
      setBusy(false);
      // The button was disabled while trying; give focus back to the field to correct.
      input.current?.focus();
    }
  }

  const notice = reason ? REASONS[reason] : undefined;
  return (
    <main id="main" className="container narrow">
      <PageHeading title="Sign in to modelvet">
        Use an API key from your modelvet administrator, or the bootstrap key printed when the server first started.
      </PageHeading>
      {notice && (
        <p role="status" className={`notice ${reason === "expired" ? "notice-error" : ""}`}>
          {notice}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          ref={input}
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby="key-help"
        />
        <small id="key-help">Kept only for this browser session; closing the tab or signing out forgets it.</small>
        <ErrorNotice error={error} title="Could not sign in" />
        <button type="submit" aria-busy={busy} disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

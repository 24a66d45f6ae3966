// The API key lives in sessionStorage: it survives reloads and SPA navigation but not the browser session, and it
// is never written to localStorage or a cookie, so closing the tab (or signing out) forgets it.
const STORAGE_KEY = "modelvet.apiKey";

export function getApiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage can be disabled (privacy modes); the person then simply stays signed out.
    return null;
  }
}

export function setApiKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function clearApiKey(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored, nothing to forget.
  }
}

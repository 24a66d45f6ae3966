import { ModelvetError, ModelvetTimeoutError } from "./errors.js";

export const SDK_VERSION = "0.1.0";
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * `https://host`, `http://localhost:8080/`, `host:8080` or `…/api/v1` → the server's base URL. Without a scheme,
 * loopback hosts get http and every other host https.
 */
export function normaliseDomain(domain: string): string {
  let base = typeof domain === "string" ? domain.trim().replace(/\/+$/, "") : "";
  if (!base) throw new TypeError("domain must be the server's address, e.g. 'http://localhost:8080'");
  if (!base.includes("://")) {
    const host = new URL(`http://${base}`).hostname;
    base = `${LOCAL_HOSTS.has(host) ? "http" : "https"}://${base}`;
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new TypeError(`domain must be an http(s) address, got ${JSON.stringify(domain)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`domain must be an http(s) address, got ${JSON.stringify(domain)}`);
  }
  return base.replace(/\/api\/v1$/, "");
}

/** An id as one URL path segment, so no id can reach another route. */
export function seg(value: string, what: string): string {
  if (typeof value !== "string" || value === "") throw new TypeError(`${what} must be a non-empty string`);
  return encodeURIComponent(value);
}

/** The one place that speaks HTTP: JSON in and out, the API key, time limits and error mapping. */
export class Transport {
  readonly base: string;
  // A private field: the key stays out of JSON.stringify, console.log and util.inspect of the client.
  readonly #key: string;

  constructor(
    domain: string,
    apiKey: string,
    readonly timeoutMs: number,
    private readonly fetchImpl: typeof fetch,
  ) {
    if (typeof apiKey !== "string" || apiKey === "") throw new TypeError("apiKey must be a non-empty string");
    if (!(timeoutMs > 0)) throw new TypeError("timeoutMs must be a positive number of milliseconds");
    this.base = normaliseDomain(domain);
    this.#key = apiKey;
  }

  async request<T>(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<T> {
    const url = `${this.base}/api/v1${path}${query ? `?${new URLSearchParams(query).toString()}` : ""}`;
    const where = `${method} ${path}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#key}`,
      accept: "application/json",
      "user-agent": `modelvet-sdk-typescript/${SDK_VERSION}`,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // The API never redirects; following one would hand the bearer key to whatever host Location names.
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      if (err.name === "TimeoutError" || err.name === "AbortError") {
        throw new ModelvetTimeoutError(`${where}: no answer from ${this.base} within ${this.timeoutMs} ms`);
      }
      const cause = (err.cause as Error | undefined)?.message ?? err.message;
      throw new ModelvetError(this.scrub(`${where}: could not reach ${this.base} (${cause})`));
    }
    if (res.status >= 300 || res.type === "opaqueredirect") throw this.httpError(res, text, where);
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ModelvetError(`${where}: the server answered something that is not JSON`, res.status);
    }
  }

  private httpError(res: Response, text: string, where: string): ModelvetError {
    let code: string | undefined;
    let message: string | undefined;
    try {
      const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (typeof parsed?.error === "string") code = parsed.error;
      if (typeof parsed?.message === "string") message = parsed.message;
    } catch {
      // not JSON (a proxy's HTML page): fall back to the status line
    }
    if (res.status >= 300 && res.status < 400) {
      message = "the server answered with a redirect, which the SDK does not follow; check the domain";
    }
    message ??= `${where} failed with HTTP ${res.status} ${res.statusText}`.trim();
    return new ModelvetError(this.scrub(message), res.status, code);
  }

  /** Belt and braces: whatever a server or proxy echoes back, the key never reaches a message or a log. */
  private scrub(text: string): string {
    return text.split(this.#key).join("[api key]");
  }
}

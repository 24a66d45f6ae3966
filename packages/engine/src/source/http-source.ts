import type { ByteSource } from "./byte-source.js";

/** Raised when a remote object cannot be read as asked; the message names the URL's path and what went wrong. */
export class RemoteReadError extends Error {}

/** Limits the number of HTTP requests in flight across every source of a scan. */
export class RequestGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit = 8) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export interface HttpSourceOptions {
  /** Bearer token, sent only to `tokenOrigin` (the Hub), never to the storage host a redirect points to. */
  token?: string;
  tokenOrigin?: string;
  fetch?: typeof fetch;
  gate?: RequestGate;
  /** Attempts for 429/5xx and network errors, with exponential backoff. */
  retries?: number;
  /** Called with the number of body bytes each response transferred. */
  onTransfer?: (bytes: number) => void;
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 5;

/**
 * A remote object read with HTTP Range requests. Every read checks that the server honoured the range (206 and a
 * Content-Range naming the expected total size) and that the object did not change between reads (same ETag).
 * The Hub answers LFS files with a redirect to a storage host: redirects are followed by hand so the token never
 * leaves the Hub's origin, and the final URL is reused for later reads.
 */
export class HttpRangeSource implements ByteSource {
  bytesRead = 0;
  private resolvedUrl: string | undefined;
  private etag: string | undefined;

  constructor(
    readonly url: string,
    readonly size: number,
    readonly name: string,
    private readonly options: HttpSourceOptions = {},
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset >= this.size || length <= 0) return new Uint8Array(0);
    const end = Math.min(this.size, offset + length) - 1;
    const gate = this.options.gate ?? new RequestGate(1);
    return gate.run(() => this.readWithRetries(offset, end));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async readWithRetries(start: number, end: number): Promise<Uint8Array> {
    const attempts = (this.options.retries ?? 4) + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readOnce(start, end);
      } catch (e) {
        const retryAfter = e instanceof RetryableError ? e.retryAfterMs : e instanceof RemoteReadError ? undefined : 0;
        if (retryAfter === undefined || attempt >= attempts)
          throw e instanceof RetryableError ? new RemoteReadError(e.message) : e;
        // A signed storage URL may have expired: resolve again from the Hub URL.
        this.resolvedUrl = undefined;
        await sleep(Math.min(10_000, Math.max(retryAfter, 250 * 2 ** (attempt - 1))));
      }
    }
  }

  private async readOnce(start: number, end: number): Promise<Uint8Array> {
    const response = await this.fetchRange(start, end);
    if (response.status === 200 && !(start === 0 && end === this.size - 1)) {
      await response.body?.cancel();
      throw new RemoteReadError(
        `${this.name}: the server ignored the Range request (HTTP 200); refusing to download the whole file`,
      );
    }
    if (response.status !== 206 && response.status !== 200) {
      await response.body?.cancel();
      throw new RemoteReadError(`${this.name}: HTTP ${response.status} for bytes ${start}-${end}`);
    }
    if (response.status === 206) this.checkContentRange(response.headers.get("content-range"), start, end);
    this.checkEtag(response.headers.get("etag"));
    const body = new Uint8Array(await response.arrayBuffer());
    this.bytesRead += body.length;
    this.options.onTransfer?.(body.length);
    if (body.length !== end - start + 1)
      throw new RemoteReadError(`${this.name}: expected ${end - start + 1} bytes, got ${body.length}`);
    return body;
  }

  /** GET with Range, following redirects by hand (the token goes only to its own origin). */
  private async fetchRange(start: number, end: number): Promise<Response> {
    const doFetch = this.options.fetch ?? fetch;
    let url = this.resolvedUrl ?? this.url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { Range: `bytes=${start}-${end}` };
      if (this.options.token && new URL(url).origin === (this.options.tokenOrigin ?? new URL(this.url).origin))
        headers.Authorization = `Bearer ${this.options.token}`;
      let response: Response;
      try {
        response = await doFetch(url, { headers, redirect: "manual" });
      } catch (e) {
        throw new RetryableError(`${this.name}: ${(e as Error).message}`, 0);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get("location")) {
        await response.body?.cancel();
        url = new URL(response.headers.get("location")!, url).href;
        continue;
      }
      if (RETRYABLE.has(response.status)) {
        await response.body?.cancel();
        throw new RetryableError(
          `${this.name}: HTTP ${response.status}`,
          retryAfterMs(response.headers.get("retry-after")),
        );
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel();
        throw new RemoteReadError(
          `${this.name}: HTTP ${response.status}: not authorised to read this file (check the token)`,
        );
      }
      if (response.status === 404) {
        await response.body?.cancel();
        throw new RemoteReadError(`${this.name}: HTTP 404: the file is gone`);
      }
      this.resolvedUrl = url;
      return response;
    }
    throw new RemoteReadError(`${this.name}: more than ${MAX_REDIRECTS} redirects`);
  }

  private checkContentRange(header: string | null, start: number, end: number): void {
    const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
    if (!m) throw new RemoteReadError(`${this.name}: 206 without a valid Content-Range (${header ?? "none"})`);
    if (Number(m[1]) !== start || Number(m[2]) !== end)
      throw new RemoteReadError(`${this.name}: asked for bytes ${start}-${end}, got ${m[1]}-${m[2]}`);
    if (m[3] !== "*" && Number(m[3]) !== this.size)
      throw new RemoteReadError(`${this.name}: the file is ${m[3]} bytes, the listing said ${this.size}`);
  }

  private checkEtag(etag: string | null): void {
    if (!etag) return;
    const normalized = etag.replace(/^W\//, "");
    if (this.etag === undefined) this.etag = normalized;
    else if (this.etag !== normalized)
      throw new RemoteReadError(`${this.name}: the file changed during the scan (ETag ${this.etag} → ${normalized})`);
  }
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

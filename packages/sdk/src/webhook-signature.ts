/** A signature whose timestamp is further than this from the receiver's clock is refused (replay). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export interface VerifyOptions {
  /** Default WEBHOOK_TOLERANCE_SECONDS. */
  toleranceSeconds?: number;
  /** The receiver's clock in unix seconds (tests). */
  nowSeconds?: number;
}

/**
 * Checks an `X-Modelvet-Signature: t=<unix>,v1=<hex>` header against the raw request body: `v1` must be the
 * HMAC-SHA256 of `<t>.<body>` under the webhook's secret, and `t` within the tolerance of now. Uses Web Crypto,
 * so it runs in Node and in browsers alike. Pass the body exactly as received, not re-serialised JSON.
 */
export async function verifyWebhookSignature(
  secret: string,
  rawBody: string,
  header: string,
  options: VerifyOptions = {},
): Promise<boolean> {
  const parts = new Map(header.split(",").map((p) => p.trim().split("=", 2) as [string, string]));
  const t = parts.get("t") ?? "";
  const v1 = parts.get("v1") ?? "";
  const now = options.nowSeconds ?? Date.now() / 1000;
  if (!/^\d+$/.test(t) || Math.abs(now - Number(t)) > (options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS))
    return false;
  if (!/^[0-9a-f]{64}$/.test(v1)) return false;
  const text = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", text.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "verify",
  ]);
  // subtle.verify compares in constant time.
  const mac = new Uint8Array(v1.match(/../g)!.map((h) => parseInt(h, 16)));
  return crypto.subtle.verify("HMAC", key, mac, text.encode(`${t}.${rawBody}`));
}

import { createHmac } from "node:crypto";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the X-Modelvet-Signature header. The timestamp is inside
 * the signed text, so a receiver refusing old timestamps (docs/API.md: 300 s) refuses replayed requests.
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

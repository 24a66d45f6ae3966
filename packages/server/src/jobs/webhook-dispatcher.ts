import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import type { SecretBox } from "../security/secret-box.js";
import { guardedLookup, parseWebhookUrl } from "../security/webhook-target.js";
import { signWebhook } from "../security/webhook-signature.js";
import { claimDelivery, recordAttempt, type ClaimedDelivery } from "../store/webhooks.js";
import { LeasedTask } from "./leased-task.js";

export interface DispatcherOptions {
  db: Kysely<Database>;
  box: SecretBox;
  log: Logger;
  /** Names this process as the holder of a claimed delivery. */
  owner: string;
  /** How often an idle dispatcher looks for due deliveries. */
  pollMs: number;
  /** Attempts before a delivery is given up. */
  maxAttempts: number;
  /** The wait after the first failed attempt; it doubles after each further one. */
  retryBaseMs: number;
  /** A receiver must answer within this time. */
  timeoutMs: number;
  /** Deliveries sent at once by this process, so one slow receiver does not hold up the others. */
  concurrency: number;
  allowPrivate: boolean;
}

/** The receiver's answer is read up to this much (for the log), the rest discarded. */
const MAX_ANSWER_BYTES = 1024;
/**
 * A claimed delivery not recorded within this time (its process died) is claimed again. It outlasts the whole
 * exchange (bounded by timeoutMs) with a wide margin, so a live sender's lease never lapses mid-send.
 */
const leaseMs = (timeoutMs: number): number => Math.max(60_000, timeoutMs + 50_000);

/**
 * Delivers queued webhook events. The deliveries live in the database (SQLite or PostgreSQL alike) and are
 * claimed with a lease, so every process may run a dispatcher: each delivery is sent by one process at a time,
 * and a crash mid-delivery only delays it. A process sends up to `concurrency` deliveries at once. A 2xx answer
 * delivers; anything else (another status, no answer, refused target) is retried after retryBaseMs·2^(attempt−1),
 * up to maxAttempts, then given up; every attempt is logged.
 */
export class WebhookDispatcher {
  private readonly task: LeasedTask<ClaimedDelivery>;

  constructor(private readonly options: DispatcherOptions) {
    this.task = new LeasedTask({
      claim: () => claimDelivery(options.db, options.box, options.owner, leaseMs(options.timeoutMs)),
      run: (delivery) => this.deliver(delivery),
      lanes: options.concurrency,
      idleMs: options.pollMs,
      onError: (e) => options.log.warn({ err: e }, "cannot deliver webhook events"),
    });
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { db, log, owner, maxAttempts, retryBaseMs } = this.options;
    const startedAt = new Date().toISOString();
    const answer = await this.post(delivery);
    const ok = answer.status !== null && answer.status >= 200 && answer.status < 300;
    const retry = !ok && delivery.attempt < maxAttempts;
    const retryAt = retry ? new Date(Date.now() + retryBaseMs * 2 ** (delivery.attempt - 1)).toISOString() : undefined;
    await recordAttempt(db, delivery, owner, {
      startedAt,
      status: answer.status,
      error: ok ? null : answer.error,
      ok,
      ...(retryAt ? { retryAt } : {}),
    });
    log.info(
      { delivery_id: delivery.id, attempt: delivery.attempt, status: answer.status, ok, retry_at: retryAt },
      ok ? "webhook delivered" : retry ? "webhook delivery failed; it is retried" : "webhook delivery given up",
    );
  }

  /** POSTs the signed event; the status, or null and why there was none. Never follows redirects. */
  private post(delivery: ClaimedDelivery): Promise<{ status: number | null; error: string }> {
    const t = Math.floor(Date.now() / 1000);
    let url: URL;
    try {
      url = parseWebhookUrl(delivery.url);
    } catch (e) {
      return Promise.resolve({ status: null, error: (e as Error).message });
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      // The whole exchange is bounded (not only each silence on the socket), so it ends well within the lease.
      const noAnswer = () => new Error(`no answer within ${this.options.timeoutMs} ms`);
      const deadline = setTimeout(() => req.destroy(noAnswer()), this.options.timeoutMs);
      const finish = (answer: { status: number | null; error: string }): void => {
        clearTimeout(deadline);
        resolve(answer);
      };
      const req = send(
        url,
        {
          method: "POST",
          lookup: guardedLookup(this.options.allowPrivate),
          timeout: this.options.timeoutMs,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(delivery.payload),
            "user-agent": "modelvet-webhooks/1",
            "x-modelvet-signature": signWebhook(delivery.secret, delivery.payload, t),
            "x-modelvet-delivery": delivery.id,
          },
        },
        (res) =>
          void readAnswer(res).then((text) => finish({ status: res.statusCode ?? null, error: describe(res, text) })),
      );
      req.on("timeout", () => req.destroy(noAnswer()));
      req.on("error", (e) => finish({ status: null, error: e.message }));
      req.end(delivery.payload);
    });
  }
}

function describe(res: IncomingMessage, text: string): string {
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400) return `the receiver redirected (${status}); redirects are not followed`;
  return `the receiver answered ${status}${text ? `: ${text.slice(0, 200)}` : ""}`;
}

/** The first MAX_ANSWER_BYTES of the answer; the rest is drained unread. */
function readAnswer(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (chunk: Buffer) => {
      if (size < MAX_ANSWER_BYTES) chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size));
      size += chunk.length;
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
    res.on("error", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
    // Cut off mid-answer (the deadline passed): what arrived is all there is.
    res.on("close", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
  });
}

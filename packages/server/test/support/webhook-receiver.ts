import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
}

/** A webhook receiver on loopback: records every request and answers the next planned status (then 200). */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly plan: number[] = [];
  private server?: Server;
  url = "";

  /** The next requests are answered with these statuses, in order. */
  answerNext(...statuses: number[]): void {
    this.plan.push(...statuses);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
        const status = this.plan.shift() ?? 200;
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "receiver is down");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  events(name: string): Array<Record<string, unknown>> {
    return this.received.map((r) => JSON.parse(r.body) as Record<string, unknown>).filter((e) => e.event === name);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A receiver that reads each request and never answers: records when each arrived and when its sender gave up. */
export class HangingReceiver {
  readonly arrived: number[] = [];
  readonly closed: number[] = [];
  private server?: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req) => {
      req.resume();
      req.on("end", () => this.arrived.push(Date.now()));
      req.socket.on("close", () => this.closed.push(Date.now()));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  /** Closes the port and every request still held open. */
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

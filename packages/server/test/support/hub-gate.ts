import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback proxy in front of a test Hub that can hold file downloads (`/resolve/` requests) until it is
 * opened. A scan that reached a held download is deterministically mid-scan: it has listed the repo and waits on
 * bytes, for as long as the test wants, without sleeps. Listings and model info pass straight through.
 */
export class HubGate {
  private server?: Server;
  private closed = true;
  private readonly waiting = new Set<() => void>();
  /** Downloads held right now (those of a killed process drop out when its socket closes). */
  held = 0;
  url = "";

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Lets every held and future download through. */
  open(): void {
    this.closed = false;
    for (const release of [...this.waiting]) release();
  }

  /** Holds downloads again from now on. */
  close(): void {
    this.closed = true;
  }

  async stop(): Promise<void> {
    this.open();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closed && req.url?.includes("/resolve/")) {
      const released = await this.hold(req);
      if (!released) return;
    }
    const upstream = httpRequest(
      new URL(req.url ?? "/", this.upstream),
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  }

  /** Waits until opened; false when the client went away first. */
  private hold(req: IncomingMessage): Promise<boolean> {
    return new Promise((resolve) => {
      this.held++;
      const done = (released: boolean): void => {
        if (!this.waiting.delete(release)) return;
        this.held--;
        resolve(released);
      };
      const release = (): void => done(true);
      this.waiting.add(release);
      req.socket.once("close", () => done(false));
    });
  }
}

// A TCP relay between one host's agent and one lookup server, so that the simulator can cut that
// host off from the lookup service the way a network partition would: `cut()` resets every relayed
// connection and refuses new ones, `heal()` lets them through again. Loopback only.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class CutProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Socket>();
  private severed = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<string> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return `127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.severed;
  }

  cut(): void {
    this.severed = true;
    for (const s of this.pairs) s.resetAndDestroy();
    this.pairs.clear();
  }

  heal(): void {
    this.severed = false;
  }

  async close(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.severed) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    this.pairs.add(client);
    this.pairs.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(client);
      this.pairs.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/**
 * A TCP proxy in front of a broker whose traffic can be held back in both directions. Holding it
 * lets a test freeze the conversation with acknowledgements still in flight both ways, so that
 * what the broker has acknowledged is also in its database before it is killed. After the kill
 * the test says so (`brokerKilled`): what was held is dropped with the connections, as a network
 * would drop it, so the clients never act on a broker state newer than the one it saved (waiting
 * for the proxy to notice the dead upstream itself could hand them what the dead broker sent).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

interface Pair {
  client: Socket;
  upstream: Socket;
  held: Buffer[];
  heldDown: Buffer[];
}

export class PausingProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #paused = false;
  #lastDown = Date.now();
  port = 0;

  private constructor(readonly target: number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: number): Promise<PausingProxy> {
    const p = new PausingProxy(target);
    await new Promise<void>((r) => p.#server.listen(0, "127.0.0.1", () => r()));
    p.port = (p.#server.address() as AddressInfo).port;
    return p;
  }

  #accept(client: Socket): void {
    const upstream = connect(this.target, "127.0.0.1");
    const pair: Pair = { client, upstream, held: [], heldDown: [] };
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (d) => (this.#paused ? pair.held.push(d) : upstream.write(d)));
    upstream.on("data", (d) => {
      this.#lastDown = Date.now();
      if (this.#paused) pair.heldDown.push(d);
      else client.write(d);
    });
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
  }

  /** Holds back what clients and the broker send each other. */
  pause(): void {
    this.#paused = true;
  }

  /**
   * The broker was killed while held: its connections end now, and what either side sent while
   * held is dropped (it never reached the other side, as when a host dies), then traffic flows again.
   */
  brokerKilled(): void {
    for (const p of this.#pairs) {
      p.held.length = 0;
      p.heldDown.length = 0;
      p.client.destroy();
      p.upstream.destroy();
    }
    this.#pairs.clear();
    this.#paused = false;
  }

  /**
   * Resolves once the broker has sent nothing for `ms`: with clients held back, it has then
   * processed everything it was given (there is no event for that; silence is the evidence).
   */
  async quiet(ms: number): Promise<void> {
    while (Date.now() - this.#lastDown < ms) await new Promise((r) => setTimeout(r, ms - (Date.now() - this.#lastDown) + 1));
  }

  async stop(): Promise<void> {
    for (const p of this.#pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

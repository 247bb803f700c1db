/**
 * The seam's TCP listener over `node:net`. Connections are accepted paused (`pauseOnConnect`)
 * and wait in a FIFO until the runtime takes one with `read()` and adopts it with
 * `Host.tcp({ from })`; until then they read nothing, so they cost no buffer memory.
 */
import * as net from "node:net";
import type { Listener, ListenerOptions, PendingConnection } from "../../src/host.js";
import { bindErrorReason, errorCode } from "./errors.js";
import { Queue } from "../../src/base/queue.js";
import { dropPending, markPending } from "./pending.js";

export class NodeListener implements Listener {
  readonly #server: net.Server;
  readonly #options: ListenerOptions;
  readonly #pending = new Queue<PendingConnection>();
  #closed = false;
  #listening = false;
  #port: number;
  #address: string;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#port = options.port;
    this.#address = options.address ?? "127.0.0.1";
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    this.#server = server;
    server.on("connection", this.#onConnection);
    server.on("listening", this.#onListening);
    server.on("error", this.#onError);
    server.listen(options.port, this.#address);
  }

  read(): PendingConnection | undefined {
    return this.#pending.shift();
  }

  /** Stops listening and closes the connections nobody took; taken ones stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const connection of this.#pending.drain()) dropPending(connection);
  }

  /** Connections accepted and not yet taken by `read()`. */
  get pending(): number {
    return this.#pending.length;
  }

  /** The bound port once listening (the requested one before). */
  get port(): number {
    return this.#port;
  }

  get address(): string {
    return this.#address;
  }

  #onConnection = (socket: net.Socket): void => {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#pending.push(markPending(socket));
    this.#options.onReadable?.(this.#pending.length);
  };

  #onListening = (): void => {
    if (this.#closed) return;
    this.#listening = true;
    const bound = this.#server.address();
    if (bound !== null && typeof bound === "object") {
      this.#port = bound.port;
      this.#address = bound.address;
    }
    this.#options.onReady?.();
  };

  /**
   * Before listening, the bind failed: the listener is dead. After, Node reports accept failures
   * (such as EMFILE) and keeps listening; they are passed on as well.
   */
  #onError = (error: Error): void => {
    if (this.#closed) return;
    if (!this.#listening) {
      this.#closed = true;
      this.#server.close();
    }
    this.#options.onError?.(bindErrorReason(errorCode(error)));
  };
}

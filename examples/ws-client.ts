/**
 * A WebSocket client that stays connected (the device app `manifests/wsclient`): it connects to
 * a `ws://` or `wss://` URL with `wsConnect`, sends a text message every `interval` ms, prints every message
 * that comes back, and after a close (the server's close frame, a dropped connection, a failed
 * connect or handshake) connects again `retryDelay` ms later. The connection's coroutine is one
 * cosocket that writes when a message is due and otherwise waits in `readMessage`.
 *
 * For `wss:`, `tls` holds the TLS options (`ca`, `verify`, …); without it the host's own trust
 * store decides (on the device: the CA certificates built into the app as resources). A server
 * the client does not trust fails with `sslnottrusted`, and is tried again like any failed connect.
 *
 * A URL that cannot work is not retried: `done` rejects. That is a bad or non-WebSocket URL
 * (`incorrectuse`) and `wss:` on a host without TLS (`sslnotenabled`: a platform without
 * Moddable's `embedded:io/socket/tcp/tls`).
 * (No desktop command here: a dynamic import of the node host would be a module the device
 * cannot resolve. test/examples/ws-client.node.test.ts runs it against `ws` on loopback.)
 */
import { decodeUtf8, isSocketError, type Runtime, type TLSOptions } from "../src/index.js";
import { wsConnect } from "../src/websocket/handshake.js";
import type { WebSocket, WebSocketOptions } from "../src/websocket/connection.js";
import { CLOSE_GOING_AWAY } from "../src/websocket/close.js";
import { print, type Log } from "./log.js";

export interface WsClientOptions extends WebSocketOptions {
  /** `ws://host[:port]/path` (or `wss://` where the host has TLS). */
  url: string;
  /** For `wss:`: the TLS options (e.g. `{ ca }`); default: the host's trust store, verified. */
  tls?: TLSOptions;
  /** ms between two messages; the first goes out once connected. Default 5000. */
  interval?: number;
  /** ms before connecting again after a close or a failure. Default 5000. */
  retryDelay?: number;
  /** ms for connecting and for the handshake (default: the runtime's connectTimeout). */
  timeout?: number;
  /** The text of the n-th message (n counts from 1 over all connections). */
  message?: (n: number) => string;
}

const defaultMessage = (n: number) => `hello ${n} from cosock`;

/** Failures another attempt cannot cure. */
function hopeless(e: unknown): boolean {
  return isSocketError(e, "incorrectuse") || isSocketError(e, "sslnotenabled");
}

const why = (e: unknown) => String((e as Error)?.message ?? e);

export class WsClientApp {
  readonly rt: Runtime;
  readonly url: string;
  readonly interval: number;
  readonly retryDelay: number;
  /** Handshakes completed so far. */
  connections = 0;
  /** Messages sent and received, over all connections. */
  sent = 0;
  received = 0;
  /** Settles when `stop()` was called; rejects when the URL cannot work (see above). */
  readonly done: Promise<void>;

  readonly #options: WsClientOptions;
  readonly #log: Log;
  #stopped = false;
  #ws: WebSocket | undefined;
  #wake: (() => void) | undefined;

  constructor(rt: Runtime, options: WsClientOptions, log: Log = print) {
    this.rt = rt;
    this.url = options.url;
    this.interval = options.interval ?? 5000;
    this.retryDelay = options.retryDelay ?? 5000;
    this.#options = options;
    this.#log = log;
    // The connection loop starts from a promise job of its own, not on top of the caller's
    // frames: on the device the caller is the app's main module, and the first connect
    // (wsConnect → httpRequest → Socket.connect, each an async function that runs on its
    // caller's stack until it first awaits) overflowed the lin simulator's 384-slot stack on top
    // of it (364 slots in use at Socket.connect, measured with mcsim; test/xs/apps.xs.ts).
    this.done = Promise.resolve().then(() => this.#run());
  }

  /** The connection now, if there is one. */
  get ws(): WebSocket | undefined {
    return this.#ws;
  }

  /** Closes the connection (1001, going away), stops reconnecting; resolves when all is closed. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    this.#ws?.close(CLOSE_GOING_AWAY).catch(() => undefined);
    return this.done.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const { url, interval: _i, retryDelay: _r, message: _m, ...wsOptions } = this.#options;
    while (!this.#stopped) {
      let ws: WebSocket;
      try {
        ws = await wsConnect(this.rt, url, wsOptions);
      } catch (e) {
        if (isSocketError(e, "sysshutdown")) return; // the runtime was shut down: nothing to retry
        if (hopeless(e)) {
          const tls = isSocketError(e, "sslnotenabled") ? " (wss: needs TLS, which this host does not have)" : "";
          this.#log(`${url}: ${why(e)}${tls}; not retrying`);
          throw e;
        }
        this.#log(`cannot connect to ${url}: ${why(e)}`);
        await this.#pause();
        continue;
      }
      this.connections++;
      this.#ws = ws;
      this.#log(`connected to ${url}`);
      if (this.#stopped) ws.close(CLOSE_GOING_AWAY).catch(() => undefined);
      await new Promise<void>((resolve) => {
        ws.event(async (w: WebSocket) => {
          try {
            await this.#session(w);
          } finally {
            this.#ws = undefined;
            resolve();
          }
        }, "s");
      });
      await this.#pause();
    }
  }

  /** The connection's coroutine: a message every `interval`, and whatever comes back. */
  async #session(ws: WebSocket): Promise<void> {
    const now = () => this.rt.host.now();
    const text = this.#options.message ?? defaultMessage;
    let next = now();
    try {
      for (;;) {
        if (!ws.closing && now() >= next) {
          const n = this.sent + 1;
          await ws.write(text(n));
          this.sent = n;
          next = now() + this.interval;
        }
        let m;
        try {
          m = await ws.readMessage(ws.closing ? undefined : Math.max(1, next - now()));
        } catch (e) {
          if (isSocketError(e, "timeout")) continue; // time for the next message
          throw e;
        }
        if (!m) break;
        this.received++;
        this.#log(`received: ${m.isText ? decodeUtf8(m.data) : `${m.data.length} binary bytes`}`);
      }
      if (this.#stopped) this.#log("closed");
      else this.#log(`closed by the server (${ws.closeCode}${ws.closeReason ? ` ${ws.closeReason}` : ""})`);
    } catch (e) {
      this.#log(`connection lost: ${why(e)}`);
    } finally {
      await ws.close().catch(() => undefined); // the close handshake (or what is left of it)
    }
  }

  /** Waits `retryDelay` ms, or less when stopped meanwhile. */
  #pause(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#log(`reconnecting in ${this.retryDelay} ms`);
    return new Promise((resolve) => {
      const wake = () => {
        this.#wake = undefined;
        resolve();
      };
      const cancel = this.rt.dispatcher.timer(this.retryDelay, wake);
      this.#wake = () => {
        cancel();
        wake();
      };
    });
  }
}

/** Starts the client; it runs until `stop()`. */
export function wsClientApp(rt: Runtime, options: WsClientOptions, log: Log = print): WsClientApp {
  return new WsClientApp(rt, options, log);
}

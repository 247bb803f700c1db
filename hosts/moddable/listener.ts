/**
 * The seam's TCP listener over Moddable's `embedded:io/socket/listener`.
 *
 * - lwIP binds synchronously and throws when it cannot ("socket bind"); the seam reports that
 *   through `onError` from a timer, like `onReady` on success.
 * - lwIP listens on every interface whatever `address` says; `address` is only reported back.
 * - Accepted connections wait in the platform (an unbounded list on lwIP) until `read()`.
 */
import type { Endpoint, Listener, ListenerOptions } from "../../src/host.js";
import type { PlatformListener, PlatformListenerFactory } from "./platform.js";
import { pending, type ModdablePending } from "./tcp.js";
import { closeQuietly } from "./closing.js";

export class ModdableListener implements Listener {
  #listener: PlatformListener | undefined;
  readonly #address: string;
  #port: number;
  #closed = false;

  constructor(platform: PlatformListenerFactory, options: ListenerOptions, defer: (fn: () => void) => void) {
    this.#address = options.address ?? "0.0.0.0";
    this.#port = options.port;
    let failure: string | undefined;
    try {
      this.#listener = platform({
        port: options.port,
        address: options.address,
        onReadable: (count) => {
          if (!this.#closed) options.onReadable?.(count);
        },
      });
      this.#port = this.#listener.port;
    } catch (e) {
      failure = bindFailure(e);
    }
    defer(() => {
      if (this.#closed) return;
      if (failure === undefined) options.onReady?.();
      else {
        this.#closed = true;
        options.onError?.(failure);
      }
    });
  }

  read(): ModdablePending | undefined {
    if (this.#closed || !this.#listener) return undefined;
    const socket = this.#listener.read();
    if (!socket) return undefined;
    const local: Endpoint = { address: this.#address, port: this.#port };
    return pending(socket, local);
  }

  /** Stops listening; connections not yet taken are closed by the platform. */
  close(): void {
    if (this.#closed && !this.#listener) return;
    this.#closed = true;
    const l = this.#listener;
    this.#listener = undefined;
    closeQuietly(l);
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return this.#address;
  }
}

/** The seam's reason for a bind that threw: "addrinuse" when the platform says bind. */
export function bindFailure(e: unknown): string {
  const message = String((e as Error)?.message ?? e);
  return /bind/i.test(message) ? "addrinuse" : message || "error";
}

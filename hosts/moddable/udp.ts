/**
 * The seam's UDP socket over Moddable's `embedded:io/socket/udp`.
 *
 * - The platform binds synchronously (throws "bind failed") on every interface.
 * - A platform UDP socket cannot tell its port. So for port 0 the host picks an ephemeral port
 *   itself (49152–65535, from a random start, the next one if taken), so that `local.port` is
 *   known: a server bound to "any port" can tell its peers where it is.
 * - Moddable's write takes (bytes, address, port), ECMA-419's order, and copies the bytes.
 * - Received datagrams wait in the platform (unbounded on lwIP) until read.
 */
import type { Datagram, Endpoint, UDP, UDPOptions } from "../../src/host.js";
import type { PlatformUDP, PlatformUDPFactory } from "./platform.js";
import { bindFailure } from "./listener.js";
import { closeQuietly } from "./closing.js";

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;
const BIND_TRIES = 16;

/**
 * Per connection on the device, so under the XS memory rules (docs/contributing.md); one
 * exception left: its platform callback is a closure per socket.
 */
export class ModdableUDP implements UDP {
  #udp: PlatformUDP | undefined;
  #local: Endpoint | undefined;
  #closed = false;

  constructor(platform: PlatformUDPFactory, options: UDPOptions, defer: (fn: () => void) => void, random: () => number) {
    const onReadable = (packets: number) => {
      if (!this.#closed) options.onReadable?.call(options.target, packets);
    };
    const address = options.address ?? "0.0.0.0";
    let failure: string | undefined;
    const wanted = options.port ?? 0;
    const ports =
      wanted > 0
        ? [wanted]
        : Array.from({ length: BIND_TRIES }, (_, i) => EPHEMERAL_FIRST + ((Math.floor(random() * EPHEMERAL_COUNT) + i) % EPHEMERAL_COUNT));
    for (const port of ports) {
      try {
        this.#udp = platform({ port, onReadable });
        this.#local = { address, port };
        failure = undefined;
        break;
      } catch (e) {
        failure = bindFailure(e);
      }
    }
    defer(() => {
      if (this.#closed) return;
      if (failure === undefined) options.onReady?.call(options.target);
      else {
        this.#closed = true;
        options.onError?.call(options.target, failure);
      }
    });
  }

  read(): Datagram | undefined {
    if (this.#closed || !this.#udp) return undefined;
    const d = this.#udp.read();
    if (!d) return undefined;
    return { data: new Uint8Array(d), address: d.address, port: d.port };
  }

  write(data: Uint8Array, address: string, port: number): void {
    if (this.#closed || !this.#udp) throw new Error("closed");
    this.#udp.write(data, address, port);
  }

  close(): void {
    if (this.#closed && !this.#udp) return;
    this.#closed = true;
    const u = this.#udp;
    this.#udp = undefined;
    closeQuietly(u);
  }

  /** lwIP's ECMA-419 UDP has no broadcast option. */
  setOption(_name: "broadcast", _on: boolean): boolean {
    return false;
  }

  get local(): Endpoint | undefined {
    return this.#local;
  }
}

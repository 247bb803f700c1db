/**
 * The desktop host: the seam (`src/host.ts`) over `node:net`, `node:tls`, `node:dgram`, `node:dns`,
 * `node:crypto` and Node's timers.
 *
 * Timers are left ref'd: a program waiting on a runtime timer (a sleep, a read timeout) stays
 * alive, as it would on the device. Close sockets and clear timers to let Node exit.
 */
import { randomFillSync } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Host, Timer } from "../../src/host.js";
import { NodeListener } from "./listener.js";
import { resolveIPv4 } from "./resolve.js";
import { adoptTCP, connectTCP, type TCPLimits } from "./tcp.js";
import { NodeUDP } from "./udp.js";
import { nodeTLS } from "./tls.js";

export interface NodeHostOptions {
  /** The writable count of an idle TCP socket: bytes Node may hold unsent. Default 65536. */
  sendBuffer?: number;
  /** Unread bytes a TCP socket buffers before it stops reading from the kernel. Default 65536. */
  recvBuffer?: number;
  /** Datagrams a UDP socket queues for `read()`; more are dropped (and counted). Default 256. */
  udpQueue?: number;
  /** TLS over node:tls (see tls.ts). Default true; false gives a host without TLS (`sslnotenabled`). */
  tls?: boolean;
}

export const nodeHostDefaults: Readonly<Required<NodeHostOptions>> = Object.freeze({
  sendBuffer: 65536,
  recvBuffer: 65536,
  udpQueue: 256,
  tls: true,
});

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function nodeHost(options: NodeHostOptions = {}): Host {
  const limits: TCPLimits = {
    sendBuffer: positive("sendBuffer", options.sendBuffer ?? nodeHostDefaults.sendBuffer),
    recvBuffer: positive("recvBuffer", options.recvBuffer ?? nodeHostDefaults.recvBuffer),
  };
  const udpQueue = positive("udpQueue", options.udpQueue ?? nodeHostDefaults.udpQueue);
  return {
    name: "node",
    // Node delivers up to 64 KiB per read; moving the same per write halves the system calls
    preferred: { maxRead: 65536, maxWrite: 65536 },
    tcp: (o) => ("from" in o ? adoptTCP(o, limits) : connectTCP(o, limits)),
    listener: (o) => new NodeListener(o),
    udp: (o) => new NodeUDP(o, udpQueue),
    now: () => performance.now(),
    wallClock: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms) as unknown as Timer,
    clearTimer: (timer) => clearTimeout(timer as unknown as ReturnType<typeof setTimeout>),
    defer: (fn) => {
      setImmediate(fn);
    },
    randomBytes: (n) => randomFillSync(new Uint8Array(n)),
    resolve: resolveIPv4,
    tls: (options.tls ?? nodeHostDefaults.tls) ? nodeTLS(limits) : undefined,
  };
}

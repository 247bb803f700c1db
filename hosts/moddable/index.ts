/**
 * hosts/moddable — the host seam (src/host.ts) over Moddable's ECMA-419 classes: the device.
 *
 * The platform classes come in by injection, so the same code runs on the device (device.ts
 * passes `embedded:io/socket/*`, `timer`, `time`) and under Node against an ECMA-419 emulation
 * (test/device/). Differences from the other hosts, all from the platform: see README.md.
 *
 * TLS (client only): when the platform has `tls` (Moddable's `embedded:io/socket/tcp/tls`),
 * tls.ts hands it our connected socket; see tls.ts and README.md.
 */
import type { Host, TCPAdoptOptions, TCPConnectOptions, Timer } from "../../src/host.js";
import type { ModdablePlatform } from "./platform.js";
import { ModdableTCP, type ModdablePending } from "./tcp.js";
import { ModdableListener } from "./listener.js";
import { ModdableUDP } from "./udp.js";
import { makeResolve } from "./resolve.js";
import { mathRandomBytes } from "./random.js";
import { monotonic } from "./clock.js";
import { moddableTLS } from "./tls.js";

export interface ModdableHostOptions {
  /** DNS servers; default: the platform's (`Net.get("DNS")` on the device), else 1.1.1.1 and 8.8.8.8. */
  dnsServers?: string[];
}

export type { ModdablePlatform } from "./platform.js";

export function moddableHost(platform: ModdablePlatform, options: ModdableHostOptions = {}): Host {
  const { Timer } = platform;
  const defer = (fn: () => void): void => {
    Timer.set(fn, 0);
  };
  const randomBytes = platform.randomBytes ?? mathRandomBytes;
  const random = () => {
    const b = randomBytes(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 0x100000000;
  };
  return {
    name: "moddable",
    // The options object is kept as the socket's callbacks (no copy: one object less per socket).
    tcp: (o: TCPConnectOptions | TCPAdoptOptions) =>
      new ModdableTCP(platform.tcp, o as (TCPConnectOptions | TCPAdoptOptions) & { from: ModdablePending }, o, defer),
    listener: (o) => new ModdableListener(platform.listener, o, defer),
    udp: (o) => new ModdableUDP(platform.udp, o, defer, random),
    now: monotonic(platform.ticks),
    wallClock: platform.wallClock ?? (() => Date.now()),
    setTimer: (fn, ms) => Timer.set(() => fn(), ms > 0 ? ms : 0) as Timer,
    clearTimer: (timer) => Timer.clear(timer),
    defer,
    randomBytes,
    resolve: makeResolve(platform.resolver, () => options.dnsServers ?? platform.dnsServers?.()),
    tls: platform.tls ? moddableTLS(platform.tls, defer) : undefined,
  };
}

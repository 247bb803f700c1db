/**
 * The device host: hosts/moddable bound to the real Moddable modules (`embedded:io/…`, timer,
 * time, net). Only mcconfig builds (and `npm run typecheck:moddable`) see this file; the Node tests
 * use index.ts with an emulation. The runtime on top of it is made in device/runtime.ts (the
 * composition root: `deviceRuntime()`).
 *
 * Manifest: include the top-level cosock manifest.json (it brings the io, DNS, timer and time
 * modules this file imports).
 */
/// <reference path="./moddable-typings-gaps.d.ts" />
import TCP from "embedded:io/socket/tcp";
import Listener from "embedded:io/socket/listener";
import UDP from "embedded:io/socket/udp";
import TLSSocket, { type Options as TLSOptions } from "embedded:io/socket/tcp/tls";
import Resolver from "embedded:network/dns/resolver/udp";
import Timer from "timer";
import Time from "time";
import Net from "net";
import type { Host } from "../../src/host.js";
import { moddableHost, type ModdableHostOptions } from "./index.js";
import type { ModdablePlatform, PlatformTLS } from "./platform.js";

/**
 * The platform as Moddable provides it. Each constructor call is checked against @moddable/typings
 * (with moddable-typings-gaps.d.ts), and each object returned against what the host uses.
 */
export const platform: ModdablePlatform = Object.freeze({
  tcp: (o) =>
    "from" in o
      ? new TCP({
          from: o.from as TCP,
          nodelay: o.nodelay,
          target: o.target,
          onReadable: o.onReadable,
          onWritable: o.onWritable,
          onError: o.onError,
        })
      : new TCP({
          address: o.address,
          port: o.port,
          nodelay: o.nodelay,
          target: o.target,
          onReadable: o.onReadable,
          onWritable: o.onWritable,
          onError: o.onError,
        }),
  // Moddable's TLS client (TLS 1.2 in JavaScript); its TCP socket is ours, handed over (tls.ts).
  tls: (o) => new TLSSocket(o as unknown as TLSOptions) as unknown as PlatformTLS,
  listener: (o) => new Listener({ port: o.port, address: o.address, onReadable: o.onReadable }),
  udp: (o) => new UDP({ port: o.port, onReadable: o.onReadable }),
  resolver: (servers) => new Resolver({ socket: { io: UDP }, servers }),
  Timer,
  ticks: () => Time.ticks,
  dnsServers() {
    try {
      const servers: unknown = Net.get("DNS");
      return Array.isArray(servers) ? servers.filter((s): s is string => typeof s === "string" && s !== "") : [];
    } catch {
      return [];
    }
  },
});

export function deviceHost(options?: ModdableHostOptions): Host {
  return moddableHost(platform, options);
}

/**
 * The device entry: hosts/moddable bound to the real Moddable modules. Only mcconfig builds (and
 * `npm run typecheck:moddable`) see this file; the Node tests use index.ts with an emulation.
 *
 *   import { Runtime } from "cosock/src/index";
 *   import { deviceHost, deviceRuntime } from "cosock/hosts/moddable/device";
 *   const rt = deviceRuntime();            // new Runtime(deviceHost(), device defaults + config)
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
import config from "mc/config";
import { Runtime, type Host, type RuntimeOptions } from "cosock/src/index";
import { moddableHost, type ModdableHostOptions } from "./index.js";
import type { ModdablePlatform, PlatformTLS } from "./platform.js";
import { deviceOptions, type DeviceOptions } from "./defaults.js";

/**
 * The platform as Moddable provides it. Each constructor call is checked against @moddable/typings
 * (with moddable-typings-gaps.d.ts), and each object returned against what the host uses.
 */
export const platform: ModdablePlatform = Object.freeze({
  tcp: (o) =>
    "from" in o
      ? new TCP({ from: o.from as TCP, nodelay: o.nodelay, target: o.target, onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError })
      : new TCP({ address: o.address, port: o.port, nodelay: o.nodelay, target: o.target, onReadable: o.onReadable, onWritable: o.onWritable, onError: o.onError }),
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

/** The device defaults (hosts/moddable/defaults.ts) with the overrides from the manifest's config. */
export function deviceConfig(): DeviceOptions {
  return deviceOptions(config as Record<string, unknown>);
}

/** A runtime on the device host with the device defaults; `options` win over both. */
export function deviceRuntime(options: Partial<RuntimeOptions> = {}, host: Host = deviceHost()): Runtime {
  return new Runtime(host, { ...deviceConfig().runtime, ...options });
}

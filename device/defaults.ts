/**
 * Device-sized defaults, and their overrides from the manifest's `config` (`mc/config`).
 *
 * Sized from the ESP32 limits (../docs/device.md): 8 active lwIP TCP PCBs, an 8 KiB send buffer
 * and window per connection, MSS 1436, and about 160 KB of XS heap for the whole application.
 * The desktop defaults (src/options.ts) assume none of that.
 *
 * Config keys are flat, so that `mcconfig … cosock.queuelen=8192` can override them from the
 * command line: "cosock.<runtime option>", "cosock.http.<limit>", "cosock.ws.<limit>". Values
 * from the command line arrive as strings and are read as numbers.
 */
import type { HttpLimits, RuntimeOptions } from "../src/options.js";
import type { WebSocketLimits } from "../src/websocket/limits.js";

type Numeric<T> = { [K in keyof T as T[K] extends number ? K : never]: number };

export const deviceRuntimeDefaults: Readonly<Numeric<RuntimeOptions>> = Object.freeze({
  queuelen: 4096, // bytes a non-suspending writer may queue per socket (desktop 16384)
  suspendAt: 1400, // a cosocket writer suspends past this: about one MSS (as on the desktop)
  maxWriters: 8, // writers suspended on one socket (desktop 64): each holds a promise and its bytes
  maxRead: 4096, // most bytes per read: half the 8 KiB window, so reads stay small chunks
  maxWrite: 4096, // most bytes per host write (lwIP copies each write into pbufs)
  connectTimeout: 10000, // includes DNS, which retries for 5 s per server
  lingerTimeout: 1500, // a closed socket holds one of 8 PCBs while its last bytes leave
  turnBudget: 16, // sockets serviced per dispatcher turn: few sockets, short turns
  maxLine: 1024, // longest readLine line
  poolSize: 2, // worker-pool jobs at once
  poolQueue: 8, // worker-pool jobs waiting
});

export const deviceHttpDefaults: Readonly<Numeric<HttpLimits>> = Object.freeze({
  maxLine: 1024,
  maxHeaderBytes: 4096,
  maxHeaders: 24,
  maxBody: 16384,
  headerTimeout: 10000,
  requestTimeout: 15000, // head and body: a slow body holds one of 4 connections at most this long
  maxDrain: 4096, // unread body bytes dropped to keep a connection alive
  maxEmptyLines: 4,
  keepAliveTimeout: 5000,
  maxConnections: 4, // of 8 PCBs: leaves room for client connections and lingering closes
  maxWebSockets: 2, // upgraded WebSockets open at once (desktop 256): with 4 HTTP connections, 6 of 8 PCBs
});

export const deviceWsDefaults: Readonly<Numeric<WebSocketLimits>> = Object.freeze({
  maxFrame: 4096,
  maxMessage: 8192,
  idleTimeout: 120000, // a silent WebSocket gives its PCB back after 2 minutes (desktop 5)
  pingInterval: 0, // keepalive pings off (as on the desktop)
  pongTimeout: 10000,
});

export interface DeviceOptions {
  runtime: Partial<RuntimeOptions>;
  http: Partial<HttpLimits>;
  ws: Partial<WebSocketLimits>;
}

/** The device defaults with the overrides found in `config` (a manifest's `mc/config`). */
export function deviceOptions(config: Readonly<Record<string, unknown>> = {}): DeviceOptions {
  return {
    runtime: pick("cosock.", deviceRuntimeDefaults, config),
    http: pick("cosock.http.", deviceHttpDefaults, config),
    ws: pick("cosock.ws.", deviceWsDefaults, config),
  };
}

function pick<T extends object>(prefix: string, defaults: Readonly<T>, config: Readonly<Record<string, unknown>>): T {
  const out = { ...defaults } as Record<string, number>;
  for (const key of Object.keys(defaults)) {
    const raw = config[prefix + key];
    if (raw === undefined) continue;
    const n = typeof raw === "number" ? raw : Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new RangeError(`config ${prefix + key}: not a number >= 0: ${String(raw)}`);
    out[key] = n;
  }
  return out as T;
}

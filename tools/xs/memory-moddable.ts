/**
 * Runs inside xsnap for `npx tsx tools/xs/memory.ts --moddable-tcp`: the XS heap of
 * hosts/moddable's TCP wrapper (tcp.ts) per connection, over a stub of the ECMA-419 platform.
 *
 * The stub keeps per socket what lwIP's TCP keeps in the XS heap (its callbacks and `target`) and
 * does nothing else: it only sizes our wrapper. Scenarios, N connections each:
 * - "stub":    the runtime's per-socket options object + a bare stub socket made with shared
 *              callbacks: the cost of what is not ours.
 * - "wrapper": the same options object handed to `moddableHost(stub).tcp(...)`, connected (one
 *              onWritable delivered), as the runtime holds it.
 * The wrapper's cost per connection is the slope of "wrapper" minus the slope of "stub".
 * ES2022 only: it runs under XS.
 */
import { moddableHost } from "../../hosts/moddable/index.js";
import type { ModdablePlatform, PlatformTCP, PlatformTCPOptions } from "../../hosts/moddable/platform.js";

declare const gc: () => void;
declare const print: (line: string) => void;

type Callback = ((this: unknown, n?: number) => void) | undefined;

class StubTCP implements PlatformTCP {
  onReadable: Callback;
  onWritable: Callback;
  onError: Callback;
  target: unknown;
  constructor(o: PlatformTCPOptions) {
    this.onReadable = o.onReadable as Callback;
    this.onWritable = o.onWritable as Callback;
    this.onError = o.onError as Callback;
    this.target = o.target;
  }
  read(): ArrayBuffer | undefined {
    return undefined;
  }
  write(): number {
    return 8192;
  }
  close(): void {}
  get remoteAddress(): string {
    return "10.0.0.1";
  }
  get remotePort(): number {
    return 7;
  }
}

const platform: ModdablePlatform = {
  tcp: (o) => new StubTCP(o),
  listener: () => {
    throw new Error("not in this measurement");
  },
  udp: () => {
    throw new Error("not in this measurement");
  },
  Timer: { set: () => 0, clear: () => undefined },
  ticks: () => 0,
};

// The runtime's callbacks: shared functions (src/socket/socket.ts `_callbacks()`), one options object per socket.
function onReadable(): void {}
function onWritable(): void {}
function onEnd(): void {}
function onError(): void {}
function options(target: object) {
  return { target, onReadable, onWritable, onEnd, onError, address: "10.0.0.1", port: 7, nodelay: false };
}

const keep: unknown[] = [];

function measure(label: string, n: number): void {
  gc();
  print(`@@mem ${label} ${n}`);
  gc();
}

export function run(scenario: string, steps: number[]): void {
  const host = moddableHost(platform);
  let made = 0;
  for (const target of steps) {
    while (made < target) {
      const owner = {};
      const o = options(owner);
      if (scenario === "stub") {
        keep.push(
          owner,
          o,
          new StubTCP({ address: o.address, port: o.port, nodelay: o.nodelay, target: o, onReadable, onWritable, onError }),
        );
      } else {
        const tcp = host.tcp(o);
        keep.push(owner, o, tcp);
      }
      made++;
    }
    // connect every wrapper (the platform's first onWritable), as the real platform would
    if (scenario === "wrapper") for (const s of stubs) s.onWritable?.call(s, 8192);
    stubs.length = 0;
    measure(scenario, made);
  }
  print("@@done");
}

/** The stub sockets made since the last step (to deliver their first onWritable). */
const stubs: StubTCP[] = [];
const make = platform.tcp;
platform.tcp = (o) => {
  const s = make(o) as StubTCP;
  stubs.push(s);
  return s;
};

/**
 * The runtime: one dispatcher over one host, and the seed's library functions
 * (`connect`, `bind`, `event`, `udpcon`, `toip`, `stat`, ...). Create one per program:
 * `new Runtime(nodeHost())` on the desktop, `new Runtime(sim.host("10.0.0.1"))` in a simulation.
 */
import type { Host } from "./host.js";
import { Dispatcher } from "./dispatcher.js";
import { SocketError } from "./errors.js";
import { defaults, type RuntimeOptions } from "./options.js";
import { Socket, type BindOptions, type ConnectOptions, type Cosocket, type SocketStat } from "./socket/socket.js";
import { UdpSocket, type UdpOptions } from "./udp.js";
import { WorkerPool } from "./pool.js";
import { Watchdog } from "./watchdog.js";

export interface Stat {
  /** TCP connections ever made or accepted. */
  totalCons: number;
  /** TCP connections open now. */
  activeCons: number;
  listeners: number;
  udpSockets: number;
  /** Bytes waiting in all send queues. */
  queuedBytes: number;
  /** Writers suspended on full queues. */
  suspendedWriters: number;
  timers: number;
  /** Dispatcher turns so far. */
  turns: number;
  /** Turns that left ready sockets for a later turn (`turnBudget` ran out). */
  deferredTurns: number;
  /** Bytes read from the host by all sockets so far (TCP after TLS, UDP datagrams). */
  bytesIn: number;
  /** Bytes handed to the host by all sockets so far. */
  bytesOut: number;
  pool: { size: number; busy: number; queued: number; done: number };
}

/** What `socketStats()` sorts by (largest first). */
export type SocketSortKey = "queued" | "writers" | "bytesIn" | "bytesOut" | "bytes" | "age";

export interface SocketStatsOptions {
  /** Most rows returned (default 50). */
  limit?: number;
  /** Sort key, largest first (default "queued"); ties keep the order the sockets opened in. */
  sort?: SocketSortKey;
}

export interface SocketStats {
  /** Open sockets (TCP connections, listeners, UDP sockets), all of them. */
  total: number;
  /** The first `limit` of them by the sort key. */
  rows: SocketStat[];
}

const SORT: Readonly<Record<SocketSortKey, (s: Socket | UdpSocket) => number>> = Object.freeze({
  queued: (s: Socket | UdpSocket) => (s instanceof Socket ? s.queued : 0),
  writers: (s: Socket | UdpSocket) => (s instanceof Socket ? s.suspendedWriters : 0),
  bytesIn: (s: Socket | UdpSocket) => s.bytesIn,
  bytesOut: (s: Socket | UdpSocket) => s.bytesOut,
  bytes: (s: Socket | UdpSocket) => s.bytesIn + s.bytesOut,
  age: (s: Socket | UdpSocket) => s.age,
});

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export class Runtime {
  readonly host: Host;
  readonly options: Readonly<RuntimeOptions>;
  readonly dispatcher: Dispatcher;
  #sockets = new Set<Socket | UdpSocket>();
  /** @internal closed sockets still sending their last queued bytes */
  readonly lingering = new Set<Socket>();
  #totalCons = 0;
  /** @internal bytes read from / handed to the host by all sockets (the sockets count them) */
  readonly traffic = { in: 0, out: 0 };
  #pool: WorkerPool | undefined;
  #watchdog: Watchdog | undefined;
  #down = false;

  constructor(host: Host, options: Partial<RuntimeOptions> = {}) {
    this.host = host;
    this.options = Object.freeze({ ...defaults, ...host.preferred, ...options });
    this.dispatcher = new Dispatcher(host, this.options.turnBudget, this.options.log);
  }

  /** Connects to `host:port`; resolves with the connected socket. */
  connect(host: string, port: number, options?: ConnectOptions): Promise<Socket> {
    if (this.#down) return Promise.reject(new SocketError("sysshutdown"));
    return new Socket(this).connect(host, port, options);
  }

  /** Listens on `port` (0 picks one; see `sockname()`); resolves with the listening socket. */
  bind(port: number, options?: BindOptions): Promise<Socket> {
    if (this.#down) return Promise.reject(new SocketError("sysshutdown"));
    return new Socket(this).bind(port, options);
  }

  /**
   * Starts `fn(sock, ...args)` as a cosocket on a new unconnected socket; `sock.connect` or
   * `sock.bind` inside it makes that socket a connection or a listener. Runs at once until `fn`
   * first suspends. Returns the socket.
   */
  event<A extends unknown[]>(fn: Cosocket<A>, ...args: A): Socket {
    if (this.#down) throw new SocketError("sysshutdown");
    const s = new Socket(this);
    return s.event(fn, "s", ...args);
  }

  /**
   * A UDP socket: `udpcon(host, port)` connected to a peer, `udpcon(port)` bound locally, or
   * `udpcon({ host, port, localPort, intf })`.
   */
  udpcon(a?: string | number | UdpOptions, b?: number, c?: UdpOptions): Promise<UdpSocket> {
    if (this.#down) return Promise.reject(new SocketError("sysshutdown"));
    let o: UdpOptions;
    if (typeof a === "string") o = { ...c, host: a, port: b };
    else if (typeof a === "number") o = { ...(b as unknown as UdpOptions), localPort: a };
    else o = a ?? {};
    return UdpSocket.open(this, o);
  }

  /** Resolves a host name to an IPv4 address; throws `cannotresolve`. */
  async toip(name: string): Promise<string> {
    if (IPV4.test(name)) return name;
    try {
      return await this.host.resolve(name);
    } catch (e) {
      throw new SocketError("cannotresolve", `${name}: ${(e as Error)?.message ?? e}`);
    }
  }

  /** Resolves after `ms` (on the host's clock). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.dispatcher.timer(ms, resolve));
  }

  /** The worker pool (created on first use with `poolSize` / `poolQueue`). */
  get pool(): WorkerPool {
    return (this.#pool ??= new WorkerPool({ size: this.options.poolSize, queue: this.options.poolQueue }));
  }

  /** @internal Idle timeouts and keepalives: one timer for all watched connections (made on first use). */
  get watchdog(): Watchdog {
    return (this.#watchdog ??= new Watchdog(this.host, this.dispatcher));
  }

  stat(): Stat {
    let activeCons = 0;
    let listeners = 0;
    let udpSockets = 0;
    let queuedBytes = 0;
    let suspendedWriters = 0;
    for (const s of this.#sockets) {
      if (s instanceof UdpSocket) udpSockets++;
      else if (s.isListener) listeners++;
      else {
        activeCons++;
        queuedBytes += s.queued;
        suspendedWriters += s.suspendedWriters;
      }
    }
    return {
      totalCons: this.#totalCons,
      activeCons,
      listeners,
      udpSockets,
      queuedBytes,
      suspendedWriters,
      timers: this.dispatcher.pendingTimers,
      turns: this.dispatcher.turns,
      deferredTurns: this.dispatcher.deferredTurns,
      bytesIn: this.traffic.in,
      bytesOut: this.traffic.out,
      pool: this.pool.stat(),
    };
  }

  /** The open sockets (TCP connections, listeners, UDP sockets), in the order they opened. */
  sockets(): IterableIterator<Socket | UdpSocket> {
    return this.#sockets.values();
  }

  /**
   * Per-socket figures of the open sockets: the first `limit` by `sort`, largest first, and how
   * many are open. One pass over the sockets keeping only the top `limit`, so its cost grows with
   * the number of sockets but what it returns does not.
   */
  socketStats(options: SocketStatsOptions = {}): SocketStats {
    const limit = options.limit ?? 50;
    const sort = options.sort ?? "queued";
    const key = SORT[sort];
    if (!(limit >= 0) || !key)
      throw new SocketError("incorrectuse", `socketStats: limit >= 0 and a sort key of ${Object.keys(SORT).join(", ")}`);
    // top[] and keys[] sorted by key, largest first; a new socket goes after its equals
    const top: (Socket | UdpSocket)[] = [];
    const keys: number[] = [];
    let total = 0;
    for (const s of this.#sockets) {
      total++;
      if (limit === 0) continue;
      const k = key(s);
      if (top.length === limit && k <= keys[limit - 1]!) continue;
      let lo = 0;
      let hi = top.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid]! >= k) lo = mid + 1;
        else hi = mid;
      }
      top.splice(lo, 0, s);
      keys.splice(lo, 0, k);
      if (top.length > limit) {
        top.pop();
        keys.pop();
      }
    }
    return { total, rows: top.map((s) => s.stat()) };
  }

  /**
   * Closes every open socket at once (queued bytes are dropped, nothing lingers) and refuses new
   * ones (`sysshutdown`).
   */
  shutdown(): void {
    this.#down = true;
    for (const s of [...this.#sockets]) s.close();
    for (const s of [...this.lingering]) s.drop();
  }

  /** @internal sockets register while open */
  track(s: Socket | UdpSocket): void {
    if (s instanceof Socket && !s.isListener) this.#totalCons++;
    this.#sockets.add(s);
  }

  /** @internal */
  untrack(s: Socket | UdpSocket): void {
    this.#sockets.delete(s);
  }
}

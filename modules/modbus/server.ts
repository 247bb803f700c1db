/**
 * Modbus TCP server: a listener whose coroutine accepts connections, and one cosocket per
 * connection that reads frames, has the device execute them one after another and writes each
 * response before taking the next request — so requests pipelined on one connection are answered
 * in order. The data model (tables or callbacks, exceptions) is `ModbusDevice` (device.ts).
 *
 * A stream that is not Modbus TCP (wrong protocol id, an MBAP length out of range) ends its
 * connection, with the reason logged; responses to the requests before it are still sent. A frame
 * split across TCP segments waits for the rest, for up to `requestTimeout`.
 *
 * Every resource a peer can hold is bounded: connections (`maxConnections`; one more is reset at
 * once), an idle connection (`idleTimeout`), a request that trickles in or a client that does not
 * read its responses (`requestTimeout`), and the log (`logLimit` lines per `logInterval`, then a
 * "suppressed" summary), so a flood of bad connections cannot flood the log either.
 */
import { SocketError, type Runtime, type Socket } from "../cosock.js";
import { ModbusDevice, type DeviceData } from "./device.js";
import { EXCEPTION } from "./errors.js";
import { encodeAdu, MbapParser } from "./mbap.js";
import { encodeException } from "./pdu.js";
import { LogLimiter } from "./log-limit.js";

export interface ModbusServerOptions extends DeviceData {
  /** Port to listen on (default 502; 0 picks one, see `port`). */
  port?: number;
  /** Local address to listen on (default: the host's default, loopback on the desktop). */
  intf?: string;
  /**
   * Unit ids served, each 0..255 (default: every unit id, 255 included). Others are answered with
   * exception 0x0B. A value outside 0..255 is `incorrectuse`.
   */
  unitIds?: number[];
  /** Connections served at once (default 8); a connection beyond it is closed at once and logged. */
  maxConnections?: number;
  /** A connection that sends nothing for this long (ms) is closed (default 60000; 0 = never). */
  idleTimeout?: number;
  /**
   * ms a request may take to arrive once its first byte came, and a response to be taken by the
   * client once written (a client that does not read): past it the connection is closed and
   * logged (default 5000; 0 = never). A Modbus TCP request is at most 260 bytes.
   */
  requestTimeout?: number;
  /** Most log lines per `logInterval` (default 10; 0 = no limit); the rest are counted in one "suppressed" line. */
  logLimit?: number;
  /** ms (default 10000). */
  logInterval?: number;
  /** Called after every successful write. */
  onWrite?: (area: "coils" | "holdingRegisters", address: number, count: number) => void;
  /** Where closed connections and callback failures are reported (default: the runtime's `log`), within `logLimit`. */
  log?: (message: string) => void;
}

export const serverDefaults = Object.freeze({
  port: 502,
  maxConnections: 8,
  idleTimeout: 60000,
  requestTimeout: 5000,
  logLimit: 10,
  logInterval: 10000,
});

export interface ModbusServerStat {
  /** Connections open now. */
  connections: number;
  /** Requests answered (normally or with an exception). */
  requests: number;
  /** Exception responses among them. */
  exceptions: number;
  /** Connections closed because their stream was not Modbus TCP. */
  protocolErrors: number;
  /** Connections refused because `maxConnections` were open. */
  refused: number;
  /** Connections closed by `idleTimeout` or `requestTimeout`. */
  timeouts: number;
  /** Log lines suppressed by `logLimit`. */
  logSuppressed: number;
  /** Requests answered, by function code. */
  functions: Record<number, number>;
}

export class ModbusServer {
  readonly rt: Runtime;
  readonly device: ModbusDevice;
  readonly listener: Socket;
  #options: ModbusServerOptions;
  #log: (message: string) => void;
  #limiter: LogLimiter;
  #units: Set<number> | undefined;
  #connections = new Set<Socket>();
  #stat = { requests: 0, exceptions: 0, protocolErrors: 0, refused: 0, timeouts: 0 };
  #functions: Record<number, number> = {};

  /** Listens and starts serving. Throws `bind` if the port is in use. */
  static async listen(rt: Runtime, options: ModbusServerOptions = {}): Promise<ModbusServer> {
    for (const u of options.unitIds ?? [])
      if (!Number.isInteger(u) || u < 0 || u > 255) throw new SocketError("incorrectuse", `unit id ${u} is not 0..255`);
    const listener = await rt.bind(options.port ?? serverDefaults.port, { intf: options.intf });
    return new ModbusServer(rt, listener, options);
  }

  private constructor(rt: Runtime, listener: Socket, options: ModbusServerOptions) {
    this.rt = rt;
    this.listener = listener;
    this.#options = options;
    const d = serverDefaults;
    this.#limiter = new LogLimiter(
      rt,
      options.log ?? rt.options.log,
      options.logLimit ?? d.logLimit,
      options.logInterval ?? d.logInterval,
      "modbus server",
    );
    this.#log = this.#limiter.log;
    this.#units = options.unitIds ? new Set(options.unitIds) : undefined;
    this.device = new ModbusDevice(options, { onWrite: options.onWrite, log: this.#log });
    listener.event(this.#accept);
  }

  /** The port listened on. */
  get port(): number {
    return this.listener.sockname()?.port ?? 0;
  }

  stat(): ModbusServerStat {
    return { connections: this.#connections.size, ...this.#stat, logSuppressed: this.#limiter.total, functions: { ...this.#functions } };
  }

  /** Stops listening and closes every connection (the log's "suppressed" summary, if any, is written now). */
  close(): void {
    this.listener.close();
    for (const s of [...this.#connections]) s.close();
    this.#limiter.flush();
  }

  #accept = async (l: Socket): Promise<void> => {
    const max = this.#options.maxConnections ?? serverDefaults.maxConnections;
    for (;;) {
      const s = await l.accept();
      if (!s) return; // the listener was closed
      if (this.#connections.size >= max) {
        this.#stat.refused++;
        this.#log(`modbus server: refusing ${peer(s)}: ${max} connections open (maxConnections)`);
        s.abort(); // at once: no lingering, the client sees a reset
        continue;
      }
      this.#connections.add(s);
      s.event(this.#serve, "s");
    }
  };

  #serve = async (sock: Socket): Promise<void> => {
    const idle = this.#options.idleTimeout ?? serverDefaults.idleTimeout;
    const slow = this.#options.requestTimeout ?? serverDefaults.requestTimeout;
    const parser = new MbapParser();
    const who = peer(sock);
    /** When the first byte of the unfinished request came (host clock). */
    let started = 0;
    try {
      for (;;) {
        let data: Uint8Array | null;
        let wait = idle > 0 ? idle : undefined;
        let why = `idle for ${idle} ms (idleTimeout)`;
        if (parser.buffered > 0 && slow > 0) {
          const left = Math.max(1, started + slow - this.rt.host.now());
          if (wait === undefined || left < wait) {
            wait = left;
            why = `a request of which ${parser.buffered} bytes came did not complete within ${slow} ms (requestTimeout)`;
          }
        }
        try {
          data = await sock.read(wait);
        } catch (e) {
          if (e instanceof SocketError && e.code === "timeout") {
            this.#stat.timeouts++;
            this.#log(`modbus server: closing ${who}: ${why}`);
            return;
          }
          throw e;
        }
        if (data === null) {
          if (parser.buffered > 0)
            this.#log(`modbus server: ${who} closed the connection in the middle of a frame (${parser.buffered} bytes)`);
          return;
        }
        if (parser.buffered === 0) started = this.rt.host.now();
        parser.push(data);
        for (;;) {
          let frame;
          try {
            frame = parser.next();
          } catch (e) {
            this.#stat.protocolErrors++;
            this.#log(`modbus server: closing ${who}: ${(e as Error).message}`);
            return;
          }
          if (!frame) break;
          let response: Uint8Array;
          if (this.#units && !this.#units.has(frame.unitId)) response = encodeException(frame.pdu[0], EXCEPTION.GATEWAY_TARGET_FAILED);
          else response = await this.device.execute(frame.pdu);
          this.#stat.requests++;
          this.#functions[frame.pdu[0]] = (this.#functions[frame.pdu[0]] ?? 0) + 1;
          if (response[0] & 0x80) this.#stat.exceptions++;
          if (!(await respond(this.rt, sock, encodeAdu(frame.transactionId, frame.unitId, response), slow))) {
            this.#stat.timeouts++;
            this.#log(`modbus server: closing ${who}: it did not take its responses within ${slow} ms (requestTimeout)`);
            return;
          }
          started = this.rt.host.now(); // what is left of the chunk starts the next request
        }
      }
    } finally {
      this.#connections.delete(sock);
    }
  };
}

/** Writes a response; false when the client did not take it within `slow` ms (the socket is then aborted). */
async function respond(rt: Runtime, sock: Socket, bytes: Uint8Array, slow: number): Promise<boolean> {
  if (!(slow > 0)) {
    await sock.write(bytes);
    return true;
  }
  let late = false;
  const cancel = rt.dispatcher.timer(slow, () => {
    late = true;
    sock.abort();
  });
  try {
    await sock.write(bytes);
    return true;
  } catch (e) {
    if (late) return false;
    throw e;
  } finally {
    cancel();
  }
}

function peer(s: Socket): string {
  const p = s.peername();
  return p ? `${p.address}:${p.port}` : "a client";
}

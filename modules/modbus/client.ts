/**
 * Modbus TCP client. One TCP connection; requests are written as they are made and matched to
 * responses by transaction id, so several may be in flight at once. A reader cosocket owns the
 * connection: it cuts frames out of the stream and settles the waiting requests.
 *
 * - A request that gets no response within its timeout throws `SocketError("timeout")`; the
 *   connection stays usable and the late response, if it comes, is discarded (counted in
 *   `discarded`).
 * - An exception response throws `ModbusError` (`.exception`, `.exceptionName`).
 * - A response that does not fit its request throws `ModbusFrameError`; a stream that is not
 *   Modbus TCP at all ends the connection, failing every waiting request with that error.
 * - After the connection ends every request throws (`socketclosed` or the failure); make a new
 *   client to reconnect.
 */
import { SocketError, type Runtime, type Socket } from "../cosock.js";
import { ModbusFrameError } from "./errors.js";
import { encodeAdu, MbapParser, type Adu } from "./mbap.js";
import { decodeResponse, encodeRequest, FC, type ModbusRequest, type Result } from "./pdu.js";

export interface ModbusClientOptions {
  /** Server port (default 502). */
  port?: number;
  /**
   * Unit id of requests that do not name one: 0..255 (default 1). Over TCP every byte value is
   * valid: 0xFF is the one the Modbus TCP implementation guide suggests for a device addressed by
   * its IP address (gateways use 1..247 for the serial devices behind them).
   */
  unitId?: number;
  /** ms a request may take from the call to its response (default 3000). */
  timeout?: number;
  /** ms to connect (default: the runtime's `connectTimeout`). */
  connectTimeout?: number;
  /**
   * Most requests on the wire at once (default 16). Further requests wait, in call order, for a
   * response or timeout to free a place; their timeout runs while they wait.
   */
  maxInFlight?: number;
  /** Where protocol failures are reported (default: the runtime's `log`). */
  log?: (message: string) => void;
}

export interface RequestOptions {
  /** This request's unit id (default: the client's). */
  unitId?: number;
  /** This request's timeout in ms (default: the client's). */
  timeout?: number;
}

export const clientDefaults = Object.freeze({
  port: 502,
  unitId: 1,
  timeout: 3000,
  maxInFlight: 16,
});

interface Call {
  req: ModbusRequest;
  pdu: Uint8Array;
  unitId: number;
  /** Transaction id once sent; -1 while waiting for a place. */
  tid: number;
  resolve(r: Result): void;
  reject(e: unknown): void;
  cancelTimer?: () => void;
}

/** The MBAP header carries the unit id in one byte: 0..255 (not serial Modbus's 0..247). */
function checkUnit(unitId: number): number {
  if (!Number.isInteger(unitId) || unitId < 0 || unitId > 255) throw new SocketError("incorrectuse", `unit id ${unitId} is not 0..255`);
  return unitId;
}

/** A client's coroutine: one shared function rather than a closure per client (XS memory rules). */
function readResponses(sock: Socket, client: ModbusClient): Promise<void> {
  return client._read(sock);
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class ModbusClient {
  readonly rt: Runtime;
  readonly sock: Socket;
  /** Default unit id (0..255). */
  readonly unitId: number;
  /** Default request timeout (ms). */
  readonly timeout: number;
  readonly maxInFlight: number;
  /** Responses that matched no waiting request (late after a timeout, or unsolicited). */
  discarded = 0;
  #log: (message: string) => void;
  #inFlight = new Map<number, Call>();
  #queue: Call[] = [];
  #nextTid = 1;
  #failure: Error | undefined;

  /** Connects to a Modbus TCP server. Throws `cannotconnect` / `cannotresolve`. */
  static async connect(rt: Runtime, host: string, options: ModbusClientOptions = {}): Promise<ModbusClient> {
    const sock = await rt.connect(host, options.port ?? clientDefaults.port, {
      timeout: options.connectTimeout,
      nodelay: true,
    });
    return new ModbusClient(rt, sock, options);
  }

  /** A client over an already connected socket that has no coroutine yet. */
  constructor(rt: Runtime, sock: Socket, options: ModbusClientOptions = {}) {
    this.rt = rt;
    this.sock = sock;
    this.unitId = checkUnit(options.unitId ?? clientDefaults.unitId);
    this.timeout = options.timeout ?? clientDefaults.timeout;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? clientDefaults.maxInFlight);
    this.#log = options.log ?? rt.options.log;
    sock.event(readResponses, "s", this);
  }

  // ---------------------------------------------------------------- the function codes

  /** FC 1: `quantity` coils from `address`. */
  async readCoils(address: number, quantity: number, o?: RequestOptions): Promise<boolean[]> {
    return (await this.request({ fc: FC.READ_COILS, address, quantity }, o)) as boolean[];
  }

  /** FC 2: `quantity` discrete inputs from `address`. */
  async readDiscreteInputs(address: number, quantity: number, o?: RequestOptions): Promise<boolean[]> {
    return (await this.request({ fc: FC.READ_DISCRETE_INPUTS, address, quantity }, o)) as boolean[];
  }

  /** FC 3: `quantity` holding registers from `address`. */
  async readHoldingRegisters(address: number, quantity: number, o?: RequestOptions): Promise<number[]> {
    return (await this.request({ fc: FC.READ_HOLDING_REGISTERS, address, quantity }, o)) as number[];
  }

  /** FC 4: `quantity` input registers from `address`. */
  async readInputRegisters(address: number, quantity: number, o?: RequestOptions): Promise<number[]> {
    return (await this.request({ fc: FC.READ_INPUT_REGISTERS, address, quantity }, o)) as number[];
  }

  /** FC 5: sets one coil. */
  async writeCoil(address: number, value: boolean, o?: RequestOptions): Promise<void> {
    await this.request({ fc: FC.WRITE_SINGLE_COIL, address, value }, o);
  }

  /** FC 6: writes one holding register (0..65535, or -32768..-1 as two's complement). */
  async writeRegister(address: number, value: number, o?: RequestOptions): Promise<void> {
    await this.request({ fc: FC.WRITE_SINGLE_REGISTER, address, value }, o);
  }

  /** FC 15: sets coils from `address`. */
  async writeCoils(address: number, values: boolean[], o?: RequestOptions): Promise<void> {
    await this.request({ fc: FC.WRITE_MULTIPLE_COILS, address, values }, o);
  }

  /** FC 16: writes holding registers from `address`. */
  async writeRegisters(address: number, values: number[], o?: RequestOptions): Promise<void> {
    await this.request({ fc: FC.WRITE_MULTIPLE_REGISTERS, address, values }, o);
  }

  /** FC 22: register = (register AND andMask) OR (orMask AND NOT andMask). */
  async maskWriteRegister(address: number, andMask: number, orMask: number, o?: RequestOptions): Promise<void> {
    await this.request({ fc: FC.MASK_WRITE_REGISTER, address, andMask, orMask }, o);
  }

  /** FC 23: writes `values` at `writeAddress`, then reads `readQuantity` registers at `readAddress`. */
  async readWriteRegisters(
    readAddress: number,
    readQuantity: number,
    writeAddress: number,
    values: number[],
    o?: RequestOptions,
  ): Promise<number[]> {
    return (await this.request({ fc: FC.READ_WRITE_MULTIPLE_REGISTERS, readAddress, readQuantity, writeAddress, values }, o)) as number[];
  }

  /**
   * Sends any supported request and resolves with its result (bits, registers, or undefined for
   * writes). Throws `incorrectuse` for arguments the protocol cannot carry, before sending.
   */
  request(req: ModbusRequest, o: RequestOptions = {}): Promise<Result> {
    let pdu: Uint8Array;
    let unitId: number;
    try {
      pdu = encodeRequest(req);
      unitId = checkUnit(o.unitId ?? this.unitId);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    const timeout = o.timeout ?? this.timeout;
    return new Promise<Result>((resolve, reject) => {
      const c: Call = { req, pdu, unitId, tid: -1, resolve, reject };
      c.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
        c.cancelTimer = undefined;
        const sent = c.tid >= 0;
        this._settle(c);
        reject(
          new SocketError(
            "timeout",
            `no response to function ${req.fc} for unit ${unitId}` +
              (sent ? ` (transaction ${c.tid})` : " (never sent: too many requests in flight)") +
              ` within ${timeout} ms`,
          ),
        );
      });
      if (this.#inFlight.size < this.maxInFlight) this._send(c);
      else this.#queue.push(c);
    });
  }

  /** Requests sent and waiting for their response. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Requests waiting for a place (see `maxInFlight`). */
  get queued(): number {
    return this.#queue.length;
  }

  /** True once the connection has ended (every request then throws). */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /** Closes the connection; waiting requests throw `socketclosed`. */
  close(): void {
    this._fail(new SocketError("socketclosed", "the Modbus client was closed"));
    this.sock.close();
  }

  // ---------------------------------------------------------------- internals

  private _send(c: Call): void {
    let tid = this.#nextTid;
    while (this.#inFlight.has(tid)) tid = (tid + 1) & 0xffff;
    this.#nextTid = (tid + 1) & 0xffff;
    c.tid = tid;
    this.#inFlight.set(tid, c);
    this.sock.write(encodeAdu(tid, c.unitId, c.pdu)).catch((e: unknown) => {
      if (this.#inFlight.get(tid) !== c) return; // already settled
      this._settle(c);
      c.reject(e);
    });
  }

  /** Removes `c` from the books (its promise is settled by the caller) and sends the next queued call. */
  private _settle(c: Call): void {
    c.cancelTimer?.();
    c.cancelTimer = undefined;
    if (c.tid >= 0 && this.#inFlight.get(c.tid) === c) this.#inFlight.delete(c.tid);
    else {
      const i = this.#queue.indexOf(c);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    while (!this.#failure && this.#queue.length > 0 && this.#inFlight.size < this.maxInFlight) this._send(this.#queue.shift()!);
  }

  /** @internal The connection's coroutine (`readResponses`): reads and dispatches the answers. */
  async _read(sock: Socket): Promise<void> {
    const parser = new MbapParser();
    let failure: Error;
    try {
      for (;;) {
        const data = await sock.read();
        if (data === null) {
          failure = new SocketError("socketclosed", "the Modbus server closed the connection");
          break;
        }
        parser.push(data);
        for (let f = parser.next(); f; f = parser.next()) this._dispatch(f);
      }
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      if (e instanceof ModbusFrameError) {
        const peer = sock.peername();
        this.#log(`modbus client: closing the connection to ${peer?.address}:${peer?.port}: ${e.message}`);
      }
    }
    this._fail(failure);
  }

  private _dispatch(f: Adu): void {
    const c = this.#inFlight.get(f.transactionId);
    if (!c) {
      this.discarded++;
      return;
    }
    this._settle(c);
    if (f.unitId !== c.unitId) {
      c.reject(new ModbusFrameError(`response from unit ${f.unitId} to a request for unit ${c.unitId}`));
      return;
    }
    let result: Result;
    try {
      result = decodeResponse(c.req, f.pdu);
    } catch (e) {
      c.reject(e);
      return;
    }
    c.resolve(result);
  }

  private _fail(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    const calls = [...this.#inFlight.values(), ...this.#queue];
    this.#inFlight.clear();
    this.#queue = [];
    for (const c of calls) {
      c.cancelTimer?.();
      c.reject(e);
    }
  }
}

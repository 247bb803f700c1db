import type { Datagram, Endpoint, UDP, UDPOptions } from "../../src/host.js";
import { ANY, checkPort, isIPv4, LOOPBACK } from "./address.js";
import type { SimHost } from "./host.js";

/** Datagrams a socket holds unread; newer ones are dropped (and counted) beyond this. */
export const UDP_QUEUE_LIMIT = 64;
/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM = 65507;

type UdpState = "open" | "failed" | "closed";

/**
 * A UDP socket on one host. Binding is decided at once and reported by an
 * event: onReady(), or onError("addrinuse").
 *
 * A datagram written to a host and port: dropped with probability `loss`;
 * otherwise it arrives after the wire (bandwidth) + latency + jitter, plus
 * latency*3+1 ms with probability `reorder`; with probability `duplicate` a
 * second copy arrives right after it. Datagrams to an unknown host, an unbound
 * port or a full queue are dropped silently. Stats: every write counts in
 * `datagrams`, every copy lost on the way in `droppedDatagrams`, every extra
 * copy in `duplicatedDatagrams`, so received = datagrams + duplicated - dropped.
 */
export class SimUdp implements UDP {
  readonly address: string;
  port = 0;

  private state: UdpState = "open";
  private queue: Datagram[] = [];

  constructor(
    private readonly host: SimHost,
    private readonly options: UDPOptions,
  ) {
    const core = host.core;
    const requested = options.port ?? 0;
    checkPort(requested, true);
    this.address = options.address ?? ANY;
    let problem: string | undefined;
    if (!host.owns(this.address)) problem = "addrnotavail";
    else if (requested !== 0 && host.udpPorts.has(requested)) problem = "addrinuse";
    if (problem === undefined) {
      this.port = requested === 0 ? host.udpPorts.ephemeral() : requested;
      if (requested !== 0) host.udpPorts.take(requested);
      host.udpSockets.set(this.port, this);
    } else {
      this.state = "failed";
    }
    core.clock.at(core.clock.now, () => {
      if (problem !== undefined) core.invokeOn(this.options.target, this.options.onError, problem);
      else if (this.state === "open") core.invokeOn(this.options.target, this.options.onReady);
    });
  }

  get local(): Endpoint | undefined {
    return this.state === "open" ? { address: this.address, port: this.port } : undefined;
  }

  read(): Datagram | undefined {
    return this.queue.shift();
  }

  write(data: Uint8Array, address: string, port: number): void {
    if (this.state !== "open") throw new Error("udp: socket is not open");
    if (typeof address !== "string" || !isIPv4(address)) {
      throw new TypeError(`udp: address must be a numeric IPv4 address, got ${String(address)}`);
    }
    checkPort(port, false);
    if (data.byteLength > MAX_DATAGRAM) throw new RangeError(`udp: datagram of ${data.byteLength} bytes is too large`);
    const host = this.host;
    const core = host.core;
    const copy = new Uint8Array(data);
    core.counters.datagrams++;
    const loopback = address === LOOPBACK;
    const target = loopback ? host : core.hosts.get(address);
    if (target === undefined) {
      core.counters.droppedDatagrams++;
      return;
    }
    const link = core.link(host.address, target.address);
    if (core.faults.chance(link.loss)) {
      core.counters.droppedDatagrams++;
      return;
    }
    const now = core.clock.now;
    let arrival = core.wire(host.address, target.address).send(now, copy.byteLength, link.bandwidth) + link.latency;
    if (link.jitter > 0) arrival += core.faults.next() * link.jitter;
    if (core.faults.chance(link.reorder)) arrival += link.latency * 3 + 1;
    const source = loopback ? LOOPBACK : host.address;
    const sourcePort = this.port;
    const copies = core.faults.chance(link.duplicate) ? 2 : 1;
    if (copies === 2) core.counters.duplicatedDatagrams++;
    for (let i = 0; i < copies; i++) {
      const bytes = i === 0 ? copy : new Uint8Array(copy);
      core.clock.at(arrival, () => target.deliverDatagram(address, port, { data: bytes, address: source, port: sourcePort }));
    }
  }

  close(): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.queue = [];
    if (wasOpen) {
      this.host.udpSockets.delete(this.port);
      this.host.udpPorts.release(this.port);
    }
  }

  /** Broadcast is not simulated: always false (datagrams to 255.255.255.255 are dropped). */
  setOption(_name: "broadcast", _on: boolean): boolean {
    return false;
  }

  /** Whether this socket takes datagrams sent to `address`. */
  accepts(address: string): boolean {
    return this.state === "open" && (this.address === ANY || this.address === address);
  }

  /** A datagram arrived (from an event). */
  deliver(datagram: Datagram): void {
    const core = this.host.core;
    if (this.queue.length >= UDP_QUEUE_LIMIT) {
      core.counters.droppedDatagrams++;
      return;
    }
    this.queue.push(datagram);
    core.invokeOn(this.options.target, this.options.onReadable, this.queue.length);
  }
}

/**
 * How the client reaches a broker. A transport opens a byte stream inside the client's connection
 * cosocket (whose own socket it is given) and returns something to read MQTT bytes from and write
 * them to. Plain TCP is the socket itself; MQTT over TLS (`mqtts`) and over WebSocket (`ws`,
 * subprotocol "mqtt") slot in as further transports once the runtime has TLS and WebSocket
 * clients: each returns a stream whose `read` yields bytes in any chunking (the decoder does not
 * care about message boundaries) and whose `write` takes whole MQTT packets.
 */
import { SocketError, type Socket, type TLSOptions } from "../cosock.js";
import { wsConnect } from "../cosock.js";

/** The byte stream the MQTT client talks over (a connected `Socket` is one). */
export interface MqttStream {
  /** Next bytes, or null at the peer's orderly close; throws `timeout` (stream stays usable). */
  read(timeout?: number): Promise<Uint8Array | null>;
  /** Sends one whole packet; suspends the caller under flow control. */
  write(data: Uint8Array): Promise<unknown>;
  /** Sends without suspending: true, or the queued byte count when the stream's queue is full. */
  trywrite(data: Uint8Array): true | number;
  /** Closes the stream (bytes already accepted are still sent). */
  close(): unknown;
}

export interface TransportOptions {
  /** ms for the connection (TCP, and TLS/WebSocket handshakes where there are some). */
  timeout: number;
}

export interface Transport {
  /** "tcp", "tls", "ws", ... (for messages). */
  readonly name: string;
  /** Default port of the scheme (1883 for TCP). */
  readonly defaultPort: number;
  /** Connects `sock` — the connection cosocket's own, unconnected socket — to `host:port`. */
  open(sock: Socket, host: string, port: number, options: TransportOptions): Promise<MqttStream>;
}

/** MQTT over plain TCP (`mqtt://`), with Nagle off: MQTT packets are small and latency matters. */
export const tcpTransport: Transport = Object.freeze({
  name: "tcp",
  defaultPort: 1883,
  open(sock: Socket, host: string, port: number, options: TransportOptions): Promise<MqttStream> {
    return sock.connect(host, port, { timeout: options.timeout, nodelay: true });
  },
});

/** MQTT over TLS (`mqtts://`, port 8883). The broker's certificate is verified unless `verify: false`. */
export function tlsTransport(tls: TLSOptions | true = true): Transport {
  return Object.freeze({
    name: "tls",
    defaultPort: 8883,
    open(sock: Socket, host: string, port: number, options: TransportOptions): Promise<MqttStream> {
      return sock.connect(host, port, { timeout: options.timeout, nodelay: true, tls });
    },
  });
}

export interface WsTransportOptions {
  /** The broker's WebSocket path; default "/mqtt". */
  path?: string;
  /** wss:// when given (true: default verification). */
  tls?: TLSOptions | true;
  /**
   * Largest WebSocket frame accepted. Brokers send a whole MQTT packet as one frame, and the
   * transport hands frames on in pieces (nothing is assembled here; the MQTT decoder's
   * `maxPacketSize` bounds memory), so the default is MQTT's own maximum packet size.
   */
  maxFrame?: number;
}

/** MQTT's largest packet: a 4-byte remaining length (268435455) plus the fixed header. */
const MAX_PACKET = 268435460;

/**
 * MQTT over WebSocket (`ws://`, `wss://`; subprotocol "mqtt"): the connection cosocket's own
 * socket connects, then the WebSocket handshake runs on it. MQTT packets travel as binary
 * messages; reads hand over the bytes of each frame piece as they arrive (the MQTT decoder does
 * not care where messages or frames begin).
 */
export function wsTransport(o: WsTransportOptions = {}): Transport {
  const secure = o.tls !== undefined;
  return Object.freeze({
    name: secure ? "wss" : "ws",
    defaultPort: secure ? 443 : 80,
    async open(sock: Socket, host: string, port: number, options: TransportOptions): Promise<MqttStream> {
      await sock.connect(host, port, { timeout: options.timeout, nodelay: true, tls: o.tls });
      const url = `${secure ? "wss" : "ws"}://${host}:${port}${o.path ?? "/mqtt"}`;
      const ws = await wsConnect(sock.rt, url, {
        socket: sock,
        protocols: ["mqtt"],
        timeout: options.timeout,
        maxFrame: o.maxFrame ?? MAX_PACKET,
      });
      if (ws.protocol !== "mqtt") {
        await ws.close(1002, "subprotocol mqtt required");
        throw new SocketError("invalidsocketcon", `the broker at ${url} did not agree to the mqtt subprotocol`);
      }
      return {
        async read(timeout?: number): Promise<Uint8Array | null> {
          const piece = await ws.read(timeout);
          return piece ? piece.data : null;
        },
        write: (data: Uint8Array) => ws.write(data, false),
        trywrite: (data: Uint8Array) => ws.trywrite(data, false),
        close: () => ws.close(),
      };
    },
  });
}

/**
 * How the client reaches a broker. A transport opens a byte stream inside the client's connection
 * cosocket (whose own socket it is given) and returns something to read MQTT bytes from and write
 * them to. Plain TCP is the socket itself; MQTT over TLS (`mqtts`) and over WebSocket (`ws`,
 * subprotocol "mqtt") slot in as further transports once the runtime has TLS and WebSocket
 * clients: each returns a stream whose `read` yields bytes in any chunking (the decoder does not
 * care about message boundaries) and whose `write` takes whole MQTT packets.
 */
import type { Socket } from "../../src/index.js";

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

/**
 * A scripted Modbus TCP server on node:net for the client's fault tests: it cuts request frames
 * out of the stream with its own code (not ours) and hands each to a handler that answers when,
 * how and if it likes.
 */
import { createServer, type AddressInfo, type Server, type Socket as NetSocket } from "node:net";

export interface RawRequest {
  tid: number;
  unit: number;
  pdu: Buffer;
  conn: NetSocket;
}

export interface FakeServer {
  port: number;
  requests: RawRequest[];
  connections: NetSocket[];
  stop(): Promise<void>;
}

/** An ADU for a response PDU. */
export function adu(tid: number, unit: number, pdu: number[] | Buffer, protocol = 0): Buffer {
  const p = Buffer.from(pdu);
  const b = Buffer.alloc(7 + p.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeUInt16BE(p.length + 1, 4);
  b[6] = unit;
  p.copy(b, 7);
  return b;
}

/** The normal response to a read of registers: `values`. */
export function registersPdu(fc: number, values: number[]): Buffer {
  const b = Buffer.alloc(2 + values.length * 2);
  b[0] = fc;
  b[1] = values.length * 2;
  values.forEach((v, i) => b.writeUInt16BE(v, 2 + i * 2));
  return b;
}

export async function startFakeServer(handler: (r: RawRequest) => void): Promise<FakeServer> {
  const requests: RawRequest[] = [];
  const connections: NetSocket[] = [];
  const server: Server = createServer((conn) => {
    connections.push(conn);
    conn.on("error", () => conn.destroy());
    let buf = Buffer.alloc(0);
    conn.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
        const n = 6 + buf.readUInt16BE(4);
        const r = { tid: buf.readUInt16BE(0), unit: buf[6], pdu: buf.subarray(7, n), conn };
        buf = buf.subarray(n);
        requests.push(r);
        handler(r);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections,
    stop: () =>
      new Promise<void>((r) => {
        for (const c of connections) c.destroy();
        server.close(() => r());
      }),
  };
}

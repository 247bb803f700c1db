/**
 * The per-socket statistics (`rt.sockets()`, `rt.socketStats()`, a socket's `bytesIn`, `bytesOut`,
 * `age`) and the runtime's traffic totals in `stat()`, on the simulated network: exact byte
 * counts, the queue and its writers against a stalled peer, top-N by each sort key, and the age on
 * the virtual clock.
 */
import { Runtime, SocketError, type Socket } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { until } from "../support/util.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

function net() {
  const sim = new SimNetwork({ seed: 7 });
  const server = new Runtime(sim.host(SERVER));
  const client = new Runtime(sim.host(CLIENT));
  return { sim, server, client };
}

/** A server whose cosockets echo each line back; the accepted sockets are kept. */
async function lineEcho(rt: Runtime): Promise<{ port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const l = await rt.bind(0, { intf: SERVER });
  l.event(async (ls: Socket) => {
    for (;;) {
      const s = await ls.accept();
      if (!s) return;
      accepted.push(s);
      s.event(async (c: Socket) => {
        for (;;) {
          const line = await c.readLine();
          if (line === null) return;
          await c.write(line + "\n");
        }
      }, "s");
    }
  }, "s");
  return { port: l.sockname()!.port, accepted };
}

describe("per-socket statistics", () => {
  it("count each connection's bytes in and out exactly, on both ends, and the runtime's totals", async () => {
    const { server, client } = net();
    try {
      const { port, accepted } = await lineEcho(server);
      const before = { s: server.stat(), c: client.stat() };
      expect(before.s.bytesIn).toBe(0);
      expect(before.c.bytesOut).toBe(0);
      const sizes = [5, 100, 3000];
      const socks: Socket[] = [];
      for (const n of sizes) {
        const s = await client.connect(SERVER, port);
        socks.push(s);
        const line = "x".repeat(n - 1) + "\n"; // n bytes with the newline
        await s.write(line);
        await s.write(line); // twice: 2n out, 2n back
        expect(await s.readExactly(2 * n, { timeout: 5000 })).not.toBeNull();
      }
      await until(server, () => accepted.length === 3 && accepted.every((a) => a.queued === 0), 5000, "echoes sent");
      for (let i = 0; i < sizes.length; i++) {
        const n = sizes[i]!;
        expect([socks[i]!.bytesOut, socks[i]!.bytesIn]).toEqual([2 * n, 2 * n]);
        expect([accepted[i]!.bytesIn, accepted[i]!.bytesOut]).toEqual([2 * n, 2 * n]);
      }
      const total = 2 * (5 + 100 + 3000);
      expect(client.stat()).toMatchObject({ bytesIn: total, bytesOut: total });
      expect(server.stat()).toMatchObject({ bytesIn: total, bytesOut: total });

      // the rows: the client's three connections, the largest traffic first
      const st = client.socketStats({ sort: "bytes" });
      expect(st.total).toBe(3);
      expect(st.rows.map((r) => r.bytesIn)).toEqual([6000, 200, 10]);
      const row = st.rows[0]!;
      expect(row).toEqual({
        kind: "tcp",
        mode: "blocking",
        wrapped: false,
        local: `${CLIENT}:${socks[2]!.sockname()!.port}`,
        peer: `${SERVER}:${port}`,
        state: "exec",
        bytesIn: 6000,
        bytesOut: 6000,
        queued: 0,
        queuelen: 16384,
        writers: 0,
        age: 0,
      });
      // the server: the listener and three cosockets (waiting in read)
      const ss = server.socketStats({ sort: "bytesOut", limit: 10 });
      expect(ss.total).toBe(4);
      expect(ss.rows.map((r) => [r.kind, r.mode, r.state, r.bytesOut])).toEqual([
        ["tcp", "cosocket", "read", 6000],
        ["tcp", "cosocket", "read", 200],
        ["tcp", "cosocket", "read", 10],
        ["listener", "cosocket", "accept", 0],
      ]);
      expect(ss.rows[3]!.local).toBe(`${SERVER}:${port}`);
      expect(ss.rows[3]!.peer).toBe("");
      expect([...server.sockets()].length).toBe(4);

      // closed sockets leave the list; their bytes stay in the totals
      socks[0]!.close();
      expect(client.socketStats().total).toBe(2);
      expect(client.stat().bytesIn).toBe(total);
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });

  it("show a stalled peer's connection: queued bytes up to the queue length, then suspended writers; draining to 0", async () => {
    const { server, client } = net();
    try {
      // a server that accepts and does not read until told
      let go!: () => void;
      const resume = new Promise<void>((r) => (go = r));
      let got = 0;
      const l = await server.bind(0, { intf: SERVER });
      l.event(async (ls: Socket) => {
        const s = await ls.accept();
        if (!s) return;
        await resume;
        for (;;) {
          const b = await s.read();
          if (!b) return;
          got += b.length;
        }
      });
      const sock = await client.connect(SERVER, l.sockname()!.port);
      // non-suspending writes until "queue full": trywrite answers with the queued count
      const chunk = new Uint8Array(1000);
      let accepted = 0;
      let report: true | number = true;
      while ((report = sock.trywrite(chunk)) === true) accepted++;
      expect(report).toBe(sock.queued);
      const queuelen = sock.queuelen();
      let row = client.socketStats({ limit: 1 }).rows[0]!;
      expect(row.queued).toBe(report);
      expect(row.queued).toBeGreaterThanOrEqual(queuelen);
      expect(row.queuelen).toBe(queuelen);
      expect(row.writers).toBe(0);
      // two suspending writers on top (the socket is no cosocket: a plain write waits for the host)
      const done: number[] = [];
      for (const i of [1, 2]) void sock.write(new Uint8Array(500)).then(() => done.push(i));
      row = client.socketStats({ limit: 1 }).rows[0]!;
      expect([row.writers, row.queued, row.state]).toEqual([2, report + 1000, "write"]);
      expect(client.stat().suspendedWriters).toBe(2);
      // the peer reads: the queue drains, the writers resume, every byte counted
      go();
      const all = accepted * 1000 + 1000;
      await until(server, () => got === all, 20000, "all bytes at the server");
      await until(client, () => done.length === 2, 5000, "writers resumed");
      row = client.socketStats({ limit: 1 }).rows[0]!;
      expect([row.queued, row.writers, row.bytesOut]).toEqual([0, 0, all]);
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });

  it("keep only the top `limit` rows, by each sort key, and the age follows the virtual clock", async () => {
    const { sim, server, client } = net();
    try {
      const { port } = await lineEcho(server);
      const socks: Socket[] = [];
      for (let i = 0; i < 20; i++) {
        socks.push(await client.connect(SERVER, port));
        await client.sleep(1000); // each one second younger than the one before
      }
      // socket i sends i+1 bytes
      for (let i = 0; i < 20; i++) {
        await socks[i]!.write("y".repeat(i) + "\n");
        await socks[i]!.readLine({ timeout: 5000 });
      }
      const top = client.socketStats({ sort: "bytesOut", limit: 5 });
      expect(top.total).toBe(20);
      expect(top.rows.map((r) => r.bytesOut)).toEqual([20, 19, 18, 17, 16]);
      const oldest = client.socketStats({ sort: "age", limit: 3 }).rows;
      expect(oldest.map((r) => r.local)).toEqual(socks.slice(0, 3).map((s) => `${CLIENT}:${s.sockname()!.port}`));
      const ages = oldest.map((r) => r.age);
      expect(ages[0]! - ages[1]!).toBe(1000);
      expect(ages[1]! - ages[2]!).toBe(1000);
      const t = sim.now;
      const age0 = socks[0]!.age;
      await client.sleep(5000);
      expect(sim.now - t).toBeGreaterThanOrEqual(5000);
      expect(socks[0]!.age - age0).toBeGreaterThanOrEqual(4000); // whole seconds
      expect(socks[0]!.age - age0).toBeLessThanOrEqual(6000);
      // ties (queued is 0 everywhere) keep the order the sockets opened in
      expect(client.socketStats({ limit: 2 }).rows.map((r) => r.local)).toEqual(oldest.slice(0, 2).map((r) => r.local));
      expect(client.socketStats({ limit: 0 })).toEqual({ total: 20, rows: [] });
      expect(() => client.socketStats({ sort: "nope" as "age" })).toThrow(SocketError);
      expect(() => client.socketStats({ limit: -1 })).toThrow(/limit >= 0/);
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });

  it("count UDP datagrams and show the socket", async () => {
    const { server, client } = net();
    try {
      const srv = await server.udpcon(5000);
      const c = await client.udpcon(SERVER, 5000);
      c.write("hello");
      c.write(new Uint8Array(300));
      expect((await srv.read(1000)).length).toBe(5);
      expect((await srv.read(1000)).length).toBe(300);
      expect([c.bytesOut, srv.bytesIn]).toEqual([305, 305]);
      const row = client.socketStats().rows[0]!;
      expect(row).toMatchObject({ kind: "udp", peer: `${SERVER}:5000`, bytesOut: 305, bytesIn: 0, queued: 0 });
      expect(server.stat()).toMatchObject({ bytesIn: 305, bytesOut: 0 });
    } finally {
      server.shutdown();
      client.shutdown();
    }
  });
});

describe("socketStats at 10 000 open sockets (what the console asks for every half second)", () => {
  it("one pass: the total counts them all, the answer holds only the top rows, its JSON stays small", async () => {
    const { server, client } = net();
    const { port, accepted } = await lineEcho(server);
    const n = 10_000;
    const socks: Socket[] = [];
    for (let i = 0; i < n; i += 500) socks.push(...(await Promise.all(Array.from({ length: 500 }, () => client.connect(SERVER, port)))));
    await until(server, () => accepted.length === n, 60_000, "every connection accepted");
    await socks[1234]!.write("x".repeat(2000) + "\n"); // one connection with traffic: it sorts first by bytes
    await until(server, () => accepted.some((a) => a.bytesOut === 2001), 10_000, "the echo");
    const stats = server.socketStats({ limit: 20, sort: "bytes" });
    expect(stats.total).toBe(n + 1); // the accepted connections and the listener
    expect(stats.rows).toHaveLength(20);
    expect(stats.rows[0]!.bytesIn + stats.rows[0]!.bytesOut).toBe(4002);
    expect(stats.rows[1]!.bytesIn + stats.rows[1]!.bytesOut).toBe(0);
    expect(JSON.stringify(stats).length).toBeLessThan(8000);
    expect(client.socketStats({ limit: 20 }).total).toBe(n);
    server.shutdown();
    client.shutdown();
  }, 120_000);
});

/** The SNTP example as a program, against chrony on loopback. */
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { exampleSntp } from "../../examples/sntp.js";
import { itWithPeer, startChrony, type Peer } from "../support/peers.js";

const itChrony = itWithPeer("chronyd", "apt-get install chrony");
let rt: Runtime;
let chrony: Peer | undefined;

beforeEach(() => {
  rt = new Runtime(nodeHost());
});
afterEach(async () => {
  rt.shutdown();
  await chrony?.stop();
  chrony = undefined;
});

describe("SNTP example", () => {
  itChrony("prints chrony's time, the offset and the round trip", async () => {
    chrony = await startChrony();
    const lines: string[] = [];
    const r = await exampleSntp(rt, "127.0.0.1", chrony.port, (l) => lines.push(l));
    expect(Math.abs(r.time - Date.now())).toBeLessThan(1000);
    expect(lines[0]).toMatch(/^NTP time: \d{4}-\d\d-\d\dT[\d:.]+Z from 127\.0\.0\.1 \(stratum 8\)$/);
    expect(lines[1]).toMatch(/^our clock is off by -?\d+\.\d ms; round trip \d+\.\d ms$/);
  });

  it("a server that does not answer ends in `timeout` after the retries", async () => {
    const lines: string[] = [];
    const e = await exampleSntp(rt, "127.0.0.1", 9, (l) => lines.push(l), 100).then(
      () => new Error("expected a timeout"),
      (x: Error) => x,
    );
    expect(e).toMatchObject({ code: "timeout" });
    expect(e.message).toMatch(/to 3 requests \(100 ms each\)/);
    expect(lines).toEqual([]);
  });
});

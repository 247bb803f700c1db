/** The dispatcher's fairness: bounded work per turn, FIFO order, the rest deferred to the host. */
import { Dispatcher, type Serviced } from "../../src/dispatcher.js";
import type { Host } from "../../src/host.js";

function fakeHost() {
  const deferred: (() => void)[] = [];
  const host = { defer: (fn: () => void) => deferred.push(fn) } as unknown as Host;
  return { host, deferred };
}

describe("dispatcher", () => {
  it("services ready sockets FIFO, at most turnBudget per turn, and defers the rest", () => {
    const { host, deferred } = fakeHost();
    const d = new Dispatcher(host, 3, () => undefined);
    const order: string[] = [];
    let busyLeft = 10;
    const busy: Serviced = {
      inReadyQueue: false,
      service() {
        order.push("busy");
        if (--busyLeft > 0) d.ready(busy); // always has more work
      },
    };
    const quiet = (name: string): Serviced => ({ inReadyQueue: false, service: () => order.push(name) });
    const a = quiet("a");
    const b = quiet("b");
    // A host callback makes `busy` ready; while it is serviced, a and b become ready too.
    const starter: Serviced = {
      inReadyQueue: false,
      service() {
        order.push("start");
        d.ready(busy);
        d.ready(a);
        d.ready(b);
      },
    };
    d.ready(starter);
    // one turn ran synchronously, with a budget of 3: start, busy, a
    expect(order).toEqual(["start", "busy", "a"]);
    expect(deferred.length).toBe(1);
    while (deferred.length) deferred.shift()!();
    // b was not starved by busy: it ran before busy's second service
    expect(order.slice(0, 5)).toEqual(["start", "busy", "a", "b", "busy"]);
    expect(order.filter((x) => x === "busy").length).toBe(10);
    expect(d.turns).toBeGreaterThanOrEqual(4);
  });

  it("a socket made ready twice is queued once; a throwing service does not stop the turn", () => {
    const { host } = fakeHost();
    const logged: string[] = [];
    const d = new Dispatcher(host, 64, (m) => logged.push(m));
    const seen: string[] = [];
    const bad: Serviced = {
      inReadyQueue: false,
      service: () => {
        throw new Error("boom");
      },
    };
    const good: Serviced = { inReadyQueue: false, service: () => seen.push("good") };
    const starter: Serviced = {
      inReadyQueue: false,
      service() {
        d.ready(bad);
        d.ready(good);
        d.ready(good);
      },
    };
    d.ready(starter);
    expect(seen).toEqual(["good"]);
    expect(logged[0]).toMatch(/boom/);
  });
});

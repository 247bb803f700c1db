/** The base layer's queues (src/base/): FIFO order across compactions, and byte accounting. */
import { Queue } from "../../src/base/queue.js";
import { ByteQueue } from "../../src/base/byte-queue.js";
import { OutQueue } from "../../modules/mqtt/queue.js";

describe("Queue", () => {
  it("hands items out in the order they came, across pushes between shifts and compactions", () => {
    const q = new Queue<number>();
    const out: number[] = [];
    let next = 0;
    // shift fewer than pushed each round, so the head runs far past 32 before the array empties
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) q.push(next++);
      for (let i = 0; i < 5; i++) out.push(q.shift()!);
      expect(q.length).toBe(next - out.length);
      expect(q.peek()).toBe(out.length);
      expect(q.at(1)).toBe(out.length + 1);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it("retain keeps the accepted items in order; drain and clear empty it", () => {
    const q = new Queue<number>();
    for (let i = 0; i < 10; i++) q.push(i);
    q.shift();
    q.retain((n) => n % 3 !== 0);
    expect(q.drain()).toEqual([1, 2, 4, 5, 7, 8]);
    expect(q.length).toBe(0);
    q.push(1);
    q.clear();
    expect(q.shift()).toBeUndefined();
    expect(q.at(-1)).toBeUndefined();
  });
});

describe("ByteQueue", () => {
  const bytes = (...v: number[]) => Uint8Array.from(v);

  it("read hands out views of the head chunk, a partly read chunk keeps its offset", () => {
    const q = new ByteQueue();
    const a = bytes(1, 2, 3);
    q.push(a);
    q.push(new Uint8Array(0)); // ignored
    q.push(bytes(4, 5));
    expect(q.bytes).toBe(5);
    expect(q.length).toBe(2);
    const first = q.read(2)!;
    expect([...first]).toEqual([1, 2]);
    expect(first.buffer).toBe(a.buffer); // a view, not a copy
    expect([...q.read(0)!]).toEqual([]);
    expect([...q.read()!]).toEqual([3]);
    expect([...q.read(10)!]).toEqual([4, 5]);
    expect(q.read()).toBeUndefined();
    expect(q.bytes).toBe(0);
  });

  it("take joins bytes that span chunks and counts what is left", () => {
    const q = new ByteQueue();
    q.push(bytes(1, 2));
    q.push(bytes(3));
    q.push(bytes(4, 5, 6));
    expect([...q.take(1)]).toEqual([1]);
    expect([...q.take(4)]).toEqual([2, 3, 4, 5]);
    expect(q.bytes).toBe(1);
    expect([...q.take(9)]).toEqual([6]);
    expect(q.take(3).byteLength).toBe(0);
    q.push(bytes(7));
    q.clear();
    expect(q.bytes).toBe(0);
    expect(q.read()).toBeUndefined();
  });
});

describe("MQTT OutQueue", () => {
  it("counts the sizes of what it holds through push, shift, retain and drain", () => {
    const q = new OutQueue<{ size: number; id: number }>();
    for (let id = 0; id < 5; id++) q.push({ size: 10 + id, id });
    expect(q.bytes).toBe(60);
    expect(q.shift()!.id).toBe(0);
    expect(q.bytes).toBe(50);
    q.retain((j) => j.id !== 2);
    expect(q.bytes).toBe(38);
    expect(q.drain().map((j) => j.id)).toEqual([1, 3, 4]);
    expect(q.bytes).toBe(0);
  });
});

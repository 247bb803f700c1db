/** Waiting on MQTT clients by their events (no fixed sleeps), and collecting what they receive. */
import { decodeUtf8 } from "../../src/index.js";
import type { MqttClient, Message } from "../../modules/mqtt/index.js";

const LIMIT = 15000;

/** Resolves when `cond()` holds, re-checked by `poke()`; fails after `limit` ms. */
export class Signal {
  #waiters = new Set<() => void>();

  poke(): void {
    for (const w of [...this.#waiters]) w();
  }

  until(cond: () => boolean, what: string, limit = LIMIT): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(t);
        this.#waiters.delete(check);
        resolve();
      };
      const t = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, limit);
      this.#waiters.add(check);
    });
  }
}

/** Everything a client receives, with waits on it. */
export class Inbox {
  readonly messages: Message[] = [];
  readonly signal = new Signal();

  constructor(client: MqttClient) {
    client.on("message", (m) => {
      this.messages.push(m);
      this.signal.poke();
    });
  }

  get texts(): string[] {
    return this.messages.map((m) => decodeUtf8(m.payload));
  }

  /** Resolves once `n` messages (in total) have come. */
  async count(n: number, limit = LIMIT): Promise<Message[]> {
    await this.signal.until(() => this.messages.length >= n, `${n} messages (have ${this.messages.length})`, limit);
    return this.messages.slice(0, n);
  }

  /** Resolves with the first message for which `pred` holds. */
  async find(pred: (m: Message) => boolean, what = "a message", limit = LIMIT): Promise<Message> {
    await this.signal.until(() => this.messages.some(pred), what, limit);
    return this.messages.find(pred)!;
  }
}

/** The next value of a client event. */
export function next<T>(client: MqttClient, event: "connect" | "disconnect" | "close" | "error", limit = LIMIT): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fn = (v: unknown) => {
      clearTimeout(t);
      client.off(event, fn);
      resolve(v as T);
    };
    const t = setTimeout(() => {
      client.off(event, fn);
      reject(new Error(`timed out waiting for "${event}"`));
    }, limit);
    client.on(event, fn);
  });
}

/**
 * Marks the promises of `client`'s operations as handled, so that a test failing before it
 * awaits one does not crash the worker when the client is closed afterwards (awaiting them still
 * gives their rejection).
 */
export function quiet(client: MqttClient): MqttClient {
  const c = client as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["connect", "publish", "subscribe", "unsubscribe", "disconnect"]) {
    const f = c[name].bind(client);
    c[name] = (...a: unknown[]) => {
      const p = f(...a) as Promise<unknown>;
      p.catch(() => undefined);
      return p;
    };
  }
  return client;
}

/**
 * A scripted MQTT server on loopback for what a real broker will not do on demand: stop
 * answering, send topic aliases, a small Receive Maximum, failure reason codes, bad packets, or
 * drop the connection with messages unacknowledged. It parses and generates with mqtt-packet
 * (an independent codec), so it also cross-checks what our client puts on the wire.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import * as mqttPacket from "mqtt-packet";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { MqttClient, type MqttClientOptions } from "../../modules/mqtt/index.js";
import { Signal, quiet } from "./helpers.js";

export type Received = mqttPacket.Packet & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class FakeConnection {
  readonly packets: Received[] = [];
  readonly signal = new Signal();
  #read = 0;
  ended = false;

  constructor(
    readonly socket: Socket,
    readonly version: 4 | 5,
  ) {
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on("packet", (p) => {
      this.packets.push(p as Received);
      this.signal.poke();
    });
    parser.on("error", (e) => {
      this.packets.push({ cmd: "error", message: e.message } as unknown as Received);
      this.signal.poke();
    });
    socket.on("data", (d) => parser.parse(d));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.ended = true;
      this.signal.poke();
    });
  }

  /** The next packet not yet taken (of `cmd`, skipping others when given). */
  async next(cmd?: string, limit = 10000): Promise<Received> {
    const find = () => {
      for (let i = this.#read; i < this.packets.length; i++) if (!cmd || this.packets[i].cmd === cmd) return i;
      return -1;
    };
    await this.signal.until(() => find() >= 0, `a ${cmd ?? "packet"} from the client`, limit);
    const i = find();
    this.#read = i + 1;
    return this.packets[i];
  }

  /** Resolves when the client has closed the connection. */
  closed(limit = 10000): Promise<void> {
    return this.signal.until(() => this.ended, "the client to close the connection", limit);
  }

  send(packet: Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: this.version }));
  }

  sendRaw(bytes: number[] | Uint8Array): void {
    this.socket.write(Uint8Array.from(bytes));
  }

  /** Reads CONNECT and answers CONNACK (with MQTT 5 `properties`). */
  async accept(options: { sessionPresent?: boolean; properties?: Record<string, unknown> } = {}): Promise<Received> {
    const connect = await this.next("connect");
    const connack: Record<string, unknown> = { cmd: "connack", sessionPresent: options.sessionPresent ?? false };
    if (this.version === 5) {
      connack.reasonCode = 0;
      if (options.properties) connack.properties = options.properties;
    } else connack.returnCode = 0;
    this.send(connack);
    return connect;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export class FakeBroker {
  readonly connections: FakeConnection[] = [];
  readonly signal = new Signal();
  #taken = 0;
  port = 0;

  private constructor(
    readonly server: Server,
    readonly version: 4 | 5,
  ) {}

  static async start(version: 4 | 5): Promise<FakeBroker> {
    const server = createServer();
    const b = new FakeBroker(server, version);
    server.on("connection", (s) => {
      b.connections.push(new FakeConnection(s, version));
      b.signal.poke();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    b.port = (server.address() as AddressInfo).port;
    return b;
  }

  /** The next connection not yet taken. */
  async connection(limit = 10000): Promise<FakeConnection> {
    await this.signal.until(() => this.connections.length > this.#taken, "a connection from the client", limit);
    return this.connections[this.#taken++];
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A test file's set-up for a client against scripted brokers on loopback: a fresh runtime per
 * test (`rt`), brokers from `fake()` and clients from `client()` (with `defaults` under the given
 * options; events logged by nothing), all closed after each test.
 */
export function scriptedBrokers(defaults: Partial<MqttClientOptions> = {}) {
  let rt: Runtime;
  let clients: MqttClient[] = [];
  let fakes: FakeBroker[] = [];
  beforeEach(() => {
    rt = new Runtime(nodeHost());
    clients = [];
    fakes = [];
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    rt.shutdown();
    await Promise.all(fakes.map((f) => f.stop()));
  });
  return {
    get rt(): Runtime {
      return rt;
    },
    async fake(v: 4 | 5): Promise<FakeBroker> {
      const f = await FakeBroker.start(v);
      fakes.push(f);
      return f;
    },
    client(f: FakeBroker, options: Partial<MqttClientOptions> = {}): MqttClient {
      const c = new MqttClient(rt, {
        host: "127.0.0.1",
        port: f.port,
        protocolVersion: f.version,
        reconnect: false,
        ...defaults,
        ...options,
      });
      clients.push(c);
      return quiet(c);
    },
  };
}

/**
 * The runtime's Error subclasses name themselves with a `name` getter on the class, never with
 * `this.name = …`: a device freezes Error.prototype, and assigning a property a frozen prototype
 * has throws ("TypeError: set name: not writable"). Under jest this suite freezes the intrinsics'
 * Error prototypes itself; `npm run test:xs` runs it with every built-in frozen.
 */
import { SocketError } from "../../src/errors.js";
import { HttpError } from "../../src/http/head.js";
import { MqttError } from "../../modules/mqtt/errors.js";
import { ModbusError, ModbusFrameError } from "../../modules/modbus/errors.js";
import { NtpError } from "../../modules/ntp/client.js";

const made: [string, () => Error, string][] = [
  ["SocketError", () => new SocketError("timeout", "read"), "SocketError: timeout: read"],
  ["HttpError", () => new HttpError(400, "Bad Request"), "HttpError: 400 Bad Request"],
  ["MqttError", () => new MqttError("closed"), "MqttError: closed"],
  ["ModbusError", () => new ModbusError(2, 3), "ModbusError: Modbus exception 2 (IllegalDataAddress) to function 3"],
  ["ModbusFrameError", () => new ModbusFrameError("short frame"), "ModbusFrameError: short frame"],
  ["NtpError", () => new NtpError("short", "12 bytes"), "NtpError: short: 12 bytes"],
];

describe("Error subclasses with frozen built-ins", () => {
  beforeAll(() => {
    Object.freeze(Error.prototype);
    Object.freeze(Object.prototype);
  });

  it("assigning a name the frozen Error.prototype has throws (the device's override mistake)", () => {
    class Assigning extends Error {
      constructor() {
        super("x");
        this.name = "Assigning";
      }
    }
    expect(() => new Assigning()).toThrow(TypeError);
  });

  it.each(made)("%s: constructed, named by its class, printed as before", (name, make, text) => {
    const e = make();
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe(name);
    expect(String(e)).toBe(text);
    expect(Object.hasOwn(e, "name")).toBe(false);
  });
});

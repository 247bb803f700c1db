/**
 * The runtime as the modules see it. Modules import the runtime through this file
 * (`../cosock.js`) rather than `../../src/...`: on the device XS resolves a relative specifier
 * with a single leading `../` only (see docs/device.md), and this file is one level from src/.
 */
export * from "../src/index.js";
export { wsConnect } from "../src/websocket/handshake.js";
/** The queue of the layer below the runtime (src/base/), for the modules' own FIFOs. */
export { Queue } from "../src/base/queue.js";

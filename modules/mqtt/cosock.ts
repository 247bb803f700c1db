/**
 * The runtime as the MQTT flows (modules/mqtt/flows/) see it: XS on the device resolves a relative
 * specifier with a single leading `../` only, so a flow cannot reach modules/cosock.ts
 * (`../../cosock.js`) itself; it imports this file (`../cosock.js`), one level up.
 */
export * from "../cosock.js";

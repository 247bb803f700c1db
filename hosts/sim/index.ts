/**
 * hosts/sim — a deterministic in-memory network on a virtual clock, a
 * first-class implementation of the host seam (`src/host.ts`).
 * ES2022 only: no Node APIs; runs under Node (jest) and XS alike.
 * Semantics: hosts/sim/README.md.
 */
export { SimNetwork } from "./network.js";
export type { SimNetworkOptions, SimStats } from "./network.js";
export { SimHost, DEFAULT_EPOCH } from "./host.js";
export type { SimConnection } from "./connection.js";
export { LINK_DEFAULTS } from "./link.js";
export type { LinkOptions } from "./link.js";
export { UNREACHABLE_TIMEOUT } from "./tcp.js";
export { UDP_QUEUE_LIMIT, MAX_DATAGRAM } from "./udp.js";
export { standInCA, standInSelfSigned, STANDIN_CIPHER, STANDIN_MAX_RECORD, ALERT as STANDIN_ALERT } from "./tls-standin.js";
export type { StandInCredentials, StandInIssueOptions, StandInCertificate } from "./tls-standin.js";
export type { Endpoint } from "../../src/host.js";

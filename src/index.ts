/** cosock: the runtime's public API. */
export { Runtime, type Stat, type SocketStats, type SocketStatsOptions, type SocketSortKey } from "./runtime.js";
export {
  Socket,
  type SocketState,
  type CoMode,
  type ConnectOptions,
  type BindOptions,
  type Cosocket,
  type SocketStat,
  type SocketKind,
  type SocketMode,
} from "./socket/socket.js";
export { UdpSocket, type UdpOptions } from "./udp.js";
export { WorkerPool, type PoolOptions } from "./pool.js";
export { SocketError, isSocketError, type SocketErrorCode } from "./errors.js";
export { defaults, type RuntimeOptions } from "./options.js";
export { n2h, h2n, toBytes, concat, type Payload } from "./bytes.js";
export { encodeUtf8, decodeUtf8 } from "./base/utf8.js";
export {
  tlsDefaults,
  matchesName,
  type TLSOptions,
  type TLSServerOptions,
  type TrustError,
  type CipherInfo,
} from "./tls.js";
export type { ReadOptions } from "./readers.js";
export type * from "./host.js";

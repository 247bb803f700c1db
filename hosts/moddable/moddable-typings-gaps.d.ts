/**
 * What @moddable/typings 5.6 lacks or states differently from Moddable's implementation, and
 * nothing else. Each entry names the source it follows (Moddable SDK repository paths).
 * Each block merges into the typings' default-exported class (`export default interface` merges
 * with `export default class`). Used by `npm run typecheck:moddable` (hosts/moddable/tsconfig.json).
 */
import type { Buffer } from "embedded:io/_common";

declare module "embedded:io/socket/tcp" {
  export default interface TCP {
    /**
     * modules/io/socket/lwip/tcp.c xs_tcp_write: returns the free send buffer (tcp_sndbuf) after
     * the write; returns nothing once the connection has failed. The typings say `void`.
     */
    write(value: number | Buffer): number | undefined;
    /** xs_tcp_read: nothing when no byte is unread (the typings omit `undefined`). */
    read(byteLength?: number): ArrayBuffer | undefined;
  }
}

declare module "embedded:io/socket/listener" {
  export default interface Listener {
    /** modules/io/socket/lwip/listener.js: close() (missing from the typings). */
    close(): void;
  }
}

declare module "embedded:io/socket/udp" {
  export default interface UDP {
    /** xs_udp_read: nothing when no datagram waits. */
    read(): (ArrayBuffer & { address: string; port: number }) | undefined;
    /** xs_udp_close (missing from the typings). */
    close(): void;
  }
}

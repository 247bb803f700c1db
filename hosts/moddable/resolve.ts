/**
 * Host names to IPv4 addresses through Moddable's `embedded:network/dns/resolver/udp` (the lwIP
 * TCP constructor takes an address, never a name). One resolver per look-up, closed when it
 * answers: Moddable's resolver retries each server for 5 s, then reports an error.
 */
import type { PlatformResolver, PlatformResolverFactory } from "./platform.js";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Used when neither the options nor the platform name DNS servers. */
export const FALLBACK_DNS_SERVERS: readonly string[] = Object.freeze(["1.1.1.1", "8.8.8.8"]);

export function makeResolve(
  resolver: PlatformResolverFactory | undefined,
  servers: () => readonly string[] | undefined,
): (name: string) => Promise<string> {
  return (name) => {
    if (IPV4.test(name)) return Promise.resolve(name);
    if (name === "localhost") return Promise.resolve("127.0.0.1");
    if (name === "") return Promise.reject(new Error("cannot resolve an empty name"));
    if (!resolver) return Promise.reject(new Error(`cannot resolve "${name}": no DNS resolver on this host`));
    let list = servers();
    if (!list || list.length === 0) list = FALLBACK_DNS_SERVERS;
    return new Promise<string>((resolve, reject) => {
      let r: PlatformResolver | undefined;
      const done = () => {
        try {
          r?.close();
        } catch {
          /* closed already */
        }
      };
      try {
        r = resolver([...list]);
        r.resolve({
          host: name,
          onResolved(_host, address) {
            done();
            resolve(String(address));
          },
          onError() {
            done();
            reject(new Error(`cannot resolve "${name}"`));
          },
        });
      } catch (e) {
        done();
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  };
}

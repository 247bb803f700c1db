/** Name resolution for the seam: host names to numeric IPv4 addresses. */
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";

/** A numeric IPv4 address resolves to itself; other names go through the system resolver. */
export async function resolveIPv4(name: string): Promise<string> {
  if (isIPv4(name)) return name;
  if (name === "") throw new Error("cannot resolve an empty name");
  const { address } = await lookup(name, { family: 4 });
  if (!address) throw new Error(`cannot resolve "${name}"`);
  return address;
}

/**
 * Handing a TCP socket of the sim host to a new owner (STARTTLS: the TLS stand-in takes over a
 * connected socket). Every socket `SimHost.tcp` returns may be handed over once; `takeOver`
 * gives the socket its new owner's callbacks, after which the first owner's are never called
 * again. Unread bytes stay in the socket for the new owner.
 */
import type { TCP, TCPCallbacks } from "../../src/host.js";

/** A TCP socket of the sim host: it reports to the callbacks it was last given. */
export interface Retargetable extends TCP {
  retarget(callbacks: TCPCallbacks): void;
}

/**
 * The sockets that may still be handed over (false: handed over once already). The socket calls
 * its current owner's callbacks itself, with no relay between: the runtime's readiness chain runs
 * on top of the host's frames, and on XS the device's stack is 384 slots.
 */
const handovers = new WeakMap<TCP, boolean>();

/** Makes a TCP socket whose callbacks a later owner may take over. */
export function relayed<O extends TCPCallbacks>(options: O, make: (options: O) => Retargetable): TCP {
  const tcp = make(options);
  handovers.set(tcp, false);
  return tcp;
}

/** From now on `tcp` reports to `callbacks` only. Throws if `tcp` is not this host's or was taken. */
export function takeOver(tcp: TCP, callbacks: TCPCallbacks): void {
  const taken = handovers.get(tcp);
  if (taken === undefined) throw new Error("not a TCP socket of the sim host");
  if (taken) throw new Error("this TCP socket was handed over already");
  handovers.set(tcp, true);
  (tcp as Retargetable).retarget(callbacks);
}

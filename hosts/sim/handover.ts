/**
 * Handing a TCP socket of the sim host to a new owner (STARTTLS: the TLS stand-in takes over a
 * connected socket). Every socket `SimHost.tcp` returns reports through a relay; `takeOver`
 * re-points the relay, after which the first owner's callbacks are never called again. Unread
 * bytes stay in the socket for the new owner.
 */
import type { HostErrorReason, TCP, TCPCallbacks } from "../../src/host.js";

class Relay {
  target: TCPCallbacks;
  taken = false;

  constructor(first: TCPCallbacks) {
    this.target = callbacksOf(first);
  }

  readonly onReadable = (count: number): void => this.target.onReadable?.call(this.target.target, count);
  readonly onWritable = (count: number): void => this.target.onWritable?.call(this.target.target, count);
  readonly onEnd = (): void => this.target.onEnd?.call(this.target.target);
  readonly onError = (reason: HostErrorReason): void => this.target.onError?.call(this.target.target, reason);
}

const relays = new WeakMap<TCP, Relay>();

/** Makes a TCP socket whose callbacks a later owner may take over. */
export function relayed<O extends TCPCallbacks>(options: O, make: (options: O) => TCP): TCP {
  const relay = new Relay(options);
  const tcp = make({
    ...options,
    onReadable: relay.onReadable,
    onWritable: relay.onWritable,
    onEnd: relay.onEnd,
    onError: relay.onError,
    target: undefined,
  });
  relays.set(tcp, relay);
  return tcp;
}

/** From now on `tcp` reports to `callbacks` only. Throws if `tcp` is not this host's or was taken. */
export function takeOver(tcp: TCP, callbacks: TCPCallbacks): void {
  const relay = relays.get(tcp);
  if (relay === undefined) throw new Error("not a TCP socket of the sim host");
  if (relay.taken) throw new Error("this TCP socket was handed over already");
  relay.taken = true;
  relay.target = callbacksOf(callbacks);
}

/** Just the callbacks and their target: the relay keeps nothing else of the options it was given. */
function callbacksOf(o: TCPCallbacks): TCPCallbacks {
  return { onReadable: o.onReadable, onWritable: o.onWritable, onEnd: o.onEnd, onError: o.onError, target: o.target };
}

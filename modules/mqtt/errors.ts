/**
 * The error the MQTT module throws. `code` says what happened in the seed's style (short,
 * lowercase); `reasonCode` is the MQTT 5 reason code where one applies (a malformed packet is
 * 0x81, a protocol error 0x82, an oversize packet 0x95, a refused CONNACK its code, ...).
 */
import { reasonName } from "./packet/reason-codes.js";

export type MqttErrorCode =
  | "malformed" // a packet that does not parse (reason code 0x81)
  | "protocolerror" // a packet that parses but breaks the protocol (0x82, or a more precise code)
  | "packettoolarge" // over a maximum packet size (0x95)
  | "incorrectuse" // an argument the codec or client cannot send (bad topic, QoS, size, ...)
  | "queuefull" // the client's outgoing queue is full: nothing was taken (`queued` says how much waits)
  | "connectionrefused" // CONNACK with a failure code (`reasonCode`)
  | "refused" // the server answered a PUBLISH with a failure code (`reasonCode`)
  | "disconnected" // the server sent DISCONNECT (`reasonCode`, `reasonString`)
  | "timeout" // no CONNACK in time, or keepalive: two PINGREQs without an answer
  | "connectionlost" // the network connection failed or the peer closed it
  | "storefailed" // the session store's save failed: the connection ends (nothing is sent unsaved)
  | "closed"; // the client was closed by the user; pending operations are refused with this

export class MqttError extends Error {
  readonly code: MqttErrorCode;
  /** The MQTT 5 reason code, when one applies. */
  readonly reasonCode?: number;
  /** The peer's reason string (MQTT 5), when it sent one. */
  reasonString?: string;
  /** For `queuefull`: bytes waiting in the outgoing queue. */
  queued?: number;

  constructor(code: MqttErrorCode, detail?: string, reasonCode?: number) {
    const rc = reasonCode === undefined ? "" : ` (0x${reasonCode.toString(16).padStart(2, "0")} ${reasonName(reasonCode)})`;
    super(`${code}${detail ? `: ${detail}` : ""}${rc}`);
    this.code = code;
    if (reasonCode !== undefined) this.reasonCode = reasonCode;
  }

  /** On the prototype, not per instance: the device freezes Error.prototype, where `this.name = …` throws. */
  override get name(): string {
    return "MqttError";
  }
}

export function isMqttError(e: unknown, code?: MqttErrorCode): e is MqttError {
  return e instanceof MqttError && (code === undefined || e.code === code);
}

/** A malformed packet (0x81). */
export function malformed(detail: string): MqttError {
  return new MqttError("malformed", detail, 0x81);
}

/** A protocol error (0x82 unless a more precise reason code is given). */
export function protocolError(detail: string, reasonCode = 0x82): MqttError {
  return new MqttError("protocolerror", detail, reasonCode);
}

/** `refused` with a failure reason code: the server's answer, or what its CONNACK said it does not take. */
export function refusal(code: number, reasonString: string | undefined, what: string): MqttError {
  const e = new MqttError("refused", `${what}${reasonString ? `: ${reasonString}` : ""}`, code);
  if (reasonString !== undefined) e.reasonString = reasonString;
  return e;
}

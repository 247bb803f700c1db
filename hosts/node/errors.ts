/** Translation of Node error codes into the seam's failure reasons. */
import type { HostErrorReason } from "../../src/host.js";

/** The `code` of a Node system error (`ECONNRESET`, …), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Why a TCP socket failed, from the code of the error Node reported. */
export function tcpErrorReason(code: string | undefined): HostErrorReason {
  switch (code) {
    case "ECONNREFUSED":
      return "refused";
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return "reset";
    case "ETIMEDOUT":
      return "timeout";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
    case "ENETDOWN":
      return "unreachable";
    default:
      return "error";
  }
}

/** Why a listener or UDP socket failed: "addrinuse" for a taken port, else Node's code as is. */
export function bindErrorReason(code: string | undefined): string {
  if (code === "EADDRINUSE") return "addrinuse";
  return code ?? "error";
}

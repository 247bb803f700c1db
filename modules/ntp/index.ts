/** SNTP on the runtime's UDP sockets: a client and the packet codec. */
export { sntp, sntpDefaults, NtpError, type SntpOptions, type SntpResult, type NtpErrorCode } from "./client.js";
export {
  NTP_PACKET_SIZE,
  NTP_UNIX_OFFSET,
  MODE,
  toNtp,
  fromNtp,
  decodePacket,
  encodePacket,
  clientRequest,
  referenceText,
  type NtpPacket,
  type NtpTimestamp,
} from "./packet.js";

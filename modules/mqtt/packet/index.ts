/** The MQTT packet codec: packet objects, encoding, streaming decoding, properties and reason codes. */
export * from "./types.js";
export { encode, publishSize, checkTopicFilter } from "./encode.js";
export { BODY_STEP, PacketDecoder, decode, type DecoderOptions } from "./decode.js";
export { PROPERTIES, propertyId, type PropertyContext } from "./properties.js";
export { ReasonCode, reasonName, isFailure, VALID_REASON_CODES } from "./reason-codes.js";

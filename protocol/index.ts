// The UnionPay POS ISO 8583 codec: pure (node built-ins only), no I/O. See protocol/README.md.
export { type FieldValue, type IsoMessage, type DecodeResult, type CompiledTable, encode, decode, compile, unionPayPos, TPDU_BYTES, HEADER_BYTES, MTI_OFFSET, BITMAP_OFFSET } from './codec.js';
export { CodecError, type CodecErrorKind, type PartialMessage } from './errors.js';
export { type Tpdu, responseTpdu } from './tpdu.js';
export { isRequestMti, responseMti } from './mti.js';
export { frame, unframe, Deframer, type DeframeItem, LENGTH_BYTES, FRAME_BODY_BYTES_LIMIT } from './framing.js';
export { type MacAlgorithm, computeMac, encodeWithMac, verifyMac, xorBlocks, MAC_BYTES } from './mac.js';
export { checkValue, wrapKey, unwrapKey, randomKey, withOddParity, formatSignOnKeys, parseSignOnKeys, CHECK_VALUE_BYTES } from './keys.js';
export { encryptPinBlock, decryptPinBlock, clearPinBlock } from './pin.js';
export { parseField60, formatField60, parseField61, formatField61, parseField63, formatField63, parseField44, formatField44, parseBatchTotals, formatBatchTotals, type Field60, type Field61, type BatchTotals, type Totals } from './subfields.js';
export { maskPan, maskPansIn, maskTrack, maskBytes, track2Pan } from './mask.js';
export { describe, messageFromJson, formatOf, MASKED_FIELDS, type Described, type DescribedField } from './describe.js';
export { unionPayPosFields } from './spec/unionpay-pos.js';
export { unionPayPosRequests } from './spec/messages.js';
export { field44, field48BatchTotals, field60, field61, field63, splitSubfields } from './spec/subfields.js';
export type { FieldSpec, FieldTable, Encoding, Prefix, SubfieldSpec, SubfieldTable } from './spec/types.js';

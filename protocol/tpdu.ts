// The 5-byte TPDU: id, destination address, source address (hex strings of 2, 4 and 4 characters).
export interface Tpdu { id: string; destination: string; source: string }

/** A response goes back the way the request came: destination and source swap. */
export function responseTpdu(t: Tpdu): Tpdu {
  return { id: t.id, destination: t.source, source: t.destination };
}

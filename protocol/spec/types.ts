// The shape of a declarative field table. A profile is data: one line per field, no per-field code.

/** n: BCD digits · z: BCD track nibbles (0-9, D for '=', A-F when encrypted) · an/ans: latin1 bytes · b: bytes. */
export type Encoding = 'n' | 'z' | 'an' | 'ans' | 'b';
/** fixed length, LLVAR (1 BCD byte of length) or LLLVAR (2 BCD bytes of length). */
export type Prefix = 'fixed' | 'LL' | 'LLL';

export interface FieldSpec {
  name: string;
  type: Encoding;
  /** Fixed: the exact length; variable: the maximum. Digits for n/z, characters for an/ans, bytes for b. */
  length: number;
  prefix: Prefix;
  /**
   * Where an odd digit count of n/z is padded. 'right' = right-aligned, pad nibble first (fixed n default);
   * 'left' = left-aligned, pad nibble last (variable fields default, and field 22 of this profile).
   */
  align?: 'left' | 'right';
}

export type FieldTable = { readonly [field: number]: FieldSpec };

/** A named part of a field whose value is a string (60, 61, 63, 44, 48 in 0500). */
export interface SubfieldSpec { id: string; name: string; length: number }
export interface SubfieldTable {
  field: number;
  parts: readonly SubfieldSpec[];
  /** Name given to whatever follows the named parts. */
  rest: string;
}

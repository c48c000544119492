/** Byte-array helpers shared by the weight readers and writers, the model loader and the tokenizer (internal). */

/** `parts` back to back in one new array, whose buffer holds exactly those bytes. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * A toy caption encoder (a `CaptionEncoder` function) for loader tests: per caption `start`, one
 * id per word (`offset` + the word's length), `end`, then zero padding, cut to the context length.
 */
export function wordLengthEncoder(
  start: number,
  offset: number,
  end: number,
): (texts: string[], contextLength: number) => Int32Array {
  return (texts, contextLength) => {
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, r) => {
      const ids = [start, ...t.split(' ').map((w) => offset + w.length), end].slice(0, contextLength);
      out.set(ids, r * contextLength);
    });
    return out;
  };
}

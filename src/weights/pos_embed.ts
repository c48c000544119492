import * as tf from '@tensorflow/tfjs-core';

/** Reference names of the two positional embeddings that {@link adaptStateDict} adapts, and defaults. */
export const POS_EMBED_DEFAULTS = {
  /** Prefix tokens (the class token) kept as they are by {@link resizePosEmbed}. */
  numPrefixTokens: 1,
  /** The image tower's positional embedding, `[1 + h·w, width]`. */
  visualKey: 'base_model.visual.positional_embedding',
  /** The text tower's positional embedding, `[contextLength, width]`. */
  textKey: 'base_model.positional_embedding',
} as const;

function checkGrid(arg: string, g: unknown): [number, number] {
  if (!Array.isArray(g) || g.length !== 2 || !g.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`resizePosEmbed(${arg}): expected [height, width] of positive integers, got ${JSON.stringify(g)}`);
  }
  return g as [number, number];
}

/**
 * Resamples a ViT positional embedding to another patch grid, as the reference's
 * `resize_pos_embed`: the first `numPrefixTokens` rows (class token) are kept, the grid rows are
 * reshaped to `[h0, w0]` (row-major), resized bilinearly with half-pixel centres (PyTorch's
 * `F.interpolate(mode='bilinear', align_corners=False)`) to `[h, w]`, and flattened back.
 *
 * @param posEmb `[numPrefixTokens + h0·w0, D]` float32.
 * @param oldGrid `[h0, w0]` of `posEmb`.
 * @param newGrid `[h, w]` wanted (e.g. `[24, 8]` for 384×128 crops with B/16).
 * @param numPrefixTokens rows kept unchanged; default 1.
 * @returns a new `[numPrefixTokens + h·w, D]` tensor the caller owns; `posEmb` is not disposed.
 * @example
 * const person = resizePosEmbed(square, [14, 14], [24, 8]); // 197×768 → 193×768
 */
export function resizePosEmbed(
  posEmb: tf.Tensor2D,
  oldGrid: [number, number],
  newGrid: [number, number],
  numPrefixTokens: number = POS_EMBED_DEFAULTS.numPrefixTokens,
): tf.Tensor2D {
  if (!(posEmb instanceof tf.Tensor) || posEmb.rank !== 2) {
    throw new Error(
      `resizePosEmbed(posEmb): expected a 2-D tensor [prefix + h0*w0, D], got ${posEmb instanceof tf.Tensor ? `shape [${posEmb.shape}]` : typeof posEmb}`,
    );
  }
  const [h0, w0] = checkGrid('oldGrid', oldGrid);
  const [h, w] = checkGrid('newGrid', newGrid);
  if (!Number.isSafeInteger(numPrefixTokens) || numPrefixTokens < 0) {
    throw new Error(`resizePosEmbed(numPrefixTokens): expected a non-negative integer, got ${numPrefixTokens}`);
  }
  const [rows, dim] = posEmb.shape;
  if (rows !== numPrefixTokens + h0 * w0) {
    throw new Error(
      `resizePosEmbed(posEmb): ${rows} rows do not match ${numPrefixTokens} prefix token(s) + a ${h0}×${w0} grid (${numPrefixTokens + h0 * w0})`,
    );
  }
  return tf.tidy(() => {
    const x = tf.cast(posEmb, 'float32');
    const prefix = tf.slice(x, [0, 0], [numPrefixTokens, dim]);
    const grid = tf.reshape(tf.slice(x, [numPrefixTokens, 0], [h0 * w0, dim]), [1, h0, w0, dim]);
    const resized = tf.reshape(tf.image.resizeBilinear(grid as tf.Tensor4D, [h, w], false, true), [h * w, dim]);
    return tf.concat([prefix, resized], 0) as tf.Tensor2D;
  });
}

/**
 * Keeps the first `contextLength` rows of a text positional embedding (for a model with a
 * shorter context than the checkpoint, e.g. 77 → 64).
 *
 * @param posEmb `[L, D]`.
 * @param contextLength rows to keep, `1 ≤ contextLength ≤ L`.
 * @returns a new `[contextLength, D]` tensor the caller owns.
 */
export function truncateTextPosEmbed(posEmb: tf.Tensor2D, contextLength: number): tf.Tensor2D {
  if (!(posEmb instanceof tf.Tensor) || posEmb.rank !== 2) {
    throw new Error(
      `truncateTextPosEmbed(posEmb): expected a 2-D tensor [L, D], got ${posEmb instanceof tf.Tensor ? `shape [${posEmb.shape}]` : typeof posEmb}`,
    );
  }
  if (!Number.isSafeInteger(contextLength) || contextLength < 1 || contextLength > posEmb.shape[0]) {
    throw new Error(
      `truncateTextPosEmbed(contextLength): expected an integer in [1, ${posEmb.shape[0]}] (rows of posEmb), got ${contextLength}`,
    );
  }
  return tf.slice(posEmb, [0, 0], [contextLength, posEmb.shape[1]]);
}

/** What {@link adaptStateDict} adapts a state_dict to. */
export interface AdaptTarget {
  /** The model's image patch grid `[ny, nx]` (e.g. `[24, 8]` for 384×128 with patch/stride 16). */
  grid: [number, number];
  /** The model's text context length (rows of `positional_embedding`). */
  contextLength: number;
  /**
   * The checkpoint's grid `[h0, w0]`; default: square, inferred from the row count (as the
   * reference does for CLIP's square 224-px grids).
   */
  sourceGrid?: [number, number];
}

/**
 * Adapts a state_dict under reference names to a model's geometry, as the reference does when it
 * loads CLIP weights: resizes `base_model.visual.positional_embedding` with
 * {@link resizePosEmbed} when its row count differs from `1 + ny·nx`, and truncates
 * `base_model.positional_embedding` when it has more rows than `contextLength`. Other entries are
 * passed through unchanged (same tensor objects).
 *
 * Ownership: the input map is consumed — the tensors it replaces are disposed; the returned map
 * (a new Map) holds the rest plus the new tensors, all owned by the caller.
 *
 * @throws Error when the visual embedding's grid cannot be inferred (non-square without
 * `sourceGrid`) or the text embedding is shorter than `contextLength`.
 * @example
 * model.loadStateDict(adaptStateDict(await loadCheckpoint('ViT-B-16.pt'), { grid: [24, 8], contextLength: 77 }));
 */
export function adaptStateDict(map: Map<string, tf.Tensor>, target: AdaptTarget): Map<string, tf.Tensor> {
  if (!(map instanceof Map))
    throw new Error(`adaptStateDict(map): expected a Map<string, tf.Tensor>, got ${typeof map}`);
  const [ny, nx] = checkGrid('target.grid', target?.grid);
  if (!Number.isSafeInteger(target.contextLength) || target.contextLength < 1) {
    throw new Error(`adaptStateDict(target.contextLength): expected a positive integer, got ${target.contextLength}`);
  }
  const out = new Map(map);
  const vis = map.get(POS_EMBED_DEFAULTS.visualKey);
  if (vis && vis.rank === 2 && vis.shape[0] !== 1 + ny * nx) {
    let source = target.sourceGrid;
    if (source === undefined) {
      const side = Math.round(Math.sqrt(vis.shape[0] - 1));
      if (side * side !== vis.shape[0] - 1) {
        throw new Error(
          `adaptStateDict: ${POS_EMBED_DEFAULTS.visualKey} has ${vis.shape[0]} rows, not 1 + a square grid; pass target.sourceGrid`,
        );
      }
      source = [side, side];
    }
    out.set(POS_EMBED_DEFAULTS.visualKey, resizePosEmbed(vis as tf.Tensor2D, source, [ny, nx]));
    vis.dispose();
  }
  const txt = map.get(POS_EMBED_DEFAULTS.textKey);
  if (txt && txt.rank === 2 && txt.shape[0] !== target.contextLength) {
    if (txt.shape[0] < target.contextLength) {
      throw new Error(
        `adaptStateDict: ${POS_EMBED_DEFAULTS.textKey} has ${txt.shape[0]} rows, fewer than target.contextLength ${target.contextLength}`,
      );
    }
    out.set(POS_EMBED_DEFAULTS.textKey, truncateTextPosEmbed(txt as tf.Tensor2D, target.contextLength));
    txt.dispose();
  }
  return out;
}

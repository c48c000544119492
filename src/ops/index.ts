/** Internal fast ops of the model (not part of the public API). */
export { type AttentionShape, attentionCore, causalMask } from './attention';
export { embeddingLookup } from './embedding';
export { LAYER_NORM_EPSILON, layerNorm, layerNormNd } from './layer_norm';
export { linear, linearNd } from './linear';
export { extractPatches } from './patches';
export { normalArray, Rng, uniformArray } from './random';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type IRRAConfig, validateConfig } from '../config';
import { CrossModalEncoder } from '../layers/cross_modal_encoder';
import { MlmHead } from '../layers/mlm_head';
import { TextTransformer, type TokenIds } from '../layers/text_transformer';
import { VisionTransformer } from '../layers/vision_transformer';
import {
  allocateUninitialized,
  constantInit,
  fromReferenceLayout,
  normalInit,
  prefixed,
  type ReferenceWeight,
  read1d,
  read2d,
  subSeed,
  toReferenceLayout,
  withUninitializedWeights,
  withWeightProvider,
} from '../layers/weights';
import { cmpmLoss, idLoss, itcLoss, mlmLoss, sdmLoss } from '../losses';
import { embeddingLookup } from '../ops/embedding';
import { linear } from '../ops/linear';
import { initSampler } from '../util/random';
import { inferConfig } from './infer_config';
import { type IRRALoadOptions, loadIRRA, type ModelSource } from './load';

/**
 * Which transformer stacks recompute their blocks in the backward pass (see
 * {@link IRRA.setGradientCheckpointing}); a stack left out is not checkpointed.
 */
export interface GradientCheckpointingPlan {
  /** The image tower's blocks. */
  vision?: boolean;
  /** The text tower's blocks. */
  text?: boolean;
  /** The fusion encoder's blocks (when the model has one). */
  fusion?: boolean;
}

/** Options of {@link IRRA.create}. */
export interface IRRACreateOptions {
  /** Seed of the weight initialization; the same seed gives the same weights. Default: random. */
  seed?: number;
  /**
   * Gradient checkpointing: `true` in every transformer block, or per stack
   * (see {@link IRRA.setGradientCheckpointing}). Default false.
   */
  gradientCheckpointing?: boolean | GradientCheckpointingPlan;
}

/**
 * One training batch. Every tensor stays owned by the caller. The ids and identities may be
 * tensors or their values in `Int32Array`s (what the tokenizer and the data loader hold): host
 * values are validated where they are, with no synchronous read-back (which stalls webgl and
 * webgpu), and uploaded for the forward pass. The type parameters narrow the fields for code that
 * builds one kind: the default is all tensors; {@link IRRA.computeLosses} and
 * {@link IRRA.forward} take either, `IRRABatch<TokenIds, HostOrTensor1D>`.
 */
export interface IRRABatch<Ids extends TokenIds = tf.Tensor2D, Vector extends HostOrTensor1D = tf.Tensor1D> {
  /** float32 NHWC `[B, H, W, 3]` images, normalized with CLIP's mean and std. */
  images: tf.Tensor4D;
  /** int32 `[B, contextLength]` caption ids, each row holding the end-of-text id. */
  captionIds: Ids;
  /** int32 `[B, contextLength]` masked caption ids (required when the config has 'mlm'). */
  mlmIds?: Ids;
  /** int32 `[B, contextLength]` MLM targets, 0 = not predicted (required with 'mlm'). */
  mlmLabels?: Ids;
  /** int32 `[B]` person identities, `0 <= pid < numClasses` when the config has 'id'. */
  pids: Vector;
  /** int32 `[B]` image ids for SDM's soft labels (optional). */
  imageIds?: Vector;
}

/**
 * An int32 vector `[B]`: a tensor, or its values in an `Int32Array` (checked in host memory, no
 * read-back).
 */
export type HostOrTensor1D = tf.Tensor1D | Int32Array;

/** A batch whose ids and identities may be tensors or host values. */
type AnyBatch = IRRABatch<TokenIds, HostOrTensor1D>;

/** What {@link IRRA.checkBatch} found: the batch size and the id values it checked. */
interface CheckedBatch {
  b: number;
  /** The caption ids' values (host memory, or read back once from a tensor). */
  captionIds: Int32Array;
  /** The MLM labels' values (with 'mlm'). */
  mlmLabels: Int32Array | null;
  /** The pids' values (with 'id', where their range is checked). */
  pids: Int32Array | null;
}

/** Losses and accuracies of {@link IRRA.computeLosses}: new scalars, owned by the caller. */
export interface IRRALosses {
  sdm_loss?: tf.Scalar;
  itc_loss?: tf.Scalar;
  cmpm_loss?: tf.Scalar;
  /** ID loss times `idLossWeight`. */
  id_loss?: tf.Scalar;
  /** MLM (IRR) loss times `mlmLossWeight`. */
  mlm_loss?: tf.Scalar;
  /** Share of images whose classifier argmax is their pid (with 'id'). */
  img_acc?: tf.Scalar;
  /** Share of captions whose classifier argmax is their pid (with 'id'). */
  txt_acc?: tf.Scalar;
  /** Share of labelled MLM positions predicted right (with 'mlm'). */
  mlm_acc?: tf.Scalar;
  /** `[B, embedDim]` global image features (only with `splitBatchLosses`). */
  image_feats?: tf.Tensor2D;
  /** `[B, embedDim]` global text features (only with `splitBatchLosses`). */
  text_feats?: tf.Tensor2D;
}

/** Options of {@link IRRA.computeLosses}. */
export interface ComputeLossesOptions {
  /**
   * Leave out the batch-level losses (SDM, ITC, CMPM: they compare every caption with every image
   * of the batch) and return the global features they take instead, `image_feats` and
   * `text_feats`: for data-parallel training, where each worker holds a slice of the batch and
   * one process computes {@link IRRA.batchLosses} over the whole batch. Default false.
   */
  splitBatchLosses?: boolean;
}

/**
 * The reference's training objective: the sum of the `*_loss` entries of
 * {@link IRRA.computeLosses} (`train.py`: `sum(v for k, v in ret.items() if "loss" in k)`), in
 * their key order. Returns a new scalar owned by the caller; `losses` stays the caller's.
 * @throws Error when `losses` holds no `*_loss` entry.
 */
export function totalLoss(losses: IRRALosses): tf.Scalar {
  const terms = Object.entries(losses)
    .filter(([k, v]) => k.endsWith('_loss') && v instanceof tf.Tensor)
    .map(([, v]) => v as tf.Scalar);
  if (terms.length === 0) {
    throw new Error(`totalLoss: losses holds no *_loss entry (got ${Object.keys(losses).join(', ') || 'nothing'})`);
  }
  return tf.addN(terms) as tf.Scalar;
}

/** Intermediate outputs of {@link IRRA.forward} (reference names): new tensors, owned by the caller. */
export interface IRRAForwardOutputs {
  /** `[B, numTokens, embed]` every image token after ln_post and proj. */
  image_seq: tf.Tensor3D;
  /** `[B, contextLength, embed]` every caption token after ln_final and text_projection. */
  text_seq: tf.Tensor3D;
  /** `[B, embed]` token 0 of `image_seq`. */
  image_feats: tf.Tensor2D;
  /** `[B, embed]` the end-of-text token of `text_seq`. */
  text_feats: tf.Tensor2D;
  /** `[B, contextLength, embed]` every token of the masked captions (with 'mlm'). */
  mlm_text_seq?: tf.Tensor3D;
  /** `[B, contextLength, embed]` the cross-modal encoder's output (with 'mlm'). */
  fused?: tf.Tensor3D;
  /** `[B, contextLength, vocab]` the MLM head's scores (with 'mlm'). */
  mlm_logits?: tf.Tensor3D;
}

const shapeOf = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

/** Throws unless `x` is an int32 vector: an `Int32Array`, or an int32 tensor of rank 1. */
function checkInt32Vector(x: HostOrTensor1D, name: string, b: number): void {
  if (x instanceof Int32Array) return;
  if (!(x instanceof tf.Tensor)) {
    throw new Error(`${name} must be int32 [${b}] (a tensor or an Int32Array), got ${typeof x}`);
  }
  if (x.rank !== 1 || x.dtype !== 'int32')
    throw new Error(`${name} must be int32 [${b}], got ${x.dtype} ${shapeOf(x)}`);
}

/** `x` as an int32 tensor `[B]`: the tensor itself, or host values uploaded (inside a tidy). */
function int32Vector(x: HostOrTensor1D): tf.Tensor1D {
  return x instanceof Int32Array ? tf.tensor1d(x, 'int32') : x;
}

/**
 * IRRA (Jiang & Ye, CVPR 2023): the CLIP image and text towers, the implicit-relation-reasoning
 * fusion (cross-modal encoder + MLM head) and the ID classifier, with the paper's losses.
 * Parameters live under the reference PyTorch names and are stored in the layout fastest for tfjs
 * (Linear kernels `[in, out]`); {@link IRRA.stateDict} / {@link IRRA.loadStateDict} speak the
 * reference layout.
 *
 * @example
 * ```ts
 * const model = IRRA.create(irraConfig({ preset: 'tiny' }), { seed: 1 });
 * const feats = model.encodeImage(tf.zeros([2, 32, 16, 3]) as tf.Tensor4D); // [2, 128]
 * feats.dispose();
 * model.dispose();
 * ```
 */
export class IRRA {
  /** The validated configuration. */
  readonly config: IRRAConfig;
  /** The image tower (`base_model.visual`). */
  readonly visual: VisionTransformer;
  /** The text tower (`base_model` text parts). */
  readonly text: TextTransformer;
  /** The fusion encoder (present when the config has 'mlm'). */
  readonly crossModal: CrossModalEncoder | null;
  /** The MLM head (present when the config has 'mlm'). */
  readonly mlmHead: MlmHead | null;
  private readonly classifierWeight: tfl.LayerVariable | null;
  private readonly classifierBias: tfl.LayerVariable | null;
  private readonly entries: ReferenceWeight[];
  private readonly byName: Map<string, ReferenceWeight>;
  /** What {@link IRRA.load} noticed about the checkpoint (e.g. "CLIP towers only"); empty otherwise. */
  readonly warnings: string[] = [];
  private disposed = false;

  private constructor(config: IRRAConfig, seed: number, initialize: boolean) {
    validateConfig(config);
    this.config = config;
    const towers = buildTowers(config, seed, initialize);
    this.visual = towers.visual;
    this.text = towers.text;
    const classifier = buildClassifier(config, seed, initialize);
    this.classifierWeight = classifier?.weight ?? null;
    this.classifierBias = classifier?.bias ?? null;
    const fusion = buildFusion(config, seed, initialize);
    this.crossModal = fusion?.crossModal ?? null;
    this.mlmHead = fusion?.mlmHead ?? null;
    this.entries = [
      ...towerEntries(this.visual, this.text),
      ...(classifier?.entries ?? []),
      ...(fusion?.entries ?? []),
    ];
    this.byName = new Map(this.entries.map((e) => [e.name, e]));
  }

  /**
   * A new model with the reference's random initialization (CLIP's `initialize_parameters` for the
   * towers, IRRA's `build.py` init for the fusion and classifier). Reproducible with `opts.seed`.
   * The caller owns the model: call {@link IRRA.dispose}.
   */
  static create(config: IRRAConfig, opts: IRRACreateOptions = {}): IRRA {
    const model = new IRRA(config, opts.seed ?? Math.floor(Math.random() * 2 ** 31), true);
    if (opts.gradientCheckpointing) model.setGradientCheckpointing(opts.gradientCheckpointing);
    return model;
  }

  /**
   * Turns gradient checkpointing on or off in every transformer block (image and text towers,
   * fusion encoder): with it, a training step keeps only each block's input on the gradient tape
   * and recomputes the block's activations in the backward pass. Losses and gradients are the
   * same; a step costs about one more forward pass of the blocks and needs far less memory (what a
   * ViT-B/16 step needs to fit the tfjs-wasm heap; figures in docs/performance.md).
   *
   * `on` is a boolean for every stack, or a {@link GradientCheckpointingPlan} per stack (a stack
   * it leaves out is not checkpointed): e.g. `{ vision: true }` checkpoints only the image tower,
   * which skips the text and fusion recomputation (docs/performance.md, "Training memory").
   */
  setGradientCheckpointing(on: boolean | GradientCheckpointingPlan): void {
    const plan = typeof on === 'boolean' ? { vision: on, text: on, fusion: on } : on;
    if (plan === null || typeof plan !== 'object' || Array.isArray(plan)) {
      throw new Error(
        `setGradientCheckpointing: on must be a boolean or { vision?, text?, fusion? } of booleans, got ${on === null ? 'null' : typeof on}`,
      );
    }
    for (const [key, value] of Object.entries(plan)) {
      if (!['vision', 'text', 'fusion'].includes(key) || (value !== undefined && typeof value !== 'boolean')) {
        throw new Error(
          `setGradientCheckpointing: on must be a boolean or { vision?, text?, fusion? } of booleans, got ${key}: ${JSON.stringify(value)}`,
        );
      }
    }
    this.visual.transformer.gradientCheckpointing = plan.vision === true;
    this.text.transformer.gradientCheckpointing = plan.text === true;
    if (this.crossModal) this.crossModal.transformer.gradientCheckpointing = plan.fusion === true;
  }

  /**
   * A model built from a state dict in reference names and layout (as saved by the reference
   * IRRA), inferring from the shapes what they tell, as `build_CLIP_from_openai_pretrained`:
   * widths, layers, patch size, context length, vocabulary, embedding width, `cmtDepth`,
   * `numClasses`, and heads = width / 64 (override when different). `overrides` supplies what
   * shapes cannot (`imageSize`, `strideSize`, `lossNames`, `temperature`, loss weights); without
   * `imageSize` the grid must be square with stride = patch. The map's tensors are copied; the
   * caller keeps ownership of them.
   *
   * @throws Error when a needed weight is missing or an override contradicts the shapes.
   */
  static fromStateDict(map: Map<string, tf.Tensor>, overrides: Partial<IRRAConfig> = {}): IRRA {
    const config = inferConfig(new Map([...map].map(([k, t]) => [k, t.shape])), overrides, 'IRRA.fromStateDict');
    return IRRA.filledWith(config, (model) => model.loadStateDict(map));
  }

  /**
   * A model of `config` whose parameters are filled one at a time from `weights`: for each
   * reference name, `weights(name)` returns a new float32 tensor in the reference (PyTorch)
   * layout, which is copied into the model and disposed at once — so a whole second copy of the
   * weights never exists (what {@link IRRA.load} uses to keep its peak memory low). Nothing is
   * randomly initialised.
   *
   * @throws Error (and disposes the half-built model) when `weights` returns nothing, a misshapen
   * tensor or a non-float32 one for a name.
   */
  static fromWeights(
    config: IRRAConfig,
    weights: (name: string, referenceShape: number[]) => tf.Tensor | undefined,
  ): IRRA {
    const order = IRRA.creationOrder(config);
    const variablesBefore = new Set(Object.keys(tf.engine().state.registeredVariables));
    let next = 0;
    try {
      // Each variable is made from its checkpoint tensor as the constructor creates it: the model
      // never holds placeholder storage that a second allocation would then replace.
      return withWeightProvider(
        (shape) => {
          const e = order[next++];
          const want = referenceShape(e);
          const t = weights(e.name, want);
          if (!t) throw new Error(`IRRA.fromWeights: no weight for '${e.name}', which the architecture needs`);
          try {
            if (!tf.util.arraysEqual(t.shape, want) || t.dtype !== 'float32') {
              throw new Error(`IRRA.fromWeights: '${e.name}' must be float32 [${want}], got ${t.dtype} ${shapeOf(t)}`);
            }
            const stored = fromReferenceLayout(t, e.layout);
            if (!tf.util.arraysEqual(stored.shape, shape)) {
              stored.dispose();
              throw new Error(`IRRA.fromWeights: '${e.name}' is stored as [${shape}], got [${stored.shape}]`);
            }
            return stored;
          } finally {
            t.dispose();
          }
        },
        () => new IRRA(config, 0, true),
      );
    } catch (e) {
      // The half-built model's variables are not reachable from here: free the ones it registered.
      for (const [name, v] of Object.entries(tf.engine().state.registeredVariables)) {
        if (!variablesBefore.has(name)) v.dispose();
      }
      throw e;
    }
  }

  /**
   * The reference weights of a model of `config` in the order its constructor creates them, found
   * by building it once with storage allocated but never written (no memory touched, no values).
   */
  private static creationOrder(config: IRRAConfig): ReferenceWeight[] {
    const created: tf.Tensor[] = [];
    const probe = withWeightProvider(
      (shape) => {
        const t = allocateUninitialized(shape);
        created.push(t);
        return t;
      },
      () => new IRRA(config, 0, true),
    );
    try {
      const byData = new Map(probe.entries.map((e) => [e.weight.read().dataId, e]));
      return created.map((t, i) => {
        const e = byData.get(t.dataId);
        if (!e) throw new Error(`IRRA.fromWeights: weight ${i} of the constructor has no reference name`);
        return { ...e, weight: { shape: e.weight.shape } as ReferenceWeight['weight'] };
      });
    } finally {
      probe.dispose();
    }
  }

  /**
   * A model of `config` built without initial values (no random draws, no zero fill), whose
   * parameters `fill` then writes; the model is disposed if `fill` throws.
   */
  private static filledWith(config: IRRAConfig, fill: (model: IRRA) => void): IRRA {
    const model = withUninitializedWeights(() => new IRRA(config, 0, true));
    try {
      fill(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  /**
   * Loads any checkpoint in one call and returns the model, its architecture inferred from the
   * shapes: IRRA `best.pth`, OpenAI's TorchScript `ViT-B-16.pt`, CLIP state dicts, Hugging Face
   * `model.safetensors`, `saveSafetensors` output, an `irra-tfjs train` checkpoint, or the tfjs
   * format of `saveWeights` — from a Node path, a URL, bytes, a Blob/File or a Map. See
   * {@link loadIRRA} for every option; the caller owns the model (`dispose()`).
   *
   * @example
   * const model = await IRRA.load('best.pth'); // 384×128 crops, stride 16: the reference's settings
   */
  static load(source: ModelSource, options: IRRALoadOptions = {}): Promise<IRRA> {
    return loadIRRA(source, options);
  }

  /** The logit scale of the similarity losses, `1 / temperature` (a constant, not learned). */
  get logitScale(): number {
    return 1 / this.config.temperature;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('IRRA: this model has been disposed');
  }

  /** Reference name → the tf.Variable as stored (not copies: training updates these). */
  namedParameters(): Map<string, tf.Variable> {
    this.assertLive();
    return new Map(this.entries.map((e) => [e.name, e.weight.read() as tf.Variable]));
  }

  /** Every parameter as a new tensor in the reference (PyTorch) layout; the caller owns them. */
  stateDict(): Map<string, tf.Tensor> {
    this.assertLive();
    return new Map(this.entries.map((e) => [e.name, toReferenceLayout(e.weight.read(), e.layout)]));
  }

  /**
   * Maps a tensor shaped like the stored variable `name` (its gradient, say) to the reference
   * layout. Returns a new tensor owned by the caller; `t` stays the caller's.
   */
  toReferenceLayout(name: string, t: tf.Tensor): tf.Tensor {
    const e = this.byName.get(name);
    if (!e) throw new Error(`IRRA.toReferenceLayout: no parameter named '${name}'`);
    if (!tf.util.arraysEqual(t.shape, e.weight.shape as number[])) {
      throw new Error(`IRRA.toReferenceLayout: '${name}' is stored as [${e.weight.shape}], got ${shapeOf(t)}`);
    }
    return toReferenceLayout(t, e.layout);
  }

  /**
   * Copies every parameter from a map of reference names → float32 tensors in the reference
   * layout. The map's tensors stay owned by the caller.
   *
   * @throws Error listing every missing, unexpected and misshapen name at once (nothing is loaded).
   */
  loadStateDict(map: Map<string, tf.Tensor>): void {
    this.assertLive();
    const missing: string[] = [];
    const misshapen: string[] = [];
    for (const e of this.entries) {
      const t = map.get(e.name);
      if (!t) {
        missing.push(e.name);
        continue;
      }
      const want = referenceShape(e);
      if (!tf.util.arraysEqual(t.shape, want)) misshapen.push(`${e.name} (expected [${want}], got ${shapeOf(t)})`);
      else if (t.dtype !== 'float32') misshapen.push(`${e.name} (expected float32, got ${t.dtype})`);
    }
    const unexpected = [...map.keys()].filter((k) => !this.byName.has(k));
    if (missing.length || unexpected.length || misshapen.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected: ${unexpected.join(', ')}`);
      if (misshapen.length) parts.push(`misshapen: ${misshapen.join(', ')}`);
      throw new Error(`IRRA.loadStateDict: the state dict does not match the model; ${parts.join('; ')}`);
    }
    for (const e of this.entries) {
      const stored = fromReferenceLayout(map.get(e.name) as tf.Tensor, e.layout);
      e.weight.write(stored);
      stored.dispose();
    }
  }

  /** Number of scalar parameters. */
  countParams(): number {
    return this.entries.reduce((s, e) => s + e.weight.shape.reduce((a, b) => (a as number) * (b as number), 1)!, 0);
  }

  /** Number of parameter tensors. */
  countTensors(): number {
    return this.entries.length;
  }

  /**
   * Global image features (token 0 after ln_post and proj) of float32 NHWC images
   * `[B, H, W, 3]` → new `[B, embedDim]`, owned by the caller.
   * @throws Error on a wrong rank, size, layout (NCHW) or dtype.
   */
  encodeImage(images: tf.Tensor4D): tf.Tensor2D {
    this.assertLive();
    return this.visual.pooled(images);
  }

  /**
   * Global text features (the end-of-text token) of int32 ids `[B, contextLength]` — a tensor, or
   * an `Int32Array` of rows as the tokenizer returns them (checked in host memory, no read-back) —
   * → new `[B, embedDim]`, owned by the caller.
   * @throws Error on a wrong shape or dtype, an id ≥ vocabSize, or a row with no end-of-text id.
   */
  encodeText(ids: TokenIds): tf.Tensor2D {
    this.assertLive();
    return this.text.pooled(ids);
  }

  /** Every image token `[B, numTokens, embedDim]` (new tensor, caller owns it). */
  encodeImageTokens(images: tf.Tensor4D): tf.Tensor3D {
    this.assertLive();
    return this.visual.tokens(images);
  }

  /** Every text token `[B, contextLength, embedDim]` (new tensor, caller owns it). */
  encodeTextTokens(ids: TokenIds): tf.Tensor3D {
    this.assertLive();
    return this.text.tokens(ids, { requireEot: false });
  }

  /**
   * Validates a batch against the config. Host ids (`Int32Array`) are checked where they are;
   * tensors are read back once. Returns the batch size and the values the forward pass needs.
   */
  private checkBatch(batch: AnyBatch): CheckedBatch {
    this.assertLive();
    const { images, captionIds, pids } = batch;
    this.visual.checkImages(images, 'batch.images');
    const l = this.config.contextLength;
    const ids = this.text.checkIds(captionIds, 'batch.captionIds');
    const b = images.shape[0];
    const sameBatch = (name: string, x: tf.Tensor | Int32Array, rowLength: number): void => {
      const rows = x instanceof Int32Array ? x.length / rowLength : x.shape[0];
      if (rows !== b) {
        const got = x instanceof Int32Array ? `${rows} rows of ${rowLength} in an Int32Array` : `shape ${shapeOf(x)}`;
        throw new Error(`${name} must have batch size ${b} (that of batch.images), got ${got}`);
      }
    };
    sameBatch('batch.captionIds', captionIds, l);
    checkInt32Vector(pids, 'batch.pids', b);
    sameBatch('batch.pids', pids, 1);
    let pidValues: Int32Array | null = null;
    if (this.config.lossNames.includes('id')) {
      const v = pids instanceof Int32Array ? pids : (pids.dataSync() as Int32Array);
      pidValues = v;
      const bad = v.findIndex((p) => p < 0 || p >= this.config.numClasses);
      if (bad >= 0) {
        throw new Error(`batch.pids must lie in [0, ${this.config.numClasses}) (numClasses), got ${v[bad]} at ${bad}`);
      }
    }
    if (batch.imageIds) {
      checkInt32Vector(batch.imageIds, 'batch.imageIds', b);
      sameBatch('batch.imageIds', batch.imageIds, 1);
    }
    let mlmLabels: Int32Array | null = null;
    if (this.config.lossNames.includes('mlm')) {
      if (!batch.mlmIds || !batch.mlmLabels) {
        throw new Error("batch.mlmIds and batch.mlmLabels are required when the config's lossNames has 'mlm'");
      }
      this.text.checkIds(batch.mlmIds, 'batch.mlmIds', { requireEot: false });
      mlmLabels = this.text.checkIds(batch.mlmLabels, 'batch.mlmLabels', { requireEot: false });
      sameBatch('batch.mlmIds', batch.mlmIds, l);
      sameBatch('batch.mlmLabels', batch.mlmLabels, l);
    }
    return { b, captionIds: ids, mlmLabels, pids: pidValues };
  }

  /** The shared forward pass: flattened intermediate tensors (inside the caller's tidy). */
  private run(batch: AnyBatch, full: boolean) {
    const { b, captionIds, mlmLabels, pids } = this.checkBatch(batch);
    const c = this.config;
    const n = this.visual.numTokens;
    const l = c.contextLength;
    const tw = this.text.width;
    const imageTrunk = this.visual.trunk(batch.images);
    const needSeq = full || this.crossModal !== null;
    const imageSeq = needSeq ? this.visual.head(imageTrunk) : null;
    const imageFeats = imageSeq ? this.visual.classTokens(imageSeq) : this.visual.pooledFromTrunk(imageTrunk);
    // Captions and masked captions go through the text tower as one batch of 2B when both are
    // needed (the same per-row math; larger matMuls, and one weight gradient instead of two).
    const withMlm = this.crossModal !== null && this.mlmHead !== null && batch.mlmIds !== undefined;
    const bothTrunks = withMlm
      ? this.text.trunk(
          tf.concat(
            [this.text.idsTensor(batch.captionIds), this.text.idsTensor(batch.mlmIds as TokenIds)],
            0,
          ) as tf.Tensor2D,
        )
      : null;
    const textTrunk = bothTrunks
      ? (tf.slice(bothTrunks, [0, 0], [b * l, tw]) as tf.Tensor2D)
      : this.text.trunk(this.text.idsTensor(batch.captionIds));
    const textSeq = full ? this.text.head(textTrunk) : null;
    const textFeats = textSeq
      ? this.text.endOfTextTokens(textSeq, captionIds)
      : this.text.pooledFromTrunk(textTrunk, captionIds);
    let mlmTextSeq: tf.Tensor2D | null = null;
    let fused: tf.Tensor2D | null = null;
    let scores: tf.Tensor2D | null = null;
    let scoreLabels: Int32Array | null = null;
    if (this.crossModal && this.mlmHead && batch.mlmIds) {
      const mlmTrunk = bothTrunks
        ? (tf.slice(bothTrunks, [b * l, 0], [b * l, tw]) as tf.Tensor2D)
        : this.text.trunk(this.text.idsTensor(batch.mlmIds));
      mlmTextSeq = this.text.head(mlmTrunk);
      fused = this.crossModal.forwardFlat(mlmTextSeq, imageSeq as tf.Tensor2D, b, l, n);
      // For the losses only the labelled positions are scored: the loss and accuracy ignore the
      // others (label 0), and the vocabulary-wide head on every position would dominate the
      // step's time and memory ([B · L, vocab] scores and their gradient).
      // The labels' values come from checkBatch: host memory, or the one read-back of a tensor.
      const labels = !full ? mlmLabels : null;
      const rows: number[] = [];
      if (labels) for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) rows.push(i);
      if (labels && rows.length > 0) {
        const picked = embeddingLookup(fused, tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
        scores = this.mlmHead.forwardFlat(picked);
        scoreLabels = Int32Array.from(rows, (i) => labels[i]);
      } else {
        scores = this.mlmHead.forwardFlat(fused);
        if (mlmLabels) scoreLabels = mlmLabels;
      }
    }
    return { b, imageSeq, imageFeats, textSeq, textFeats, mlmTextSeq, fused, scores, scoreLabels, pids };
  }

  /**
   * The reference forward pass's intermediate outputs (for parity checks and inspection):
   * `image_seq`, `text_seq`, `image_feats`, `text_feats` and, with 'mlm', `mlm_text_seq`,
   * `fused`, `mlm_logits`. New tensors, owned by the caller.
   */
  forward(batch: IRRABatch<TokenIds, HostOrTensor1D>): IRRAForwardOutputs {
    return tf.tidy(() => {
      const r = this.run(batch, true);
      const c = this.config;
      const l = c.contextLength;
      const out: IRRAForwardOutputs = {
        image_seq: tf.reshape(r.imageSeq as tf.Tensor, [r.b, this.visual.numTokens, c.embedDim]),
        text_seq: tf.reshape(r.textSeq as tf.Tensor, [r.b, l, c.embedDim]),
        image_feats: r.imageFeats,
        text_feats: r.textFeats,
      };
      if (r.mlmTextSeq && r.fused && r.scores) {
        out.mlm_text_seq = tf.reshape(r.mlmTextSeq, [r.b, l, c.embedDim]);
        out.fused = tf.reshape(r.fused, [r.b, l, c.embedDim]);
        out.mlm_logits = tf.reshape(r.scores, [r.b, l, c.vocabSize]);
      }
      return out as unknown as tf.TensorContainerObject;
    }) as unknown as IRRAForwardOutputs;
  }

  /**
   * Every loss the config names (`sdm_loss`, `itc_loss`, `cmpm_loss`, `id_loss` × idLossWeight,
   * `mlm_loss` × mlmLossWeight) and the accuracies `img_acc`, `txt_acc` (with 'id') and `mlm_acc`
   * (with 'mlm'), as the reference `IRRA.forward`. New scalars, owned by the caller; differentiable
   * with respect to {@link IRRA.namedParameters} (e.g. inside `tf.variableGrads`).
   *
   * @throws Error on a malformed batch (shapes, dtypes, id ranges, batch sizes that disagree).
   */
  computeLosses(batch: IRRABatch<TokenIds, HostOrTensor1D>, options: ComputeLossesOptions = {}): IRRALosses {
    return tf.tidy(() => {
      const r = this.run(batch, false);
      const c = this.config;
      const names = c.lossNames;
      const pids = int32Vector(batch.pids);
      const imageIds = batch.imageIds === undefined ? undefined : int32Vector(batch.imageIds);
      const out: IRRALosses = options.splitBatchLosses
        ? { image_feats: r.imageFeats, text_feats: r.textFeats }
        : this.batchLosses(r.imageFeats, r.textFeats, pids, imageIds);
      if (names.includes('id') && this.classifierWeight && this.classifierBias) {
        const w = read2d(this.classifierWeight);
        const bias = read1d(this.classifierBias);
        const imageLogits = linear(r.imageFeats, w, bias);
        const textLogits = linear(r.textFeats, w, bias);
        // The pids' values were checked in checkBatch: the loss gets them from host memory.
        out.id_loss = tf.mul(idLoss(imageLogits, textLogits, r.pids ?? pids), c.idLossWeight) as tf.Scalar;
        out.img_acc = accuracy(imageLogits, pids);
        out.txt_acc = accuracy(textLogits, pids);
      }
      if (r.scores && r.scoreLabels) {
        out.mlm_loss = tf.mul(mlmLoss(r.scores, r.scoreLabels), c.mlmLossWeight) as tf.Scalar;
        const labels = tf.tensor1d(r.scoreLabels, 'int32');
        const labelled = tf.cast(tf.notEqual(labels, 0), 'float32');
        const right = tf.mul(tf.cast(tf.equal(tf.argMax(r.scores, 1), labels), 'float32'), labelled);
        out.mlm_acc = tf.div(tf.sum(right), tf.sum(labelled)) as tf.Scalar;
      }
      return out as unknown as tf.TensorContainerObject;
    }) as unknown as IRRALosses;
  }

  /**
   * The batch-level losses the config names (`itc_loss`, `sdm_loss`, `cmpm_loss`, in that order)
   * of global features `[B, embedDim]` and int32 `pids` `[B]` (and `imageIds` `[B]` for SDM's soft
   * labels), as {@link IRRA.computeLosses} computes them. New scalars, owned by the caller.
   */
  batchLosses(
    imageFeats: tf.Tensor2D,
    textFeats: tf.Tensor2D,
    pids: tf.Tensor1D,
    imageIds?: tf.Tensor1D,
  ): Pick<IRRALosses, 'itc_loss' | 'sdm_loss' | 'cmpm_loss'> {
    const names = this.config.lossNames;
    const s = this.logitScale;
    const out: IRRALosses = {};
    if (names.includes('itc')) out.itc_loss = itcLoss(imageFeats, textFeats, s);
    if (names.includes('sdm')) {
      out.sdm_loss = sdmLoss(imageFeats, textFeats, pids, s, imageIds ? { imageIds } : {});
    }
    if (names.includes('cmpm')) out.cmpm_loss = cmpmLoss(imageFeats, textFeats, pids);
    return out;
  }

  /** Frees every parameter. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const e of this.entries) e.weight.dispose();
    this.disposed = true;
  }

  /** `using model = IRRA.create(...)` calls {@link IRRA.dispose} at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The two CLIP towers of `c`, built (their weights created: drawn from `seed` when `initialize`,
 * else allocated for loading).
 */
function buildTowers(c: IRRAConfig, seed: number, initialize: boolean) {
  const visual = new VisionTransformer({
    imageSize: c.imageSize,
    patchSize: c.visionPatchSize,
    strideSize: c.strideSize,
    width: c.visionWidth,
    layers: c.visionLayers,
    heads: c.visionHeads,
    outputDim: c.embedDim,
    seed: subSeed(seed, 0),
  });
  const text = new TextTransformer({
    contextLength: c.contextLength,
    vocabSize: c.vocabSize,
    width: c.transformerWidth,
    layers: c.transformerLayers,
    heads: c.transformerHeads,
    outputDim: c.embedDim,
    seed: subSeed(seed, 1),
  });
  visual.setFastWeightInitDuringBuild(!initialize);
  text.setFastWeightInitDuringBuild(!initialize);
  visual.build([null, c.imageSize[0], c.imageSize[1], 3]);
  text.build([null, c.contextLength]);
  return { visual, text };
}

/**
 * The towers' weights under the reference's names (`base_model.…`), in the reference's order:
 * the text tower's own top-level weights, the image tower, then the rest of the text tower.
 */
function towerEntries(visual: VisionTransformer, text: TextTransformer): ReferenceWeight[] {
  const textEntries = text.referenceWeights();
  const textOwn = new Set(['positional_embedding', 'text_projection']);
  return [
    ...prefixed(
      'base_model',
      textEntries.filter((e) => textOwn.has(e.name)),
    ),
    ...prefixed('base_model.visual', visual.referenceWeights()),
    ...prefixed(
      'base_model',
      textEntries.filter((e) => !textOwn.has(e.name)),
    ),
  ];
}

/**
 * The ID loss's shared classifier (with 'id' in `lossNames`; else null): weight N(0, 0.001²) from
 * `seed` when `initialize` (else zeros), bias zeros, as the reference's `build.py`.
 */
function buildClassifier(c: IRRAConfig, seed: number, initialize: boolean) {
  if (!c.lossNames.includes('id')) return null;
  const rng = initSampler(subSeed(seed, 2));
  const weightInit = (initialize ? normalInit(rng, 0.001) : constantInit(0)).apply(
    [c.embedDim, c.numClasses],
    'float32',
  );
  const biasInit = constantInit(0).apply([c.numClasses], 'float32');
  const weight = new tfl.LayerVariable(weightInit, 'float32', 'classifier.weight');
  const bias = new tfl.LayerVariable(biasInit, 'float32', 'classifier.bias');
  tf.dispose([weightInit, biasInit]);
  const entries: ReferenceWeight[] = [
    { name: 'classifier.weight', weight, layout: 'linear' },
    { name: 'classifier.bias', weight: bias, layout: 'identity' },
  ];
  return { weight, bias, entries };
}

/**
 * The IRR fusion (with 'mlm' in `lossNames`; else null): the cross-modal encoder and the MLM head,
 * built with the reference's init stds, and their weights under the reference's names.
 */
function buildFusion(c: IRRAConfig, seed: number, initialize: boolean) {
  if (!c.lossNames.includes('mlm')) return null;
  const crossModal = new CrossModalEncoder({
    width: c.embedDim,
    heads: c.crossHeads,
    depth: c.cmtDepth,
    seed: subSeed(seed, 3),
  });
  const scale = c.embedDim ** -0.5;
  const mlmHead = new MlmHead({
    width: c.embedDim,
    vocabSize: c.vocabSize,
    denseStd: (2 * c.embedDim) ** -0.5,
    fcStd: scale * (2 * c.cmtDepth) ** -0.5,
    seed: subSeed(seed, 4),
  });
  crossModal.setFastWeightInitDuringBuild(!initialize);
  mlmHead.setFastWeightInitDuringBuild(!initialize);
  crossModal.build([null, null, c.embedDim]);
  mlmHead.build([null, null, c.embedDim]);
  const entries = [...crossModal.referenceWeights(), ...prefixed('mlm_head', mlmHead.referenceWeights())];
  return { crossModal, mlmHead, entries };
}

/** The reference-layout shape of a stored weight. */
function referenceShape(e: ReferenceWeight): number[] {
  const s = e.weight.shape as number[];
  if (e.layout === 'identity') return [...s];
  if (e.layout === 'linear') return [s[1], s[0]];
  const [kh, kw, c] = e.layout.conv;
  return [s[1], c, kh, kw];
}

/** Mean of `argmax(logits, 1) == labels` as a float32 scalar. */
function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar;
}

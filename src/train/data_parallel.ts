/**
 * Data-parallel training in Node `worker_threads` or browser Web Workers, with batch-level losses
 * computed exactly as one process would over the whole batch.
 *
 * Each worker holds a replica of the model on its own tfjs backend and runs the towers and heads
 * on its slice of the batch. SDM, ITC and CMPM compare every caption with every image of the
 * batch, so they cannot be computed per slice: each worker sends its global features to this
 * coordinator, which computes those losses over the whole batch and their gradients with respect
 * to the features, and hands each worker its rows of those gradients through shared memory; the
 * worker, still inside its gradient tape, adds `sum(features × their gradient)` to its own
 * objective and backpropagates through its towers (open_clip's `gather_with_grad`, without a
 * second forward pass). The per-sample losses stay in the workers, scaled so that their sum over
 * workers equals the single-process mean (ID: by slice size / batch size; MLM: by labelled
 * positions in the slice / in the batch). Workers write their parameter gradients into shared
 * memory, one region each; the coordinator sums the regions in a fixed order and returns them,
 * the caller takes one optimizer step, and the new weights reach every replica through shared
 * memory before the next step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainBatch } from '../data/batch';
import type { GradientCheckpointingPlan, IRRA } from '../model/irra';
import { type NodeWorker, startNodeWorker, workerThreads } from '../util/node_workers';

/** Indices into the control array shared with the workers. */
export const CONTROL = { featureGradStep: 0, abort: 1 } as const;

/** `workerData` of a training worker (internal protocol). */
export interface TrainWorkerData {
  index: number;
  config: Record<string, unknown>;
  backend: string;
  checkpointing: GradientCheckpointingPlan;
  /** Every parameter (namedParameters order): name, stored shape, offset in `params`, trainable offset or -1. */
  layout: { name: string; shape: number[]; offset: number; gradOffset: number }[];
  /** float32 values of every parameter, written by the coordinator before each step. */
  params: SharedArrayBuffer;
  /** float32, one region of `gradSize` values per worker. */
  grads: SharedArrayBuffer;
  gradSize: number;
  /** int32 control words ({@link CONTROL}). */
  control: SharedArrayBuffer;
}

/** The first message a Web Worker receives: its {@link TrainWorkerData} (internal protocol). */
export interface TrainWorkerInit {
  kind: 'init';
  data: TrainWorkerData;
}

/** One step's work for a worker (internal protocol). */
export interface TrainWorkerStep {
  kind: 'step';
  step: number;
  images: Float32Array;
  imageShape: [number, number, number, number];
  captionIds: Int32Array;
  mlmIds: Int32Array | null;
  mlmLabels: Int32Array | null;
  pids: Int32Array;
  contextLength: number;
  /** First row of this slice in the batch, and the batch size. */
  start: number;
  batchSize: number;
  /** Scale of the slice's ID loss (rows / batch rows) and MLM loss (labelled positions / batch's). */
  idScale: number;
  mlmScale: number;
  /** float32 `[2, batchSize, embedDim]`: d(batch losses)/d(image feats), then d/d(text feats). */
  featureGrads: SharedArrayBuffer;
  /** Whether the config has a batch-level loss (else no features are exchanged). */
  exchange: boolean;
}

/** A training worker's message (internal protocol). */
export type TrainWorkerReply =
  | { kind: 'ready' }
  | { kind: 'features'; step: number; image: Float32Array; text: Float32Array }
  | { kind: 'done'; step: number; values: Record<string, number>; hasGrad: Uint8Array; numTensors: number }
  | { kind: 'error'; message: string };

/**
 * The parts of a browser `Worker` that {@link DataParallelGroup} uses: a module Web Worker whose
 * script calls `serveTrainWorker()`.
 */
export interface TrainWebWorker {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: Event) => void): void;
  terminate(): void;
}

/** Options of {@link DataParallelGroup.start}. */
export interface DataParallelOptions {
  /** Worker threads (≥ 2 to be useful; 1 works too). */
  workers: number;
  /** tfjs backend of every worker; default the active backend of this thread. */
  backend?: string;
  /**
   * Browsers (and any runtime with the Web Worker API): starts one worker, e.g.
   * `() => new Worker(new URL('./train_worker.ts', import.meta.url), { type: 'module' })`, whose
   * script imports the backend it trains on and calls `serveTrainWorker()`. The group terminates
   * the workers it made. Needs cross-origin isolation (`SharedArrayBuffer`). Without it the
   * library's own Node `worker_threads` script runs (Node only).
   */
  createWorker?: () => TrainWebWorker;
}

/** What {@link DataParallelGroup.gradients} returns. */
export interface ParallelGradients {
  /** Every loss and accuracy, as single-process `computeLosses` on the whole batch would name them. */
  values: Record<string, number>;
  /** Trainable parameter name → summed gradient in the stored shape (new tensors, caller owns). */
  grads: Map<string, tf.Tensor>;
}

const TRAIN_WORKER = { name: 'train_worker', source: '../train/train_worker.ts' };

/** The order in which `IRRA.computeLosses` returns its entries. */
const VALUE_ORDER = ['itc_loss', 'sdm_loss', 'cmpm_loss', 'id_loss', 'img_acc', 'txt_acc', 'mlm_loss', 'mlm_acc'];
/** Values averaged over samples, and over labelled MLM positions. */
const PER_SAMPLE = new Set(['id_loss', 'img_acc', 'txt_acc']);
const PER_LABEL = new Set(['mlm_loss', 'mlm_acc']);

/** A started worker, Node or web, as {@link WorkerLink} drives it. */
interface WorkerChannel {
  post(message: TrainWorkerStep | TrainWorkerInit, transfer: ArrayBuffer[]): void;
  terminate(): Promise<unknown>;
  /** Registers the handlers of its messages and of its failure (`why` says what happened). */
  listen(onMessage: (m: TrainWorkerReply) => void, onFailure: (why: string) => void): void;
}

function nodeChannel(worker: NodeWorker): WorkerChannel {
  return {
    post: (m, transfer) => worker.postMessage(m, transfer),
    terminate: () => worker.terminate(),
    listen: (onMessage, onFailure) => {
      worker.on('message', onMessage);
      worker.on('error', (e: Error) => onFailure(`failed: ${e.message}`));
      worker.on('exit', (code: number) => onFailure(`exited (code ${code})`));
    },
  };
}

function webChannel(worker: TrainWebWorker): WorkerChannel {
  return {
    post: (m, transfer) => worker.postMessage(m, transfer),
    terminate: async () => worker.terminate(),
    listen: (onMessage, onFailure) => {
      worker.addEventListener('message', (e) => onMessage((e as MessageEvent).data as TrainWorkerReply));
      worker.addEventListener('messageerror', () => onFailure('sent a message that could not be read'));
      // A script that fails to load or throws at its top level: ErrorEvent, often without a message.
      worker.addEventListener('error', (e) => {
        const message = (e as ErrorEvent).message;
        onFailure(`failed: ${message || 'its script could not be loaded or threw while starting'}`);
      });
    },
  };
}

/** One worker's message queue: `expect()` resolves with its messages in order, rejects once it fails. */
class WorkerLink {
  private readonly queue: TrainWorkerReply[] = [];
  private waiter: { resolve: (m: TrainWorkerReply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(
    readonly worker: WorkerChannel,
    readonly index: number,
  ) {
    worker.listen(
      (m) => {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(m);
        } else this.queue.push(m);
      },
      (why) => this.fail(new Error(`DataParallel: worker ${index} ${why}`)),
    );
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  /** The next message of kind `kind`; rejects on a worker error or on any other message. */
  async expect<K extends TrainWorkerReply['kind']>(kind: K): Promise<Extract<TrainWorkerReply, { kind: K }>> {
    const queued = this.queue.shift();
    const m: TrainWorkerReply =
      queued ??
      (await new Promise<TrainWorkerReply>((resolve, reject) => {
        if (this.failure) reject(this.failure);
        else this.waiter = { resolve, reject };
      }));
    if (m.kind === 'error') throw new Error(`DataParallel: worker ${this.index}: ${m.message}`);
    if (m.kind !== kind) throw new Error(`DataParallel: worker ${this.index} sent '${m.kind}', expected '${kind}'`);
    return m as Extract<TrainWorkerReply, { kind: K }>;
  }
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Splits `n` rows into `parts` contiguous slices, the first `n % parts` one row longer; empty slices dropped. */
export function splitRows(n: number, parts: number): { start: number; count: number }[] {
  const out: { start: number; count: number }[] = [];
  let start = 0;
  for (let k = 0; k < parts; k++) {
    const count = Math.floor(n / parts) + (k < n % parts ? 1 : 0);
    if (count > 0) out.push({ start, count });
    start += count;
  }
  return out;
}

/**
 * Milliseconds spent in each phase of {@link DataParallelGroup.gradients}, summed over its calls:
 * `weights` (current weights into shared memory), `send` (the batch read back, sliced and posted),
 * `forward` (waiting for the workers' features: their forward passes), `batchLosses` (the
 * batch-level losses and their feature gradients, in this thread), `backward` (waiting for the
 * workers' parameter gradients), `sum` (the workers' gradients summed into tensors). Everything
 * but `forward` and `backward` runs in the calling thread while the workers wait.
 */
export interface DataParallelPhaseMs {
  weights: number;
  send: number;
  forward: number;
  batchLosses: number;
  backward: number;
  sum: number;
}

/**
 * A group of training workers around one model (the coordinator's copy, which the optimizer
 * updates and which evaluation and checkpoints read): Node worker threads, or Web Workers made by
 * `options.createWorker` (browsers, cross-origin isolated). Start it with
 * {@link DataParallelGroup.start}; {@link DataParallelGroup.close} terminates every worker (also
 * call it after an error).
 */
export class DataParallelGroup {
  private stepCount = 0;
  private closed = false;
  /** Time per phase of {@link gradients}, summed over the calls since the group started (or since it was zeroed: set the fields to 0). */
  readonly phaseMs: DataParallelPhaseMs = { weights: 0, send: 0, forward: 0, batchLosses: 0, backward: 0, sum: 0 };

  private constructor(
    private readonly model: IRRA,
    private readonly links: WorkerLink[],
    private readonly data: Omit<TrainWorkerData, 'index'>,
    private readonly trainable: { name: string; variable: tf.Variable; gradOffset: number }[],
  ) {}

  /** Number of worker threads. */
  get size(): number {
    return this.links.length;
  }

  /**
   * Starts `options.workers` workers (Node worker threads, or `options.createWorker()` Web
   * Workers), each building a replica of `model` (its config and gradient-checkpointing plan) on
   * `options.backend`, and waits until all are ready.
   *
   * @throws Error (rejects) on a bad worker count or `createWorker`; without `SharedArrayBuffer`
   *   (a page that is not cross-origin isolated); outside Node without `createWorker`; or when a
   *   worker fails to start (its script does not load, or its backend cannot be selected). Every
   *   worker started is terminated first.
   */
  static async start(model: IRRA, options: DataParallelOptions): Promise<DataParallelGroup> {
    const n = options.workers;
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`DataParallelGroup.start: options.workers must be a positive integer, got ${String(n)}`);
    }
    const createWorker = options.createWorker;
    if (createWorker !== undefined && typeof createWorker !== 'function') {
      throw new Error(
        `DataParallelGroup.start: options.createWorker must be a function returning a Web Worker, got ${typeof createWorker}`,
      );
    }
    if (typeof SharedArrayBuffer === 'undefined') {
      throw new Error(
        'DataParallelGroup.start: SharedArrayBuffer is unavailable here; in a browser, serve the page ' +
          'cross-origin isolated (headers Cross-Origin-Opener-Policy: same-origin and ' +
          'Cross-Origin-Embedder-Policy: require-corp)',
      );
    }
    if (!createWorker && !isNode()) {
      throw new Error(
        'DataParallelGroup.start: outside Node, pass options.createWorker (a function returning a module ' +
          'Web Worker whose script calls serveTrainWorker(); docs/training.md)',
      );
    }
    const backend = options.backend ?? tf.getBackend();
    const layout: TrainWorkerData['layout'] = [];
    const trainable: { name: string; variable: tf.Variable; gradOffset: number }[] = [];
    let offset = 0;
    let gradSize = 0;
    for (const [name, v] of model.namedParameters()) {
      const gradOffset = v.trainable ? gradSize : -1;
      layout.push({ name, shape: [...v.shape], offset, gradOffset });
      if (v.trainable) {
        trainable.push({ name, variable: v, gradOffset });
        gradSize += v.size;
      }
      offset += v.size;
    }
    const data: Omit<TrainWorkerData, 'index'> = {
      config: { ...model.config } as unknown as Record<string, unknown>,
      backend,
      checkpointing: {
        vision: model.visual.transformer.gradientCheckpointing,
        text: model.text.transformer.gradientCheckpointing,
        fusion: model.crossModal?.transformer.gradientCheckpointing ?? false,
      },
      layout,
      params: new SharedArrayBuffer(offset * 4),
      grads: new SharedArrayBuffer(n * gradSize * 4),
      gradSize,
      control: new SharedArrayBuffer(4 * 4),
    };
    const links: WorkerLink[] = [];
    const group = new DataParallelGroup(model, links, data, trainable);
    try {
      if (createWorker) {
        for (let k = 0; k < n; k++) {
          const link = new WorkerLink(webChannel(createWorker()), k);
          links.push(link);
          link.worker.post({ kind: 'init', data: { ...data, index: k } }, []);
        }
      } else {
        const wt = await workerThreads();
        for (let k = 0; k < n; k++)
          links.push(new WorkerLink(nodeChannel(startNodeWorker(wt, TRAIN_WORKER, { ...data, index: k })), k));
      }
      await Promise.all(links.map((l) => l.expect('ready')));
    } catch (e) {
      await group.close();
      throw e;
    }
    return group;
  }

  /** Copies every parameter of the coordinator's model into shared memory. */
  private writeParams(): void {
    const view = new Float32Array(this.data.params);
    const params = this.model.namedParameters();
    for (const p of this.data.layout) {
      view.set((params.get(p.name) as tf.Variable).dataSync() as Float32Array, p.offset);
    }
  }

  /**
   * The losses and parameter gradients of `batch` (see the module documentation), the same as
   * `tf.variableGrads` of the summed `*_loss` entries of `model.computeLosses(batch)` in one
   * process, within float32 rounding. The weights used are the coordinator model's current ones.
   * `batch` stays the caller's. Returns new gradient tensors owned by the caller.
   *
   * @throws Error (rejects) when a worker fails; the group is then unusable (call close()).
   */
  async gradients(batch: TrainBatch): Promise<ParallelGradients> {
    if (this.closed) throw new Error('DataParallelGroup: the group is closed');
    const step = ++this.stepCount;
    let mark = performance.now();
    const phase = (name: keyof DataParallelPhaseMs) => {
      const now = performance.now();
      this.phaseMs[name] += now - mark;
      mark = now;
    };
    const control = new Int32Array(this.data.control);
    const model = this.model;
    const [B, H, W, C] = batch.images.shape;
    const L = batch.captionIds.shape[1];
    const E = model.config.embedDim;
    this.writeParams();
    phase('weights');
    const images = batch.images.dataSync() as Float32Array;
    const captionIds = batch.captionIds.dataSync() as Int32Array;
    const mlmIds = batch.mlmIds ? (batch.mlmIds.dataSync() as Int32Array) : null;
    const mlmLabels = batch.mlmLabels ? (batch.mlmLabels.dataSync() as Int32Array) : null;
    const labelledIn = (a: number, b: number): number => {
      let n = 0;
      if (mlmLabels) for (let i = a * L; i < b * L; i++) if (mlmLabels[i] !== 0) n++;
      return n;
    };
    const totalLabelled = labelledIn(0, B);
    const slices = splitRows(B, this.links.length);
    const active = slices.map((s, k) => ({ ...s, link: this.links[k] }));
    const names = model.config.lossNames;
    const exchange = names.includes('sdm') || names.includes('itc') || names.includes('cmpm');
    const featureGrads = new SharedArrayBuffer(exchange ? 2 * B * E * 4 : 4);
    const per = H * W * C;
    for (const a of active) {
      const end = a.start + a.count;
      const msg: TrainWorkerStep = {
        kind: 'step',
        step,
        images: images.slice(a.start * per, end * per),
        imageShape: [a.count, H, W, C],
        captionIds: captionIds.slice(a.start * L, end * L),
        mlmIds: mlmIds ? mlmIds.slice(a.start * L, end * L) : null,
        mlmLabels: mlmLabels ? mlmLabels.slice(a.start * L, end * L) : null,
        pids: batch.pids.slice(a.start, end),
        contextLength: L,
        start: a.start,
        batchSize: B,
        idScale: a.count / B,
        mlmScale: totalLabelled > 0 ? labelledIn(a.start, end) / totalLabelled : 0,
        featureGrads,
        exchange,
      };
      const transfer = [msg.images.buffer, msg.captionIds.buffer, msg.pids.buffer] as ArrayBuffer[];
      if (msg.mlmIds && msg.mlmLabels)
        transfer.push(msg.mlmIds.buffer as ArrayBuffer, msg.mlmLabels.buffer as ArrayBuffer);
      a.link.worker.post(msg, transfer);
    }
    const values: Record<string, number> = {};
    phase('send');
    if (exchange) {
      const feats = await Promise.all(active.map((a) => a.link.expect('features')));
      phase('forward');
      const image = new Float32Array(B * E);
      const text = new Float32Array(B * E);
      active.forEach((a, k) => {
        image.set(feats[k].image, a.start * E);
        text.set(feats[k].text, a.start * E);
      });
      const batchValues = this.batchLossGradients(image, text, batch, new Float32Array(featureGrads));
      Object.assign(values, batchValues);
      Atomics.store(control, CONTROL.featureGradStep, step);
      Atomics.notify(control, CONTROL.featureGradStep);
      phase('batchLosses');
    }
    const done = await Promise.all(active.map((a) => a.link.expect('done')));
    phase('backward');
    active.forEach((a, k) => {
      for (const [key, v] of Object.entries(done[k].values)) {
        const weight = PER_SAMPLE.has(key)
          ? a.count / B
          : PER_LABEL.has(key)
            ? labelledIn(a.start, a.start + a.count) / totalLabelled
            : 1;
        values[key] = (values[key] ?? 0) + v * weight;
      }
    });
    const ordered: Record<string, number> = {};
    for (const k of VALUE_ORDER) if (k in values) ordered[k] = values[k];
    const grads = this.sumGradients(
      active.length,
      done.map((d) => d.hasGrad),
    );
    phase('sum');
    return { values: ordered, grads };
  }

  /**
   * The batch-level losses of the gathered features (values), and their gradients with respect
   * to the features written into `out` (`[image rows | text rows]`).
   */
  private batchLossGradients(
    image: Float32Array,
    text: Float32Array,
    batch: TrainBatch,
    out: Float32Array,
  ): Record<string, number> {
    const B = batch.pids.length;
    const E = this.model.config.embedDim;
    const values: Record<string, number> = {};
    tf.tidy(() => {
      const pids = tf.tensor1d(batch.pids, 'int32');
      const imageIds = tf.tensor1d(batch.imageIds, 'int32');
      let keys: string[] = [];
      let packed: tf.Tensor | null = null;
      const f = (i: tf.Tensor, t: tf.Tensor): tf.Scalar => {
        const losses = this.model.batchLosses(i as tf.Tensor2D, t as tf.Tensor2D, pids, imageIds) as Record<
          string,
          tf.Scalar
        >;
        keys = Object.keys(losses);
        packed = tf.keep(tf.stack(keys.map((k) => losses[k])));
        return tf.addN(keys.map((k) => losses[k])) as tf.Scalar;
      };
      const [gi, gt] = tf.grads(f)([tf.tensor2d(image, [B, E]), tf.tensor2d(text, [B, E])]);
      out.set(gi.dataSync() as Float32Array, 0);
      out.set(gt.dataSync() as Float32Array, B * E);
      const data = (packed as unknown as tf.Tensor).dataSync();
      keys.forEach((k, i) => {
        values[k] = data[i];
      });
      (packed as unknown as tf.Tensor).dispose();
    });
    return values;
  }

  /** Sums the workers' gradient regions (in worker order) into one tensor per parameter. */
  private sumGradients(active: number, hasGrad: Uint8Array[]): Map<string, tf.Tensor> {
    const all = new Float32Array(this.data.grads);
    const size = this.data.gradSize;
    const out = new Map<string, tf.Tensor>();
    this.trainable.forEach(({ name, variable, gradOffset }, i) => {
      if (!hasGrad.some((h) => h[i] === 1)) return;
      const sum = new Float32Array(variable.size);
      for (let k = 0; k < active; k++) {
        if (hasGrad[k][i] !== 1) continue;
        const region = all.subarray(k * size + gradOffset, k * size + gradOffset + variable.size);
        for (let j = 0; j < sum.length; j++) sum[j] += region[j];
      }
      out.set(name, tf.tensor(sum, variable.shape, 'float32'));
    });
    return out;
  }

  /** Terminates every worker (waking any that waits on shared memory first). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const control = new Int32Array(this.data.control);
    Atomics.store(control, CONTROL.abort, 1);
    Atomics.notify(control, CONTROL.featureGradStep);
    await Promise.all(this.links.map((l) => l.worker.terminate()));
  }
}

/**
 * The worker side of {@link DataParallelGroup}, whatever carries its messages (a Node
 * `worker_threads` worker: `train_worker.ts`; a browser Web Worker: `web_train_worker.ts`): builds
 * a replica of the model on its own tfjs backend, then for each `step` message loads the shared
 * weights, runs the towers and heads on its slice inside `tf.variableGrads`, sends its global
 * features to the coordinator, waits (on shared memory, still inside the gradient tape) for the
 * gradients of the batch-level losses with respect to those features, and backpropagates
 * `idScale·id_loss + mlmScale·mlm_loss + Σ features × their gradients` through its replica. Its
 * parameter gradients go to its region of the shared gradient buffer.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { selectBackend } from '../backends';
import type { IRRAConfig } from '../config';
import { IRRA, type IRRALosses } from '../model/irra';
import { CONTROL, type TrainWorkerData, type TrainWorkerReply, type TrainWorkerStep } from './data_parallel';

/** How a training worker talks to its coordinator (internal protocol). */
export interface TrainWorkerEndpoint {
  /** Posts a reply, transferring `transfer`. */
  post(message: TrainWorkerReply, transfer?: ArrayBuffer[]): void;
  /** Registers the handler of every later `step` message. */
  onStep(handler: (message: TrainWorkerStep) => void): void;
}

/** Blocks until the coordinator has published the feature gradients of `step` (or aborts). */
function waitForFeatureGradients(control: Int32Array, step: number): void {
  for (;;) {
    if (Atomics.load(control, CONTROL.abort) !== 0) throw new Error('aborted by the coordinator');
    const seen = Atomics.load(control, CONTROL.featureGradStep);
    if (seen === step) return;
    Atomics.wait(control, CONTROL.featureGradStep, seen, 1000);
  }
}

/**
 * Selects `data.backend`, builds the replica and serves steps through `endpoint` until the worker
 * is terminated; posts `ready` once it can take steps, or `error` when it cannot start.
 */
export async function serveTrainSteps(data: TrainWorkerData, endpoint: TrainWorkerEndpoint): Promise<void> {
  try {
    await selectBackend([data.backend]);
    const model = IRRA.create(data.config as unknown as IRRAConfig, {
      seed: 0,
      gradientCheckpointing: data.checkpointing,
    });
    const params = model.namedParameters();
    const vars = data.layout.map((p) => {
      const v = params.get(p.name);
      if (!v || !tf.util.arraysEqual(v.shape, p.shape)) {
        throw new Error(`train_worker: the replica has no parameter '${p.name}' of shape [${p.shape}]`);
      }
      return v;
    });
    const trainable = data.layout.map((p, i) => ({ p, v: vars[i] })).filter(({ p }) => p.gradOffset >= 0);
    const byVarName = new Map(trainable.map(({ v }, i) => [v.name, i]));
    const shared = new Float32Array(data.params);
    const grads = new Float32Array(data.grads, data.index * data.gradSize * 4, data.gradSize);
    const control = new Int32Array(data.control);

    const runStep = (msg: TrainWorkerStep): TrainWorkerReply => {
      data.layout.forEach((p, i) => {
        const value = tf.tensor(shared.slice(p.offset, p.offset + vars[i].size), p.shape, 'float32');
        vars[i].assign(value);
        value.dispose();
      });
      const n = msg.imageShape[0];
      const L = msg.contextLength;
      const E = model.config.embedDim;
      const values: Record<string, number> = {};
      const hasGrad = new Uint8Array(trainable.length);
      tf.tidy(() => {
        const batch = {
          images: tf.tensor4d(msg.images, msg.imageShape),
          captionIds: tf.tensor2d(msg.captionIds, [n, L], 'int32'),
          pids: tf.tensor1d(msg.pids, 'int32'),
          ...(msg.mlmIds && msg.mlmLabels
            ? {
                mlmIds: tf.tensor2d(msg.mlmIds, [n, L], 'int32'),
                mlmLabels: tf.tensor2d(msg.mlmLabels, [n, L], 'int32'),
              }
            : {}),
        };
        const { grads: named } = tf.variableGrads(
          () => {
            const out = model.computeLosses(batch, { splitBatchLosses: true }) as Required<IRRALosses>;
            const terms: tf.Scalar[] = [];
            if (out.id_loss) terms.push(tf.mul(out.id_loss, msg.idScale));
            if (out.mlm_loss) terms.push(tf.mul(out.mlm_loss, msg.mlmScale));
            for (const k of ['id_loss', 'img_acc', 'txt_acc', 'mlm_loss', 'mlm_acc'] as const) {
              if (out[k]) values[k] = out[k].dataSync()[0];
            }
            if (msg.exchange) {
              const image = out.image_feats.dataSync() as Float32Array;
              const text = out.text_feats.dataSync() as Float32Array;
              endpoint.post({ kind: 'features', step: msg.step, image, text });
              waitForFeatureGradients(control, msg.step);
              const g = new Float32Array(msg.featureGrads);
              const B = msg.batchSize;
              const gi = tf.tensor2d(g.slice(msg.start * E, (msg.start + n) * E), [n, E]);
              const gt = tf.tensor2d(g.slice((B + msg.start) * E, (B + msg.start + n) * E), [n, E]);
              terms.push(tf.sum(tf.mul(out.image_feats, gi)), tf.sum(tf.mul(out.text_feats, gt)));
            }
            return tf.addN(terms) as tf.Scalar;
          },
          trainable.map(({ v }) => v),
        );
        for (const [varName, g] of Object.entries(named)) {
          const i = byVarName.get(varName) as number;
          grads.set(g.dataSync() as Float32Array, trainable[i].p.gradOffset);
          hasGrad[i] = 1;
        }
      });
      return { kind: 'done', step: msg.step, values, hasGrad, numTensors: tf.memory().numTensors };
    };
    endpoint.onStep((msg) => {
      try {
        endpoint.post(runStep(msg));
      } catch (e) {
        endpoint.post({ kind: 'error', message: (e as Error).message });
      }
    });
    endpoint.post({ kind: 'ready' });
  } catch (e) {
    endpoint.post({ kind: 'error', message: (e as Error).message });
  }
}

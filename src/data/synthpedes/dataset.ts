/**
 * SynthPedes in the shape of the parsed reference datasets, so the library's data pipeline
 * (samplers, batching, transforms, evaluator) runs on it unchanged.
 */
import type { PersonDataset, TrainSample } from '../annotations';
import type { DecodedImage } from '../image';
import type { SynthPedes, SynthSample } from '../synthpedes';

/** {@link synthPedesAsDataset}'s result. */
export interface SynthPedesDataset {
  /** Train pairs (one per caption) and the test split; `val` is the test split too. */
  dataset: PersonDataset;
  /** Every image by its path (`synthpedes/train/<imageId>` or `synthpedes/test/<imageId>`). */
  images: ReadonlyMap<string, DecodedImage>;
  /** Resolves a sample's (or any object's) `imgPath` to its pixels; rejects unknown paths. */
  loadImage: (sample: Pick<TrainSample, 'imgPath'>) => Promise<DecodedImage>;
}

/**
 * Views a generated SynthPedes as a {@link PersonDataset}: one train pair per caption (pid, image
 * id and path of its image), the test split as query/gallery lists (captions grouped by image, in
 * image order), `val` equal to `test` (SynthPedes has no separate validation identities), and
 * `numClasses` = the number of train identities. Pixels are shared, not copied.
 *
 * @example
 * const { dataset, loadImage } = synthPedesAsDataset(generateSynthPedes({ seed: 0 }));
 * const img = await loadImage(dataset.train[0]); // { data, height, width }
 */
export function synthPedesAsDataset(ds: SynthPedes): SynthPedesDataset {
  const images = new Map<string, DecodedImage>();
  const path = (split: string, s: SynthSample) => `synthpedes/${split}/${s.imageId}`;
  for (const [split, samples] of [
    ['train', ds.train],
    ['test', ds.test],
  ] as const) {
    for (const s of samples) images.set(path(split, s), { data: s.pixels, height: s.height, width: s.width });
  }
  const train: TrainSample[] = ds.train.flatMap((s) =>
    s.captions.map((caption) => ({ pid: s.pid, imageId: s.imageId, imgPath: path('train', s), caption })),
  );
  const test = {
    imagePids: ds.test.map((s) => s.pid),
    imgPaths: ds.test.map((s) => path('test', s)),
    captionPids: ds.test.flatMap((s) => s.captions.map(() => s.pid)),
    captions: ds.test.flatMap((s) => s.captions),
  };
  const count = (samples: SynthSample[], ids: number) => ({
    ids,
    images: samples.length,
    captions: samples.reduce((n, s) => n + s.captions.length, 0),
  });
  const testStats = count(ds.test, ds.testIdentities.length);
  return {
    dataset: {
      name: 'SynthPedes',
      train,
      test,
      val: test,
      numClasses: ds.trainIdentities.length,
      stats: { train: count(ds.train, ds.trainIdentities.length), test: testStats, val: testStats },
    },
    images,
    loadImage: async (sample) => {
      const img = images.get(sample.imgPath);
      if (!img)
        throw new Error(
          `SynthPedes loadImage: no image at imgPath '${sample.imgPath}' (expected synthpedes/<split>/<imageId>)`,
        );
      return img;
    },
  };
}

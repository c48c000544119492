import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertSplitNotEmpty,
  joinPath,
  loadDataset,
  parseCuhkPedes,
  parseGenericAnnotations,
  parseIcfgPedes,
  parseRstpReid,
} from '../src/data/annotations';

/** A small CUHK-PEDES-style annotation list: ids start at 1 in train (the reference subtracts 1). */
function cuhkAnnos(pathField = 'file_path', trainIdBase = 1): Record<string, unknown>[] {
  return [
    {
      split: 'train',
      id: trainIdBase + 0,
      [pathField]: 'CUHK01/a.png',
      captions: ['a man', 'a tall man'],
      processed_tokens: [],
    },
    { split: 'train', id: trainIdBase + 1, [pathField]: 'CUHK01/b.png', captions: ['a woman'] },
    { split: 'train', id: trainIdBase + 0, [pathField]: 'CUHK01/c.png', captions: ['the man again'] },
    { split: 'test', id: 7, [pathField]: 'test/d.png', captions: ['test one', 'test two'] },
    { split: 'test', id: 9, [pathField]: 'test/e.png', captions: ['test three'] },
    { split: 'val', id: 12, [pathField]: 'val/f.png', captions: ['val one'] },
    { split: 'other', id: 13, [pathField]: 'val/g.png', captions: ['anything not train/test goes to val'] },
  ];
}

/**
 * An ICFG-PEDES.json shaped like the real file: `train` and `test` records only (the real one holds
 * 34,674 and 19,848, no val), one caption per image, `file_path` under `train/` or `test/`, the
 * SSAN preprocessing's `processed_tokens`, training ids from 0 and test ids after them.
 */
function icfgAnnos(): Record<string, unknown>[] {
  const record = (split: string, id: number, file: string, caption: string) => ({
    split,
    captions: [caption],
    file_path: `${split}/${String(id).padStart(4, '0')}/${file}`,
    processed_tokens: [caption.split(' ')],
    id,
  });
  return [
    record('train', 0, '0000_002_01_0303morning_0008_0.jpg', 'the man wears a black jacket'),
    record('train', 0, '0000_002_01_0303morning_0012_1.jpg', 'a man in black with a grey bag'),
    record('train', 1, '0001_004_05_0303morning_0101_0.jpg', 'the woman has long hair and a red skirt'),
    record('train', 2, '0002_010_07_0303noon_0020_0.jpg', 'a boy in a white shirt and blue shorts'),
    record('test', 3102, '3102_001_01_0303morning_0003_0.jpg', 'a woman carrying a white handbag'),
    record('test', 3102, '3102_001_02_0303morning_0150_1.jpg', 'the lady wears a beige coat'),
    record('test', 3105, '3105_013_11_0303afternoon_0400_0.jpg', 'a man with glasses and dark trousers'),
  ];
}

describe('parseCuhkPedes', () => {
  it('follows the reference: pid - 1 in train, one image id per annotation, one pair per caption', () => {
    const ds = parseCuhkPedes(cuhkAnnos(), 'root/CUHK-PEDES/imgs');
    expect(ds.name).toBe('CUHK-PEDES');
    expect(ds.numClasses).toBe(2);
    expect(ds.train).toEqual([
      { pid: 0, imageId: 0, imgPath: 'root/CUHK-PEDES/imgs/CUHK01/a.png', caption: 'a man' },
      { pid: 0, imageId: 0, imgPath: 'root/CUHK-PEDES/imgs/CUHK01/a.png', caption: 'a tall man' },
      { pid: 1, imageId: 1, imgPath: 'root/CUHK-PEDES/imgs/CUHK01/b.png', caption: 'a woman' },
      { pid: 0, imageId: 2, imgPath: 'root/CUHK-PEDES/imgs/CUHK01/c.png', caption: 'the man again' },
    ]);
    // Test/val keep the raw ids.
    expect(ds.test).toEqual({
      imagePids: [7, 9],
      imgPaths: ['root/CUHK-PEDES/imgs/test/d.png', 'root/CUHK-PEDES/imgs/test/e.png'],
      captionPids: [7, 7, 9],
      captions: ['test one', 'test two', 'test three'],
    });
    expect(ds.val.imagePids).toEqual([12, 13]);
    expect(ds.val.captions).toEqual(['val one', 'anything not train/test goes to val']);
    expect(ds.stats).toEqual({
      train: { ids: 2, images: 3, captions: 4 },
      test: { ids: 2, images: 2, captions: 3 },
      val: { ids: 2, images: 2, captions: 2 },
    });
  });

  it('accepts the JSON text and integer strings as ids (Python int())', () => {
    const annos = cuhkAnnos();
    annos[1].id = '2';
    const ds = parseCuhkPedes(JSON.stringify(annos));
    expect(ds.train[2].pid).toBe(1);
    expect(ds.train[0].imgPath).toBe('CUHK01/a.png');
  });

  it('rejects training ids that are not 0..n-1 after the shift', () => {
    const annos = cuhkAnnos();
    annos[1].id = 4; // pids {0, 3}
    expect(() => parseCuhkPedes(annos)).toThrow(/reid_raw\.json: train person ids must be exactly 0\.\.1.*is 3/);
    // ids starting at 0 in the file become -1 after CUHK's shift
    expect(() => parseCuhkPedes(cuhkAnnos('file_path', 0))).toThrow(/smallest is -1/);
  });

  it('names the file, annotation index and field of malformed entries', () => {
    const missing = cuhkAnnos();
    delete missing[2].captions;
    expect(() => parseCuhkPedes(missing)).toThrow("reid_raw.json: annotation 2: missing field 'captions'");
    const noPath = cuhkAnnos();
    delete noPath[4].file_path;
    expect(() => parseCuhkPedes(noPath)).toThrow("reid_raw.json: annotation 4: missing field 'file_path'");
    const noId = cuhkAnnos();
    delete noId[0].id;
    expect(() => parseCuhkPedes(noId)).toThrow("annotation 0: missing field 'id'");
    const noSplit = cuhkAnnos();
    delete noSplit[3].split;
    expect(() => parseCuhkPedes(noSplit)).toThrow("annotation 3: missing field 'split'");
    const floatId = cuhkAnnos();
    floatId[3].id = 2.5;
    expect(() => parseCuhkPedes(floatId)).toThrow(
      "annotation 3, field 'id': expected an integer person id, got number 2.5",
    );
    const textId = cuhkAnnos();
    textId[3].id = 'seven';
    expect(() => parseCuhkPedes(textId)).toThrow(/field 'id': expected an integer person id, got the string "seven"/);
    const badCaption = cuhkAnnos();
    badCaption[5].captions = ['ok', 3];
    expect(() => parseCuhkPedes(badCaption)).toThrow('annotation 5: captions[1] must be a string, got number 3');
    const notList = cuhkAnnos();
    notList[5].captions = 'one caption';
    expect(() => parseCuhkPedes(notList)).toThrow("field 'captions' must be an array of strings");
    expect(() => parseCuhkPedes([...cuhkAnnos(), 5])).toThrow('annotation 7: expected an object, got number 5');
    expect(() => parseCuhkPedes({ annotations: [] })).toThrow(
      'reid_raw.json: expected a JSON array of annotations, got an object',
    );
    expect(() => parseCuhkPedes('[{"split": ')).toThrow(/reid_raw\.json: not valid JSON/);
  });

  it('accepts an empty split (the reference builds it empty), not a file without annotations', () => {
    for (const split of ['train', 'test', 'val'] as const) {
      const ds = parseCuhkPedes(
        cuhkAnnos().filter((a) =>
          split === 'val' ? ['train', 'test'].includes(a.split as string) : a.split !== split,
        ),
      );
      expect(ds.stats[split], split).toEqual({ ids: 0, images: 0, captions: 0 });
      if (split === 'train') {
        expect(ds.train).toEqual([]);
        expect(ds.numClasses).toBe(0);
      } else expect(ds[split]).toEqual({ imagePids: [], imgPaths: [], captionPids: [], captions: [] });
    }
    expect(() => parseCuhkPedes([])).toThrow(
      'reid_raw.json: no annotations (the train, test and val splits are all empty)',
    );
  });
});

describe('assertSplitNotEmpty', () => {
  it('passes a split with images and captions, names the dataset, split and counts of an empty one', () => {
    const icfg = parseIcfgPedes(icfgAnnos());
    assertSplitNotEmpty(icfg, 'train');
    assertSplitNotEmpty(icfg, 'test');
    expect(() => assertSplitNotEmpty(icfg, 'val')).toThrow(
      "ICFG-PEDES has no 'val' split: it holds 0 images and 0 captions (splits with data: train, test)",
    );
    const evalOnly = parseGenericAnnotations({
      name: 'eval-only',
      train: [],
      test: [{ pid: 1, image: 'a.jpg', captions: ['x'] }],
    });
    expect(() => assertSplitNotEmpty(evalOnly, 'train')).toThrow(
      "eval-only has no 'train' split: it holds 0 images and 0 captions (splits with data: test, val)",
    );
    const noCaptions = parseGenericAnnotations({
      name: 'mute',
      train: [],
      test: [{ pid: 1, image: 'a.jpg', captions: [] }],
    });
    expect(() => assertSplitNotEmpty(noCaptions, 'test')).toThrow(
      "mute has no 'test' split: it holds 1 images and 0 captions (splits with data: none)",
    );
    expect(() => assertSplitNotEmpty(icfg, 'query' as 'test')).toThrow(
      'assertSplitNotEmpty: split must be one of train, test, val, got the string "query"',
    );
  });
});

describe('parseIcfgPedes and parseRstpReid', () => {
  it('ICFG-PEDES as it ships: train and test records, no val; ids unshifted, file_path', () => {
    const ds = parseIcfgPedes(icfgAnnos(), 'root/ICFG-PEDES/imgs');
    expect(ds.name).toBe('ICFG-PEDES');
    expect(ds.numClasses).toBe(3);
    expect(ds.train.map((s) => [s.pid, s.imageId])).toEqual([
      [0, 0],
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(ds.train[0]).toEqual({
      pid: 0,
      imageId: 0,
      imgPath: 'root/ICFG-PEDES/imgs/train/0000/0000_002_01_0303morning_0008_0.jpg',
      caption: 'the man wears a black jacket',
    });
    expect(ds.test.imagePids).toEqual([3102, 3102, 3105]);
    expect(ds.test.captionPids).toEqual([3102, 3102, 3105]);
    expect(ds.test.imgPaths[2]).toBe('root/ICFG-PEDES/imgs/test/3105/3105_013_11_0303afternoon_0400_0.jpg');
    expect(ds.val).toEqual({ imagePids: [], imgPaths: [], captionPids: [], captions: [] });
    expect(ds.stats).toEqual({
      train: { ids: 3, images: 4, captions: 4 },
      test: { ids: 2, images: 3, captions: 3 },
      val: { ids: 0, images: 0, captions: 0 },
    });
    const shifted = icfgAnnos().map((a) => (a.split === 'train' ? { ...a, id: (a.id as number) + 1 } : a));
    expect(() => parseIcfgPedes(shifted)).toThrow(/ICFG-PEDES\.json: train person ids must be exactly 0\.\.2/);
  });

  it('RSTPReid uses img_path and unshifted ids', () => {
    const ds = parseRstpReid(cuhkAnnos('img_path', 0), 'imgs/');
    expect(ds.name).toBe('RSTPReid');
    expect(ds.train[2]).toEqual({ pid: 1, imageId: 1, imgPath: 'imgs/CUHK01/b.png', caption: 'a woman' });
    expect(() => parseRstpReid(cuhkAnnos('file_path', 0))).toThrow(
      "data_captions.json: annotation 0: missing field 'img_path'",
    );
  });
});

describe('parseGenericAnnotations', () => {
  const generic = () => ({
    name: 'mine',
    imageRoot: 'images',
    train: [
      { pid: 40, image: 'p40/1.jpg', captions: ['x', 'y'] },
      { pid: 17, image: 'p17/1.jpg', captions: ['z'] },
      { pid: 40, image: 'p40/2.jpg', captions: ['w'] },
    ],
    test: [{ pid: 3, image: 't/1.jpg', captions: ['q1', 'q2'] }],
    val: [{ pid: 5, image: 'v/1.jpg', captions: ['v1'] }],
  });

  it('remaps training pids to 0..n-1 in increasing order and joins the image roots', () => {
    const ds = parseGenericAnnotations(generic(), 'data');
    expect(ds.name).toBe('mine');
    expect(ds.numClasses).toBe(2);
    expect([...ds.trainPidMap]).toEqual([
      [17, 0],
      [40, 1],
    ]);
    expect(ds.train).toEqual([
      { pid: 1, imageId: 0, imgPath: 'data/images/p40/1.jpg', caption: 'x' },
      { pid: 1, imageId: 0, imgPath: 'data/images/p40/1.jpg', caption: 'y' },
      { pid: 0, imageId: 1, imgPath: 'data/images/p17/1.jpg', caption: 'z' },
      { pid: 1, imageId: 2, imgPath: 'data/images/p40/2.jpg', caption: 'w' },
    ]);
    expect(ds.test.captionPids).toEqual([3, 3]);
    expect(ds.val.imgPaths).toEqual(['data/images/v/1.jpg']);
  });

  it('uses the test split as val when val is absent', () => {
    const g: Record<string, unknown> = generic();
    delete g.val;
    const ds = parseGenericAnnotations(g);
    expect(ds.val).toEqual(ds.test);
  });

  it('reports malformed files', () => {
    const g1: Record<string, unknown> = generic();
    delete g1.test;
    expect(() => parseGenericAnnotations(g1, '', 'g.json')).toThrow("g.json: missing field 'test'");
    const g2 = generic();
    (g2.train[1] as Record<string, unknown>).pid = '17';
    expect(() => parseGenericAnnotations(g2, '', 'g.json')).toThrow(
      `g.json: train[1], field 'pid': expected an integer person id, got the string "17"`,
    );
    const g3 = generic();
    delete (g3.test[0] as Record<string, unknown>).image;
    expect(() => parseGenericAnnotations(g3, '', 'g.json')).toThrow("g.json: test[0]: missing field 'image'");
    expect(parseGenericAnnotations({ ...generic(), val: [] }, '', 'g.json').stats.val).toEqual({
      ids: 0,
      images: 0,
      captions: 0,
    });
    expect(() => parseGenericAnnotations({ train: [], test: [] }, '', 'g.json')).toThrow(
      'g.json: no annotations (the train, test and val splits are all empty)',
    );
    expect(() => parseGenericAnnotations([], '', 'g.json')).toThrow('g.json: expected a JSON object');
    expect(() => parseGenericAnnotations({ ...generic(), train: {} }, '', 'g.json')).toThrow(
      "g.json: field 'train' must be an array, got an object",
    );
  });
});

describe('joinPath', () => {
  it('joins with single separators and ignores empty parts', () => {
    expect(joinPath('a/', '/b', 'c.png')).toBe('a/b/c.png');
    expect(joinPath('', 'c.png')).toBe('c.png');
    expect(joinPath('/abs/', 'x')).toBe('/abs/x');
  });
});

describe('loadDataset', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'irra-data-'));
    const write = async (dir: string, file: string, json: unknown) => {
      await mkdir(join(root, dir, 'imgs'), { recursive: true });
      await writeFile(join(root, dir, file), JSON.stringify(json));
    };
    await write('CUHK-PEDES', 'reid_raw.json', cuhkAnnos());
    await write('ICFG-PEDES', 'ICFG_PEDES.json', icfgAnnos());
    await write(join('icfg-real', 'ICFG-PEDES'), 'ICFG-PEDES.json', icfgAnnos());
    await write('RSTPReid', 'data_captions.json', cuhkAnnos('img_path', 0));
    await mkdir(join(root, 'mine'), { recursive: true });
    await writeFile(
      join(root, 'mine', 'annotations.json'),
      JSON.stringify({
        train: [{ pid: 3, image: 'a.png', captions: ['c'] }],
        test: [{ pid: 1, image: 'b.png', captions: ['d'] }],
      }),
    );
    await mkdir(join(root, 'empty', 'CUHK-PEDES'), { recursive: true });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads each reference layout from <root>/<dataset>/', async () => {
    const cuhk = await loadDataset('CUHK-PEDES', root);
    expect(cuhk.train[0].imgPath).toBe(`${root}/CUHK-PEDES/imgs/CUHK01/a.png`);
    expect(cuhk.numClasses).toBe(2);
    const icfg = await loadDataset('ICFG-PEDES', root);
    expect(icfg.name).toBe('ICFG-PEDES');
    expect(icfg.train.length).toBe(4);
    expect(icfg.stats.val.images).toBe(0);
    const real = await loadDataset('ICFG-PEDES', join(root, 'icfg-real'));
    expect(real.test.imgPaths[0]).toBe(
      `${root}/icfg-real/ICFG-PEDES/imgs/test/3102/3102_001_01_0303morning_0003_0.jpg`,
    );
    const rstp = await loadDataset('RSTPReid', root);
    expect(rstp.test.imgPaths[1]).toBe(`${root}/RSTPReid/imgs/test/e.png`);
    const generic = await loadDataset('generic', join(root, 'mine', 'annotations.json'));
    expect(generic.train[0]).toEqual({ pid: 0, imageId: 0, imgPath: `${root}/mine/a.png`, caption: 'c' });
  });

  it('names what is missing', async () => {
    await expect(loadDataset('CUHK-PEDES', join(root, 'nowhere'))).rejects.toThrow(
      `'${root}/nowhere/CUHK-PEDES' is not available`,
    );
    await expect(loadDataset('CUHK-PEDES', join(root, 'empty'))).rejects.toThrow(
      `'${root}/empty/CUHK-PEDES/imgs' is not available`,
    );
    await mkdir(join(root, 'empty', 'CUHK-PEDES', 'imgs'), { recursive: true });
    await expect(loadDataset('CUHK-PEDES', join(root, 'empty'))).rejects.toThrow(
      `'${root}/empty/CUHK-PEDES/reid_raw.json' is not available`,
    );
    await expect(loadDataset('generic', join(root, 'none.json'))).rejects.toThrow(
      `annotation file '${root}/none.json' does not exist`,
    );
    await expect(loadDataset('Market' as 'generic', root)).rejects.toThrow(
      /name must be one of CUHK-PEDES, ICFG-PEDES, RSTPReid, generic, got "Market"/,
    );
  });
});

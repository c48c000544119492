import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

  it('rejects an empty split', () => {
    for (const split of ['train', 'test', 'val']) {
      const annos = cuhkAnnos().filter((a) =>
        split === 'val' ? a.split === 'train' || a.split === 'test' : a.split !== split,
      );
      expect(() => parseCuhkPedes(annos), split).toThrow(`reid_raw.json: the '${split}' split is empty`);
    }
  });
});

describe('parseIcfgPedes and parseRstpReid', () => {
  it('ICFG-PEDES uses the ids unshifted and file_path', () => {
    const ds = parseIcfgPedes(cuhkAnnos('file_path', 0), 'imgs');
    expect(ds.train.map((s) => s.pid)).toEqual([0, 0, 1, 0]);
    expect(ds.train[0].imgPath).toBe('imgs/CUHK01/a.png');
    expect(ds.test.imagePids).toEqual([7, 9]);
    expect(() => parseIcfgPedes(cuhkAnnos('file_path', 1))).toThrow(
      /ICFG-PEDES\.json: train person ids must be exactly 0\.\.1/,
    );
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
    const g4 = { ...generic(), val: [] };
    expect(() => parseGenericAnnotations(g4, '', 'g.json')).toThrow("g.json: the 'val' split is empty");
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
    await write('ICFG-PEDES', 'ICFG_PEDES.json', cuhkAnnos('file_path', 0));
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

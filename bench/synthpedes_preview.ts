/**
 * Writes a PNG contact sheet of SynthPedes identities (one row per identity, its images side by
 * side, enlarged) to /tmp/synthpedes_preview.png, prints the captions of the first image of each
 * row, and times the generation of the default dataset.
 *
 *   npx tsx bench/synthpedes_preview.ts [seed] [rows] [height] [width] [firstPid]
 */
import { writeFileSync } from 'node:fs';
import { zlibSync } from 'fflate';
import { generateSynthPedes } from '../src/data/synthpedes';
import { concatBytes } from '../src/util/bytes';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal PNG encoder: 8-bit RGB, filter type 0 on every row, one IDAT chunk. */
function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const raw = new Uint8Array(height * (width * 3 + 1));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  const chunk = (type: string, data: Uint8Array): Uint8Array => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  return concatBytes(parts);
}

const seed = Number(process.argv[2] ?? 0);
const rows = Number(process.argv[3] ?? 8);
const height = Number(process.argv[4] ?? 96);
const width = Number(process.argv[5] ?? 32);
const firstPid = Number(process.argv[6] ?? 0);
const perRow = 6;
const zoom = 3;
const gap = 2;

const t0 = performance.now();
const full = generateSynthPedes({ seed });
const ms = performance.now() - t0;
const images = full.train.length + full.test.length;
console.log(
  `| dataset | identities | images | captions | ms | ms/image |\n|---|---|---|---|---|---|\n| default 96×32 | ${full.options.numIdentities} | ${images} | ${images * full.options.captionsPerImage} | ${ms.toFixed(0)} | ${(ms / images).toFixed(3)} |`,
);

const ds = generateSynthPedes({ seed, numIdentities: (firstPid + rows) * 2, imagesPerIdentity: perRow, height, width });
const sheetW = perRow * (width * zoom + gap) + gap;
const sheetH = rows * (height * zoom + gap) + gap;
const sheet = new Uint8Array(sheetW * sheetH * 3).fill(255);
for (let r = 0; r < rows; r++) {
  const samples = ds.train.filter((s) => s.pid === firstPid + r);
  samples.forEach((s, c) => {
    for (let y = 0; y < height * zoom; y++) {
      for (let x = 0; x < width * zoom; x++) {
        const src = (Math.floor(y / zoom) * width + Math.floor(x / zoom)) * 3;
        const dst = ((gap + r * (height * zoom + gap) + y) * sheetW + gap + c * (width * zoom + gap) + x) * 3;
        sheet[dst] = s.pixels[src];
        sheet[dst + 1] = s.pixels[src + 1];
        sheet[dst + 2] = s.pixels[src + 2];
      }
    }
  });
  const a = samples[0].attributes;
  console.log(
    `row ${r}: ${a.gender}/${a.figure}, ${a.hairLength} ${a.hairColor} hair, ${a.upper.color} ${a.upper.type}, ${a.lower.color} ${a.lower.type}, ${a.shoes.color} shoes, bag ${a.bag ? `${a.bag.color} ${a.bag.type}` : '-'}, hat ${a.hat ? a.hat.color : '-'}`,
  );
  for (const cap of samples[0].captions) console.log(`    ${cap}`);
}
const path = '/tmp/synthpedes_preview.png';
writeFileSync(path, encodePng(sheet, sheetW, sheetH));
console.log(`wrote ${path} (${sheetW}×${sheetH})`);

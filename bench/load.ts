/**
 * Loading a ViT-B/16-sized checkpoint (CLIP ViT-B/16 shapes: ~150M float32 parameters in ~300
 * tensors, ~600 MB). Generates the file in /tmp as safetensors and as a torch.save-style zip, then
 * loads each in a fresh child process and reports wall seconds and peak RSS
 * (`process.resourceUsage().maxRSS`) against the file size: `loadCheckpoint` (target ≤ 2× the file)
 * and `IRRA.load` to a built model on cpu and wasm (target ≤ 1.3× the file, issue 12).
 *
 *   npx tsx bench/load.ts            # all modes
 *   npx tsx bench/load.ts --keep     # keep the generated files
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PickleWriter } from '../test/helpers/torch_pickle';

const DIR = '/tmp/irra-bench-load';
const ST = join(DIR, 'vit_b16.safetensors');
const PT = join(DIR, 'vit_b16.pt');

/** OpenAI CLIP ViT-B/16 state_dict shapes. */
function clipShapes(): [string, number[]][] {
  const out: [string, number[]][] = [];
  const block = (p: string, w: number) => {
    out.push([`${p}.attn.in_proj_weight`, [3 * w, w]], [`${p}.attn.in_proj_bias`, [3 * w]]);
    out.push([`${p}.attn.out_proj.weight`, [w, w]], [`${p}.attn.out_proj.bias`, [w]]);
    out.push([`${p}.ln_1.weight`, [w]], [`${p}.ln_1.bias`, [w]], [`${p}.ln_2.weight`, [w]], [`${p}.ln_2.bias`, [w]]);
    out.push([`${p}.mlp.c_fc.weight`, [4 * w, w]], [`${p}.mlp.c_fc.bias`, [4 * w]]);
    out.push([`${p}.mlp.c_proj.weight`, [w, 4 * w]], [`${p}.mlp.c_proj.bias`, [w]]);
  };
  out.push(['positional_embedding', [77, 512]], ['text_projection', [512, 512]]);
  out.push(['visual.class_embedding', [768]], ['visual.positional_embedding', [197, 768]], ['visual.proj', [768, 512]]);
  out.push(['visual.conv1.weight', [768, 3, 16, 16]], ['visual.ln_pre.weight', [768]], ['visual.ln_pre.bias', [768]]);
  for (let i = 0; i < 12; i++) block(`visual.transformer.resblocks.${i}`, 768);
  out.push(['visual.ln_post.weight', [768]], ['visual.ln_post.bias', [768]]);
  for (let i = 0; i < 12; i++) block(`transformer.resblocks.${i}`, 512);
  out.push(['token_embedding.weight', [49408, 512]], ['ln_final.weight', [512]], ['ln_final.bias', [512]]);
  return out;
}

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function values(n: number, seed: number): Uint8Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 131 + i) * 0.02;
  return new Uint8Array(a.buffer);
}

function writeSafetensors(shapes: [string, number[]][]): void {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, shape] of shapes) {
    header[name] = { dtype: 'F32', shape, data_offsets: [off, off + numel(shape) * 4] };
    off += numel(shape) * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(ST, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len);
  writeSync(fd, Buffer.from(json));
  shapes.forEach(([, shape], i) => {
    writeSync(fd, values(numel(shape), i));
  });
  closeSync(fd);
}

/** A stored ZIP laid out as torch.save writes it (64-byte aligned data, CRC left 0: the reader does not check it). */
function writeTorchZip(shapes: [string, number[]][]): void {
  const w = new PickleWriter().proto();
  w.emptyDict().mark().str('model').global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  shapes.forEach(([name, shape], i) => {
    const stride = shape.map((_, d) => numel(shape.slice(d + 1)));
    w.str(name).tensor({
      name,
      key: String(i),
      storageType: 'FloatStorage',
      numel: numel(shape),
      offset: 0,
      shape,
      stride,
    });
  });
  w.op(0x75).str('epoch').int(3).op(0x75).stop();
  const files: [string, () => Uint8Array, number][] = [['vit/data.pkl', () => w.build(), w.build().length]];
  shapes.forEach(([, shape], i) => {
    files.push([`vit/data/${i}`, () => values(numel(shape), i), numel(shape) * 4]);
  });
  const fd = openSync(PT, 'w');
  let pos = 0;
  const central: Buffer[] = [];
  for (const [name, make, size] of files) {
    const nameBytes = Buffer.from(name);
    const pad = (64 - ((pos + 30 + nameBytes.length + 4) % 64)) % 64;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(size, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0x1234, 0);
    extra.writeUInt16LE(pad, 2);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt32LE(pos, 42);
    central.push(cd, nameBytes);
    writeSync(fd, local);
    writeSync(fd, nameBytes);
    writeSync(fd, extra);
    writeSync(fd, make());
    pos += 30 + nameBytes.length + extra.length + size;
  }
  const cdBytes = Buffer.concat(central);
  writeSync(fd, cdBytes);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(pos, 16);
  writeSync(fd, eocd);
  closeSync(fd);
}

const MODES: Record<string, string> = {
  'safetensors path → loadCheckpoint': 'st-path',
  'safetensors bytes → loadCheckpoint': 'st-bytes',
  'torch zip path → loadCheckpoint': 'pt-path',
  'torch zip path → IRRA.load (cpu)': 'pt-irra-cpu',
  'safetensors path → IRRA.load (cpu)': 'st-irra-cpu',
  'torch zip path → IRRA.load (wasm)': 'pt-irra-wasm',
  'safetensors path → IRRA.load (wasm)': 'st-irra-wasm',
};

/** `IRRA.load` of the generated CLIP checkpoint (384×128 crops, stride 16: the position embedding is resized). */
async function childIrra(mode: string): Promise<void> {
  const { selectBackend } = await import('../src/backends');
  await selectBackend([mode.endsWith('wasm') ? 'wasm' : 'cpu']);
  const { IRRA } = await import('../src/index');
  const rssBefore = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const model = await IRRA.load(mode.startsWith('st') ? ST : PT);
  const seconds = (performance.now() - t0) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ seconds, peak, rssBefore, tensors: model.countTensors(), params: model.countParams() }));
  model.dispose();
}

async function child(mode: string): Promise<void> {
  if (mode.includes('irra')) return childIrra(mode);
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const { loadCheckpoint } = await import('../src/weights/index');
  const { readFileSync } = await import('node:fs');
  const rssBefore = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const map =
    mode === 'st-path'
      ? await loadCheckpoint(ST)
      : mode === 'st-bytes'
        ? await loadCheckpoint(readFileSync(ST))
        : await loadCheckpoint(PT);
  const seconds = (performance.now() - t0) / 1000;
  let params = 0;
  for (const t of map.values()) params += t.size;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ seconds, peak, rssBefore, tensors: map.size, params }));
}

async function main(): Promise<void> {
  const shapes = clipShapes();
  if (!existsSync(DIR)) execFileSync('mkdir', ['-p', DIR]);
  let t = performance.now();
  if (!existsSync(ST)) writeSafetensors(shapes);
  if (!existsSync(PT)) writeTorchZip(shapes);
  const genSeconds = (performance.now() - t) / 1000;
  const total = shapes.reduce((a, [, s]) => a + numel(s), 0);
  console.log(
    `checkpoint: ${shapes.length} tensors, ${(total / 1e6).toFixed(1)}M float32 parameters (generated in ${genSeconds.toFixed(1)} s)`,
  );
  const rows: string[] = [];
  for (const [label, mode] of Object.entries(MODES)) {
    const file = mode.startsWith('st') ? ST : PT;
    const size = statSync(file).size;
    t = performance.now();
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', mode], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    rows.push(
      `| ${label} | ${(size / 1e6).toFixed(0)} MB | ${r.seconds.toFixed(2)} s | ${(r.peak / 1e6).toFixed(0)} MB | ${(r.peak / size).toFixed(2)}× | ${((r.peak - r.rssBefore) / size).toFixed(2)}× |`,
    );
  }
  console.log('| mode | file | load time | peak RSS | peak / file | (peak − RSS before load) / file |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  if (!process.argv.includes('--keep')) rmSync(DIR, { recursive: true, force: true });
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1]);
else await main();

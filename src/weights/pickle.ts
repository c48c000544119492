/**
 * A safe reader for Python pickles (protocols 0–5 binary opcodes, as `torch.save` and TorchScript
 * write them). It never executes anything: every GLOBAL goes through a caller-supplied resolver
 * that either returns a known, pure JavaScript stand-in or throws an error naming the global.
 * Each opcode consumes at least one byte, so running time is linear in the input; every length
 * read from the stream is checked against the bytes left before anything is allocated.
 */

/** A value the unpickler produces. Lists and tuples are both arrays; dicts are Maps. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | PyCallable
  | PyObject
  | object;

/** A whitelisted Python callable: `call` is pure JavaScript and builds a value from `args`. */
export class PyCallable {
  constructor(
    /** `module.name`, for error messages. */
    readonly qualname: string,
    readonly call: (args: PickleValue[]) => PickleValue,
  ) {}
}

/** An opaque instance of a class the resolver allowed (e.g. a TorchScript module): only its attributes. */
export class PyObject {
  /** Attribute name → value, set by BUILD. */
  readonly attrs = new Map<string, PickleValue>();
  constructor(
    /** `module.name` of the class. */
    readonly className: string,
  ) {}
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Returns the stand-in for GLOBAL `module name`, or throws an Error naming it. */
  resolveGlobal: (module: string, name: string) => PyCallable;
  /** Resolves a BINPERSID persistent id; throws when the pickle has none to offer. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Largest nesting of MARKs accepted; default {@link PICKLE_DEFAULTS}.maxMarkDepth. */
  maxMarkDepth?: number;
}

/** Limits of the unpickler. */
export const PICKLE_DEFAULTS = {
  /** Largest nesting of MARK-delimited containers. */
  maxMarkDepth: 1000,
  /** Longest module or name line of a GLOBAL opcode. */
  maxGlobalLine: 512,
} as const;

const MARK = Symbol('mark');

/**
 * Runs the pickle `bytes` on a stack machine and returns the value STOP leaves.
 * @throws Error on truncation, unknown opcodes, disallowed globals, malformed stacks or limits.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  const maxMarkDepth = options.maxMarkDepth ?? PICKLE_DEFAULTS.maxMarkDepth;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const stack: (PickleValue | typeof MARK)[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;

  const fail = (msg: string): never => {
    throw new Error(`pickle: ${msg} (at byte ${pos} of ${n})`);
  };
  const need = (k: number): void => {
    if (k < 0 || pos + k > n) fail(`truncated: needs ${k} more bytes, ${n - pos} left`);
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow');
    const v = stack[stack.length - 1];
    if (v === MARK) fail('unexpected MARK on the stack');
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    const items = stack.splice(m as number) as PickleValue[];
    if (stack.pop() !== MARK) fail('corrupted MARK');
    return items;
  };
  const str = (k: number, decoder: 'utf8' | 'latin1'): string => {
    need(k);
    const s = bytes.subarray(pos, pos + k);
    pos += k;
    if (decoder === 'latin1') return latin1(s);
    try {
      return utf8.decode(s);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const limit = Math.min(n, pos + PICKLE_DEFAULTS.maxGlobalLine);
    let end = pos;
    while (end < limit && bytes[end] !== 0x0a) end++;
    if (end >= limit) fail('GLOBAL name line too long or truncated');
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) fail(`declared length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const setItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on a ${describe(target)}, expected a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as Map<PickleValue, PickleValue>).set(items[i], items[i + 1]);
  };
  const appendItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(target)) fail(`APPEND(S) on a ${describe(target)}, expected a list`);
    for (const it of items) (target as PickleValue[]).push(it);
  };
  const globalOf = (module: string, name: string): PyCallable => {
    const g = options.resolveGlobal(module, name);
    if (!(g instanceof PyCallable)) fail(`resolver returned no callable for ${module}.${name}`);
    return g;
  };

  while (pos < n) {
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (bytes[pos] > 5) fail(`unsupported protocol ${bytes[pos]}`);
        pos += 1;
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP: the value on top, as Python's unpickler returns it
        return top();
      case 0x28: // MARK
        if (marks.length >= maxMarkDepth) fail(`nesting deeper than ${maxMarkDepth} MARKs`);
        stack.push(MARK);
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length > 0 && stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x64: {
        // DICT
        const d = new Map<PickleValue, PickleValue>();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(bytes[pos++]);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(view.getUint16(pos, true));
        pos += 2;
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4
        let k: number;
        if (op === 0x8a) {
          need(1);
          k = bytes[pos++];
        } else {
          need(4);
          k = view.getInt32(pos, true);
          pos += 4;
          if (k < 0) fail('negative LONG4 length');
        }
        need(k);
        let v = 0n;
        for (let i = k - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (k > 0 && bytes[pos + k - 1] & 0x80) v -= 1n << BigInt(8 * k);
        pos += k;
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: // BINFLOAT
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(str(u32(), 'utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        need(1);
        stack.push(str(bytes[pos++], 'utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(u64(), 'utf8'));
        break;
      case 0x55: // SHORT_BINSTRING
        need(1);
        stack.push(str(bytes[pos++], 'latin1'));
        break;
      case 0x54: // BINSTRING
        stack.push(str(u32(), 'latin1'));
        break;
      case 0x43: // SHORT_BINBYTES
      case 0x42: // BINBYTES
      case 0x8e: {
        // BINBYTES8
        let k: number;
        if (op === 0x43) {
          need(1);
          k = bytes[pos++];
        } else k = op === 0x42 ? u32() : u64();
        need(k);
        stack.push(new Uint8Array(bytes.subarray(pos, pos + k)));
        pos += k;
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(globalOf(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(globalOf(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyCallable)) fail(`REDUCE on a ${describe(fn)}, expected an allowed callable`);
        if (!Array.isArray(args)) fail(`REDUCE arguments must be a tuple, got a ${describe(args)}`);
        stack.push((fn as PyCallable).call(args as PickleValue[]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyCallable)) fail(`NEWOBJ on a ${describe(cls)}, expected an allowed class`);
        if (!Array.isArray(args)) fail(`NEWOBJ arguments must be a tuple, got a ${describe(args)}`);
        stack.push((cls as PyCallable).call(args as PickleValue[]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        build(obj, state, fail);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(bytes[pos++], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        let k: number;
        if (op === 0x68) {
          need(1);
          k = bytes[pos++];
        } else k = u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k) as PickleValue);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('BINPERSID in a pickle that has no persistent storage');
        stack.push((options.persistentLoad as (p: PickleValue) => PickleValue)(pid));
        break;
      }
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
  return fail('ended without STOP');
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function build(obj: PickleValue, state: PickleValue, fail: (msg: string) => never): void {
  if (obj instanceof PyObject) {
    const parts = Array.isArray(state) && state.length === 2 ? state : [state];
    for (const part of parts) {
      if (part === null) continue;
      if (!(part instanceof Map)) fail(`BUILD state of ${obj.className} must be a dict, got a ${describe(part)}`);
      for (const [k, v] of part as Map<PickleValue, PickleValue>) {
        if (typeof k !== 'string') fail(`BUILD attribute name of ${obj.className} must be a string`);
        obj.attrs.set(k as string, v);
      }
    }
    return;
  }
  if (obj instanceof Map) return; // OrderedDict state (torch's `_metadata`): not needed
  if (typeof obj === 'object' && obj !== null && !Array.isArray(obj) && !(obj instanceof Uint8Array)) return;
  fail(`BUILD on a ${describe(obj)}`);
}

/** A short description of a pickle value's type, for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyCallable) return `callable ${v.qualname}`;
  if (v instanceof PyObject) return `object of ${v.className}`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

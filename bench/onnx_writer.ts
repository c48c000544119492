/**
 * A minimal ONNX `ModelProto` writer for the benchmark's onnxruntime peer (bench/onnx_peer.ts).
 *
 * Hand-written rather than a dependency: it only writes (never parses), it needs a handful of
 * messages (ModelProto, OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, TensorProto with
 * `raw_data`, ValueInfoProto / TypeProto / TensorShapeProto), and the row it serves is a
 * comparison, not part of the library — a protobuf or onnx package would be a dependency for one
 * benchmark row. Field numbers are those of `onnx/onnx.proto`.
 *
 * Messages are built as trees of byte chunks and serialized once into a single buffer, so large
 * weights (`raw_data`) are copied exactly once.
 */

/** ONNX `TensorProto.DataType` values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
/** An ONNX element type this writer knows. */
export type ElemType = (typeof DataType)[keyof typeof DataType];

/** ONNX `AttributeProto.AttributeType` values used here. */
const AttributeType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const utf8 = new TextEncoder();

/** A protobuf message under construction: a list of encoded chunks and nested messages. */
export class Message {
  private readonly parts: Array<Uint8Array | Message> = [];
  private cached = -1;

  /** Encoded length in bytes (computed once, after the message is complete). */
  get size(): number {
    if (this.cached < 0) {
      let n = 0;
      for (const p of this.parts) n += p instanceof Message ? varintSize(p.size) + p.size : p.length;
      this.cached = n;
    }
    return this.cached;
  }

  /** A varint field (int32, int64, enum) of a safe integer. */
  varint(field: number, value: number): this {
    this.parts.push(concatBytes(encodeVarint(key(field, WIRE_VARINT)), encodeVarint(value)));
    return this;
  }

  /** A float field (wire type 5, little-endian float32). */
  float32(field: number, value: number): this {
    const b = new Uint8Array(5);
    b[0] = key(field, 5);
    new DataView(b.buffer).setFloat32(1, value, true);
    this.parts.push(b);
    return this;
  }

  /** A length-delimited bytes field; the bytes are referenced, not copied, until serialization. */
  bytes(field: number, value: Uint8Array): this {
    this.parts.push(concatBytes(encodeVarint(key(field, WIRE_LEN)), encodeVarint(value.length)), value);
    return this;
  }

  /** A UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A nested message field. */
  message(field: number, value: Message): this {
    this.parts.push(encodeVarint(key(field, WIRE_LEN)), value);
    return this;
  }

  /** The whole message as one new buffer. */
  serialize(): Uint8Array {
    const out = new Uint8Array(this.size);
    this.writeInto(out, 0);
    return out;
  }

  private writeInto(out: Uint8Array, offset: number): number {
    let o = offset;
    for (const p of this.parts) {
      if (p instanceof Message) {
        const len = encodeVarint(p.size);
        out.set(len, o);
        o = p.writeInto(out, o + len.length);
      } else {
        out.set(p, o);
        o += p.length;
      }
    }
    return o;
  }
}

function key(field: number, wire: number): number {
  return field * 8 + wire;
}

/** Bytes of the base-128 varint of a non-negative safe integer. */
function varintSize(value: number): number {
  let n = 1;
  for (let v = value; v >= 128; v = Math.floor(v / 128)) n++;
  return n;
}

/**
 * Base-128 varint of a safe integer; a negative value is written as its 64-bit two's complement
 * (ten bytes), as protobuf does for int32/int64 fields.
 */
function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value)) throw new Error(`onnx_writer: varint value must be a safe integer, got ${value}`);
  if (value < 0) {
    let v = BigInt.asUintN(64, BigInt(value));
    const out = new Uint8Array(10);
    for (let i = 0; i < 10; i++) {
      const low = Number(v & 127n);
      v >>= 7n;
      out[i] = v > 0n ? low | 128 : low;
    }
    return out;
  }
  const out = new Uint8Array(varintSize(value));
  let v = value;
  for (let i = 0; i < out.length; i++) {
    const low = v % 128;
    v = Math.floor(v / 128);
    out[i] = v > 0 ? low | 128 : low;
  }
  return out;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A node attribute: a float, an int, or a list of ints. */
export type Attribute = { float: number } | { int: number } | { ints: number[] };

/** One graph node: `op_type`, input and output value names, attributes. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, Attribute>;
}

/** A constant tensor of the graph (an initializer). */
export interface InitializerSpec {
  name: string;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** A graph input or output: name, element type and static shape. */
export interface ValueSpec {
  name: string;
  elemType: ElemType;
  dims: number[];
}

/** Everything of one single-graph ONNX model. */
export interface ModelSpec {
  nodes: NodeSpec[];
  initializers: InitializerSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  /** Default opset of the `ai.onnx` domain. Default 17 (LayerNormalization exists from 17). */
  opset?: number;
  /** Graph name. Default 'graph'. */
  name?: string;
}

/** Defaults of {@link encodeModel}. */
export const WRITER_DEFAULTS = { opset: 17, irVersion: 8, name: 'graph', producer: 'irra-tfjs bench' } as const;

function attributeProto(name: string, a: Attribute): Message {
  // AttributeProto: name = 1, f = 2, i = 3, ints = 8, type = 20.
  const m = new Message().string(1, name);
  if ('float' in a) return m.float32(2, a.float).varint(20, AttributeType.FLOAT);
  if ('int' in a) return m.varint(3, a.int).varint(20, AttributeType.INT);
  for (const v of a.ints) m.varint(8, v);
  return m.varint(20, AttributeType.INTS);
}

function nodeProto(n: NodeSpec, index: number): Message {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, `${n.op}_${index}`).string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs ?? {})) m.message(5, attributeProto(k, v));
  return m;
}

function tensorProto(t: InitializerSpec): Message {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian, row-major).
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) {
    throw new Error(
      `onnx_writer: initializer '${t.name}' has dims [${t.dims}] (${count} values), got ${t.data.length}`,
    );
  }
  const elemType =
    t.data instanceof Float32Array ? DataType.FLOAT : t.data instanceof Int32Array ? DataType.INT32 : DataType.INT64;
  const m = new Message();
  for (const d of t.dims) m.varint(1, d);
  m.varint(2, elemType).string(8, t.name);
  return m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function valueInfoProto(v: ValueSpec): Message {
  // ValueInfoProto: name = 1, type = 2; TypeProto: tensor_type = 1; TypeProto.Tensor: elem_type = 1,
  // shape = 2; TensorShapeProto: dim = 1; Dimension: dim_value = 1.
  const shape = new Message();
  for (const d of v.dims) shape.message(1, new Message().varint(1, d));
  const tensorType = new Message().varint(1, v.elemType).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

/**
 * Serializes a single-graph model (ir_version 8, opset `spec.opset`, default domain) to ONNX
 * `ModelProto` bytes, ready for `InferenceSession.create(bytes)`. The weights are copied once into
 * the returned buffer.
 */
export function encodeModel(spec: ModelSpec): Uint8Array {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  const graph = new Message();
  spec.nodes.forEach((n, i) => {
    graph.message(1, nodeProto(n, i));
  });
  graph.string(2, spec.name ?? WRITER_DEFAULTS.name);
  for (const t of spec.initializers) graph.message(5, tensorProto(t));
  for (const v of spec.inputs) graph.message(11, valueInfoProto(v));
  for (const v of spec.outputs) graph.message(12, valueInfoProto(v));
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8
  // (OperatorSetIdProto: domain = 1, version = 2; an empty domain is ai.onnx).
  const model = new Message()
    .varint(1, WRITER_DEFAULTS.irVersion)
    .string(2, WRITER_DEFAULTS.producer)
    .message(7, graph)
    .message(8, new Message().string(1, '').varint(2, spec.opset ?? WRITER_DEFAULTS.opset));
  return model.serialize();
}

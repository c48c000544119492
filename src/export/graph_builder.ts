/**
 * Accumulates the nodes, initializers, inputs and outputs of one ONNX graph as `onnx-proto`
 * messages (protobufjs-generated code of ONNX's `onnx.proto`) and serializes them as a
 * `ModelProto`. Only `protobufjs/minimal` runs: no Node built-in, no schema parsing, so this
 * bundles for browsers.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX element types the exporter writes (`TensorProto.DataType`). */
export const ElemType = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
} as const;
/** One of {@link ElemType}'s values. */
export type ElemTypeValue = (typeof ElemType)[keyof typeof ElemType];

/** A node attribute: a float, an int, or a list of ints. */
export type Attribute = { float: number } | { int: number } | { ints: readonly number[] };

/** A graph input or output: name, element type, and dims (a string is a named dynamic axis). */
export interface ValueSpec {
  name: string;
  elemType: ElemTypeValue;
  dims: ReadonlyArray<number | string>;
}

/** Model-level fields of {@link GraphBuilder.serialize}. */
export interface ModelSpec {
  /** Default-domain (`ai.onnx`) opset. */
  opset: number;
  /** Graph name. */
  name: string;
  /** `producer_name`. */
  producer: string;
  /** `doc_string` of the graph. */
  doc?: string;
  /** `metadata_props` (string key → string value). */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * The IR version that introduced each opset range (ONNX's versioning table): opsets up to 18 →
 * IR 8, 19–20 → IR 9, 21–22 → IR 10. A model declares the lowest IR version its opset needs.
 */
export function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function attributeProto(name: string, a: Attribute): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('float' in a) return { name, type: T.FLOAT, f: a.float };
  if ('int' in a) return { name, type: T.INT, i: a.int };
  return { name, type: T.INTS, ints: [...a.ints] };
}

function valueInfo(v: ValueSpec): onnxProto.onnx.IValueInfoProto {
  const dim = v.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name: v.name, type: { tensorType: { elemType: v.elemType, shape: { dim } } } };
}

/** Builds one graph; intermediate values get generated names (`<op>_<n>`). */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly names = new Set<string>();
  private readonly consts = new Map<string, string>();
  private count = 0;

  /** Declares a graph input; returns its name. */
  input(spec: ValueSpec): string {
    this.claim(spec.name);
    this.inputs.push(spec);
    return spec.name;
  }

  /** Declares a graph output: the value named `spec.name` (give that name to the last {@link op}). */
  output(spec: ValueSpec): void {
    this.outputs.push(spec);
  }

  /**
   * Adds a constant tensor (an initializer) named `name` holding `data` (row-major, `dims`);
   * returns the name. The data is referenced until {@link serialize} copies it.
   * @throws Error when the element count differs from the product of `dims`, or the name is taken.
   */
  init(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(`exportOnnx: initializer '${name}' has dims [${dims}] (${count} values), got ${data.length}`);
    }
    this.claim(name);
    const dataType = data instanceof Float32Array ? ElemType.float32 : ElemType.int64;
    // raw_data is little-endian: the typed array's own bytes on every host JavaScript runs on.
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims: [...dims], dataType, rawData });
    return name;
  }

  /** A shared int64 constant (shapes, indices); `dims` `[]` makes a scalar. */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims}:${values}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.init(
        `const_i64_${this.consts.size}`,
        dims,
        BigInt64Array.from(values, (v) => BigInt(v)),
      );
      this.consts.set(key, name);
    }
    return name;
  }

  /** A shared float32 scalar constant. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.init(`const_f32_${this.consts.size}`, [], Float32Array.of(value));
      this.consts.set(key, name);
    }
    return name;
  }

  /**
   * Adds a one-output node of operator `op`; returns the output's name (`output` when given, as
   * for a graph output, else a generated one).
   */
  op(
    op: string,
    inputs: readonly string[],
    attrs: Readonly<Record<string, Attribute>> = {},
    output = `${op.toLowerCase()}_${this.count++}`,
  ): string {
    const out = output;
    this.claim(out);
    this.nodes.push({
      opType: op,
      input: [...inputs],
      output: [out],
      name: out,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
    });
    return out;
  }

  /** The whole model as `ModelProto` bytes (the weights are copied once, into this buffer). */
  serialize(spec: ModelSpec): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: irVersionFor(spec.opset),
      producerName: spec.producer,
      opsetImport: [{ domain: '', version: spec.opset }],
      metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: spec.name,
        docString: spec.doc ?? '',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    const bytes = onnx.ModelProto.encode(model).finish();
    // protobufjs returns a Node Buffer in Node: hand back a plain Uint8Array over the same memory.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`exportOnnx: the graph already has a value named '${name}'`);
    this.names.add(name);
  }
}

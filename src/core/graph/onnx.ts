/** Serializes the IR to an ONNX ModelProto with protobufjs (the onnx-proto generated classes). */
import { onnx } from 'onnx-proto';
import type { AttrValue, DType, Graph, Initializer, ValueInfo } from './ir';

/** Opset 20: Gelu is a standard op from 20; LayerNormalization from 17; everything here is <= 20. */
export const OPSET = 20;
/** IR version 9 pairs with opset 20 (ONNX versioning table). */
const IR_VERSION = 9;

const DTYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: DTYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  };
}

function tensor(init: Initializer): onnx.ITensorProto {
  const bytes = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
  return { name: init.name, dataType: DTYPE[init.dtype], dims: init.shape, rawData: bytes };
}

const T = onnx.AttributeProto.AttributeType;
function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float} for non-integers`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

export function toModelProto(g: Graph): onnx.IModelProto {
  const inputs = new Set(g.inputs);
  return {
    irVersion: IR_VERSION,
    producerName: 'shapelab',
    // onnxruntime's contrib ops (com.microsoft) are version 1; imported only when a node uses them.
    opsetImport: [{ domain: '', version: OPSET }, ...[...new Set(g.nodes.map((n) => n.domain).filter((d): d is string => !!d))].map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: g.name,
      node: g.nodes.map((n, i) => ({
        name: `n${i}_${n.op}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
      })),
      input: g.inputs.map((n) => valueInfo(g.info(n))),
      output: g.outputs.map((n) => valueInfo(g.info(n))),
      initializer: [...g.initializers.values()].filter((i) => !inputs.has(i.name)).map(tensor),
    },
  };
}

/** The serialized model, ready for `InferenceSession.create(bytes)`. */
export function serialize(g: Graph): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(toModelProto(g) as Record<string, unknown>)).finish();
}

//! The few ONNX protobuf messages the importer reads, written by hand as `prost` messages (field
//! numbers from onnx.proto3; no build script, no protoc). Fields the importer does not need are
//! left out: prost skips unknown fields, so a model that uses them still decodes.

use prost::Message;

/// `ModelProto`: the file's top-level message.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    /// The IR version.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// The operator sets the graph uses (domain "" is the default ONNX set).
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// The tool that wrote the file.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

impl ModelProto {
    /// The model's protobuf encoding (tests build models with it).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

/// `OperatorSetIdProto`.
#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    /// The domain ("" or "ai.onnx" for the default set).
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `GraphProto`.
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    /// Nodes in topological order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors (weights).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Sparse constant tensors (refused).
    #[prost(message, repeated, tag = "15")]
    pub sparse_initializer: Vec<SparseTensorProto>,
    /// The graph's inputs (older files also list the initialisers here).
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// The graph's outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `SparseTensorProto`, only to notice one.
#[derive(Clone, PartialEq, Message)]
pub struct SparseTensorProto {
    /// The values (its name is the values' name).
    #[prost(message, optional, tag = "1")]
    pub values: Option<TensorProto>,
}

/// `NodeProto`: one operator application.
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    /// Input value names ("" for an omitted optional input).
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name (may be empty).
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator, e.g. `Conv`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// The operator's domain ("" is ONNX's).
    #[prost(string, tag = "7")]
    pub domain: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `AttributeProto` (graph-valued attributes are not decoded: nodes that carry them are refused).
#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type (`AttributeType`: 1 float, 2 int, 3 string, 4 tensor, 6 floats, 7 ints, …).
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    /// A float.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// An int.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// A string (bytes).
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// A tensor.
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    /// Floats.
    #[prost(float, repeated, tag = "7")]
    pub floats: Vec<f32>,
    /// Ints.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

/// `TensorProto`: a constant tensor.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    /// Its dimensions.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// `TensorProto.DataType`: 1 float, 6 int32, 7 int64, 11 double, …
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Float values (when not in `raw_data`).
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// Int32 (and smaller) values.
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    /// Int64 values.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// Its name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Little-endian packed values.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// Double values.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// 1 when the data lives in a separate file (refused).
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// `ValueInfoProto`: a graph input's or output's name and type.
#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `TypeProto`: only the tensor case is decoded (sequences and maps are refused).
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    /// A tensor type.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `TypeProto.Tensor`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorTypeProto {
    /// The element type (`TensorProto.DataType`).
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// The shape, if the exporter wrote one.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `TensorShapeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    /// The dimensions.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `TensorShapeProto.Dimension`: a size or a symbolic name (the `oneof` as two optionals).
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    /// A fixed size.
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    /// A symbolic size, e.g. "batch".
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// The element type codes the importer knows by name.
pub fn data_type_name(code: i32) -> &'static str {
    match code {
        1 => "FLOAT",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FLOAT16",
        11 => "DOUBLE",
        12 => "UINT32",
        13 => "UINT64",
        14 => "COMPLEX64",
        15 => "COMPLEX128",
        16 => "BFLOAT16",
        17..=23 => "FLOAT8/INT4 (quantised)",
        _ => "UNDEFINED",
    }
}

/// The most elements one tensor of the model may have (the scenario format's input limit).
pub const MAX_ELEMENTS: usize = 1 << 24;

/// A decoded constant tensor: its shape and values as f64 (integers are exact up to 2^53).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// The shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f64>,
}

/// The tensor's shape and values, or why it cannot be read (a sentence).
pub fn decode_tensor(t: &TensorProto) -> Result<Dense, String> {
    if t.data_location == 1 {
        return Err(
            "its data is stored in an external file; save the model with its weights \
                    inside (onnx.save_model(model, path, save_as_external_data=False))"
                .into(),
        );
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut n: usize = 1;
    for &d in &t.dims {
        let d = usize::try_from(d).map_err(|_| format!("dimension {d} is negative"))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("shape {:?} has more than {MAX_ELEMENTS} elements", t.dims))?;
        shape.push(d);
    }
    if n == 0 {
        return Err(format!("shape {:?} has no elements", t.dims));
    }
    let raw = !t.raw_data.is_empty();
    let size = match t.data_type {
        1 | 6 => 4,
        7 | 11 => 8,
        other => {
            return Err(format!(
                "data type {} is not supported (FLOAT, DOUBLE, INT32 and INT64 are)",
                data_type_name(other)
            ))
        }
    };
    let values: Vec<f64> = if raw {
        if t.raw_data.len() != n * size {
            return Err(format!(
                "raw data holds {} bytes but shape {:?} needs {}",
                t.raw_data.len(),
                t.dims,
                n * size
            ));
        }
        let chunks = t.raw_data.chunks_exact(size);
        match t.data_type {
            1 => chunks
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect(),
            6 => chunks
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect(),
            7 => chunks
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64)
                .collect(),
            _ => chunks
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        }
    } else {
        let v: Vec<f64> = match t.data_type {
            1 => t.float_data.iter().map(|&x| x as f64).collect(),
            6 => t.int32_data.iter().map(|&x| x as f64).collect(),
            7 => t.int64_data.iter().map(|&x| x as f64).collect(),
            _ => t.double_data.clone(),
        };
        if v.len() != n {
            return Err(format!(
                "holds {} values but shape {:?} needs {n}",
                v.len(),
                t.dims
            ));
        }
        v
    };
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(format!("holds a value that is not finite ({bad})"));
    }
    Ok(Dense { shape, values })
}

/// The largest model file the importer reads (a larger one is refused before it is read).
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// Decodes a model from the file's bytes (a sentence on failure).
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model (protobuf: {e})"))
}

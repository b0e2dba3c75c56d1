//! Request bodies in the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! decoded into the JSON object the apiserver would see.
//!
//! kubectl (1.32 and later) sends the objects of its typed clients (`kubectl create deployment`,
//! `expose`, `run`, ...) this way and does not fall back to JSON. The body is the 4-byte magic
//! `k8s\0` and a `runtime.Unknown` whose `typeMeta` names the kind and whose `raw` holds the
//! object's message. Objects are only ever read here: responses stay JSON, which clients accept.
//!
//! The decoding follows what the apiserver does — protobuf into the Go struct, the Go struct into
//! JSON — so the result is the object's JSON form:
//! - Go pointer fields (`replicas *int32`) are sent only when set, and are kept even when zero.
//! - Non-pointer scalars are always sent, zero or not; a zero one is omitted, as `omitempty` does.
//!   (A zero non-pointer field whose JSON tag lacks `omitempty`, such as a container's empty
//!   `name`, is omitted too; the apiserver would write `""` or `0`. Both are invalid objects.)
//! - Non-pointer structs are always sent and appear, like in Go's JSON, as `{}` when empty; a
//!   zero `metav1.Time` travels as an empty message and becomes `null` (`creationTimestamp: null`).
//! - Embedded structs tagged `json:",inline"` (`LocalObjectReference` in key selectors, a
//!   probe's handler, a volume's source) have their fields merged into the parent object.
//! - Fields this schema does not know are skipped, as protobuf decoders do.
//!
//! Which messages and fields exist is in the generated [`schema`] table: every message reachable
//! from the built-in kinds the cluster serves (core/v1, apps/v1, batch/v1, networking/v1,
//! autoscaling/v1 Scale and v2, policy/v1, rbac/v1, coordination/v1 Lease, meta/v1
//! DeleteOptions). CustomResourceDefinitions are not in it: kubectl sends them as JSON.

#[rustfmt::skip] // generated, one field a line
mod schema;
mod wire;

use base64::Engine;
use serde_json::{Map, Value};

use crate::status::ApiError;
use wire::{Reader, WireError, WireValue};

/// The media type of a protobuf body.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Every protobuf body starts with these bytes, before the `runtime.Unknown` envelope.
const MAGIC: &[u8] = b"k8s\0";

/// How a field's value turns into JSON.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Str,
    /// Base64 in JSON.
    Bytes,
    Bool,
    I32,
    I64,
    U32,
    U64,
    F64,
    F32,
    Message(&'static Message),
    /// `metav1.Time`: `Timestamp{seconds = 1, nanos = 2}`, RFC 3339 to the second in JSON.
    Time,
    /// `metav1.MicroTime`: the same message, RFC 3339 to the microsecond in JSON.
    MicroTime,
    /// `intstr.IntOrString`: `{type = 1, intVal = 2, strVal = 3}`, a JSON number or string.
    IntOrString,
    /// `resource.Quantity`: `{string = 1}`, a JSON string.
    Quantity,
    /// `metav1.FieldsV1`: `{raw = 1}`, raw JSON embedded as is.
    FieldsV1,
    /// `runtime.RawExtension`: `{raw = 1}`, raw JSON embedded as is.
    RawExtension,
}

/// How often a field occurs and what its absence or zero value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// A Go pointer: present on the wire only when set, and then kept even when zero.
    Pointer,
    /// A Go value: always on the wire; a zero scalar is omitted as `omitempty` would.
    Value,
    Repeated,
    /// `map<string, ty>`: repeated entries with key = 1, value = 2.
    Map,
    /// An embedded struct tagged `json:",inline"`: its fields go into the parent object.
    Inline,
}

#[derive(Debug)]
pub struct Field {
    pub number: u32,
    pub json: &'static str,
    pub ty: Ty,
    pub card: Card,
}

#[derive(Debug)]
pub struct Message {
    pub name: &'static str,
    /// Sorted by number.
    pub fields: &'static [Field],
}

impl Message {
    fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields
            .binary_search_by_key(&number, |f| f.number)
            .ok()
            .map(|i| &self.fields[i])
    }
}

/// A decoding failure: what went wrong, and where in the object (JSON path, outermost first).
struct Error {
    what: String,
    path: Vec<String>,
}

impl Error {
    fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            path: Vec::new(),
        }
    }

    fn wire(e: WireError, number: Option<u32>, message: &Message) -> Self {
        Self::new(match number {
            Some(n) => format!("{e} in {}", describe(n, message)),
            None => format!("{e} in a field key of {}", message.name),
        })
    }

    /// Adds a path segment on the way out of a nested value.
    fn at(mut self, segment: impl Into<String>) -> Self {
        self.path.insert(0, segment.into());
        self
    }

    fn into_api(self) -> ApiError {
        let path: String = self.path.concat();
        if path.is_empty() {
            ApiError::bad_request(format!("protobuf: {}", self.what))
        } else {
            ApiError::bad_request(format!("protobuf: {} (at {path})", self.what))
        }
    }
}

/// "field 7 (generation) of ObjectMeta"
fn describe(number: u32, message: &Message) -> String {
    match message.field(number) {
        Some(f) => format!("field {number} ({}) of {}", f.json, message.name),
        None => format!("field {number} of {}", message.name),
    }
}

/// Decodes a protobuf request body into the object's JSON form, with `apiVersion` and `kind`
/// from the envelope.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    decode_body(body).map_err(Error::into_api)
}

fn decode_body(body: &[u8]) -> Result<Value, Error> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        Error::new(
            "the body does not start with the \"k8s\\0\" magic of a Kubernetes protobuf message",
        )
    })?;
    let unknown = Unknown::read(envelope)?;
    if !unknown.content_encoding.is_empty() {
        return Err(Error::new(format!(
            "unsupported contentEncoding {:?} in runtime.Unknown",
            unknown.content_encoding
        )));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != MEDIA_TYPE {
        return Err(Error::new(format!(
            "unsupported contentType {:?} in runtime.Unknown",
            unknown.content_type
        )));
    }
    let message = schema::KINDS
        .iter()
        .find(|(api_version, kind, _)| *api_version == unknown.api_version && *kind == unknown.kind)
        .map(|(_, _, m)| *m)
        .ok_or_else(|| {
            Error::new(format!(
                "no protobuf schema for kind {:?} of apiVersion {:?}; send it as application/json",
                unknown.kind, unknown.api_version
            ))
        })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::from(unknown.api_version));
    object.insert("kind".into(), Value::from(unknown.kind));
    decode_message(unknown.raw, message, &mut object)?;
    Ok(Value::Object(object))
}

/// `runtime.Unknown`: typeMeta = 1 (`{apiVersion = 1, kind = 2}`), raw = 2, contentEncoding = 3,
/// contentType = 4.
#[derive(Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut unknown = Unknown::default();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for (n, value) in strings_of(bytes, "runtime.Unknown")? {
            match n {
                1 => {
                    for (m, v) in strings_of(value, "runtime.TypeMeta")? {
                        match m {
                            1 => unknown.api_version = text(v),
                            2 => unknown.kind = text(v),
                            _ => {}
                        }
                    }
                }
                2 => unknown.raw = value,
                3 => unknown.content_encoding = text(value),
                4 => unknown.content_type = text(value),
                _ => {}
            }
        }
        if unknown.kind.is_empty() {
            return Err(Error::new("runtime.Unknown has no typeMeta.kind"));
        }
        Ok(unknown)
    }
}

/// Decodes the records of `bytes` as `message` into `out`. A field sent twice follows protobuf
/// semantics: a message merges into the first, a scalar's last value wins, a list appends.
fn decode_message(
    bytes: &[u8],
    message: &'static Message,
    out: &mut Map<String, Value>,
) -> Result<(), Error> {
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next_field() {
        let (number, value) = record.map_err(|(n, e)| Error::wire(e, n, message))?;
        let Some(field) = message.field(number) else {
            continue;
        };
        decode_field(field, value, message, out).map_err(|e| match field.card {
            Card::Inline => e,
            _ => e.at(format!(".{}", field.json)),
        })?;
    }
    Ok(())
}

fn decode_field(
    field: &'static Field,
    value: WireValue<'_>,
    message: &'static Message,
    out: &mut Map<String, Value>,
) -> Result<(), Error> {
    match field.card {
        Card::Inline => {
            let (Ty::Message(inner), WireValue::Bytes(bytes)) = (field.ty, value) else {
                return Err(wrong_wire_type(field, message, value));
            };
            decode_message(bytes, inner, out)
        }
        Card::Repeated => {
            let list = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = list else {
                unreachable!("{} holds only arrays", field.json)
            };
            match (value, packed_width(field.ty)) {
                // Repeated scalars may be packed: one length-delimited run of values.
                (WireValue::Bytes(bytes), Some(width)) => {
                    let mut reader = Reader::new(bytes);
                    while !reader.is_empty() {
                        let element = read_packed(&mut reader, width)
                            .map_err(|e| Error::wire(e, Some(field.number), message))?;
                        items.push(scalar(field, element, message)?);
                    }
                    Ok(())
                }
                _ => {
                    let index = items.len();
                    items.push(
                        single(field, value, message).map_err(|e| e.at(format!("[{index}]")))?,
                    );
                    Ok(())
                }
            }
        }
        Card::Map => {
            let WireValue::Bytes(entry) = value else {
                return Err(wrong_wire_type(field, message, value));
            };
            let (key, value) = map_entry(field, entry, message)?;
            let map = out
                .entry(field.json)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(map) = map else {
                unreachable!("{} holds only objects", field.json)
            };
            map.insert(key, value);
            Ok(())
        }
        Card::Pointer | Card::Value => {
            // A message seen again merges into the first, as protobuf decoders do.
            if let (Ty::Message(inner), WireValue::Bytes(bytes), Some(Value::Object(existing))) =
                (field.ty, value, out.get_mut(field.json))
            {
                return decode_message(bytes, inner, existing);
            }
            let decoded = single(field, value, message)?;
            if field.card == Card::Value && is_zero_scalar(field.ty, &decoded) {
                out.remove(field.json);
            } else {
                out.insert(field.json.to_string(), decoded);
            }
            Ok(())
        }
    }
}

/// `Some(bytes per element)` for the types a packed run can hold (0 for varints).
fn packed_width(ty: Ty) -> Option<usize> {
    match ty {
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => Some(0),
        Ty::F64 => Some(8),
        Ty::F32 => Some(4),
        _ => None,
    }
}

fn read_packed<'a>(reader: &mut Reader<'a>, width: usize) -> Result<WireValue<'a>, WireError> {
    match width {
        0 => reader.varint().map(WireValue::Varint),
        8 => reader
            .fixed::<8>()
            .map(|b| WireValue::Fixed64(u64::from_le_bytes(b))),
        _ => reader
            .fixed::<4>()
            .map(|b| WireValue::Fixed32(u32::from_le_bytes(b))),
    }
}

/// A map entry: key = 1 (string), value = 2. A missing value is the type's zero value, as in Go.
fn map_entry(
    field: &'static Field,
    entry: &[u8],
    message: &'static Message,
) -> Result<(String, Value), Error> {
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(entry);
    while let Some(record) = reader.next_field() {
        match record.map_err(|(n, e)| {
            Error::new(format!(
                "{e} in {} of a {} entry",
                n.map_or("a field key".to_string(), |n| format!("field {n}")),
                describe(field.number, message)
            ))
        })? {
            (1, WireValue::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (2, v) => value = Some(v),
            (1, other) => {
                return Err(Error::new(format!(
                    "map key of {} is a {}, expected length-delimited",
                    describe(field.number, message),
                    other.wire_type()
                )));
            }
            _ => {}
        }
    }
    let value = match value {
        Some(v) => single(field, v, message).map_err(|e| e.at(format!("[{key:?}]")))?,
        None => zero_value(field.ty),
    };
    Ok((key, value))
}

fn zero_value(ty: Ty) -> Value {
    match ty {
        Ty::Str | Ty::Bytes => Value::from(""),
        Ty::Bool => Value::from(false),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::IntOrString => Value::from(0),
        Ty::F64 | Ty::F32 => Value::from(0.0),
        Ty::Message(_) => Value::Object(Map::new()),
        Ty::Quantity => Value::from("0"),
        Ty::Time | Ty::MicroTime | Ty::FieldsV1 | Ty::RawExtension => Value::Null,
    }
}

fn is_zero_scalar(ty: Ty, value: &Value) -> bool {
    match ty {
        Ty::Str | Ty::Bytes => value.as_str() == Some(""),
        Ty::Bool => value == &Value::Bool(false),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::F64 | Ty::F32 => value.as_f64() == Some(0.0),
        _ => false,
    }
}

fn wrong_wire_type(field: &Field, message: &Message, value: WireValue<'_>) -> Error {
    Error::new(format!(
        "{} is a {}, which does not fit its type",
        describe(field.number, message),
        value.wire_type()
    ))
}

/// One value of a field (an element, for repeated and map fields).
fn single(
    field: &'static Field,
    value: WireValue<'_>,
    message: &'static Message,
) -> Result<Value, Error> {
    let WireValue::Bytes(bytes) = value else {
        return scalar(field, value, message);
    };
    let text = || String::from_utf8_lossy(bytes).into_owned();
    Ok(match field.ty {
        // Go's JSON encoder replaces invalid UTF-8 with U+FFFD, as the lossy conversion does.
        Ty::Str => Value::from(text()),
        Ty::Bytes => Value::from(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Ty::Message(inner) => {
            let mut object = Map::new();
            decode_message(bytes, inner, &mut object)?;
            Value::Object(object)
        }
        Ty::Time => time(bytes, false)?,
        Ty::MicroTime => time(bytes, true)?,
        Ty::IntOrString => int_or_string(bytes)?,
        Ty::Quantity => {
            let mut quantity = String::new();
            for (n, v) in strings_of(bytes, "resource.Quantity")? {
                if n == 1 {
                    quantity = String::from_utf8_lossy(v).into_owned();
                }
            }
            Value::from(quantity)
        }
        Ty::FieldsV1 => raw_json(bytes, "metav1.FieldsV1")?,
        Ty::RawExtension => raw_json(bytes, "runtime.RawExtension")?,
        Ty::Bool | Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::F64 | Ty::F32 => {
            return Err(wrong_wire_type(field, message, value));
        }
    })
}

/// A varint or fixed-width value as JSON. int32 travels sign-extended to 64 bits, so it is
/// truncated back as Go does.
fn scalar(field: &Field, value: WireValue<'_>, message: &Message) -> Result<Value, Error> {
    Ok(match (field.ty, value) {
        (Ty::Bool, WireValue::Varint(v)) => Value::from(v != 0),
        (Ty::I32, WireValue::Varint(v)) => Value::from(v as u32 as i32),
        (Ty::I64, WireValue::Varint(v)) => Value::from(v as i64),
        (Ty::U32, WireValue::Varint(v)) => Value::from(v as u32),
        (Ty::U64, WireValue::Varint(v)) => Value::from(v),
        (Ty::F64, WireValue::Fixed64(v)) => finite(f64::from_bits(v), field, message)?,
        (Ty::F32, WireValue::Fixed32(v)) => finite(f64::from(f32::from_bits(v)), field, message)?,
        _ => return Err(wrong_wire_type(field, message, value)),
    })
}

/// JSON has no NaN or infinity; Go's encoder refuses them too.
fn finite(v: f64, field: &Field, message: &Message) -> Result<Value, Error> {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| {
            Error::new(format!(
                "{} is {v}, which JSON cannot hold",
                describe(field.number, message)
            ))
        })
}

/// The length-delimited records of a small message (the envelope, and special types); records
/// of other wire types are not theirs and are skipped.
fn strings_of<'a>(bytes: &'a [u8], what: &str) -> Result<Vec<(u32, &'a [u8])>, Error> {
    let mut out = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next_field() {
        match record {
            Ok((n, WireValue::Bytes(b))) => out.push((n, b)),
            Ok(_) => {}
            Err((n, e)) => {
                return Err(Error::new(match n {
                    Some(n) => format!("{e} in field {n} of {what}"),
                    None => format!("{e} in a field key of {what}"),
                }));
            }
        }
    }
    Ok(out)
}

/// The varint records of a small special message.
fn varints_of(bytes: &[u8], what: &str) -> Result<Vec<(u32, u64)>, Error> {
    let mut out = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next_field() {
        match record {
            Ok((n, WireValue::Varint(v))) => out.push((n, v)),
            Ok(_) => {}
            Err((n, e)) => {
                return Err(Error::new(match n {
                    Some(n) => format!("{e} in field {n} of {what}"),
                    None => format!("{e} in a field key of {what}"),
                }));
            }
        }
    }
    Ok(out)
}

/// `metav1.Time` / `MicroTime` as Go marshals them: an empty message is the zero time, which is
/// JSON `null`; otherwise UTC RFC 3339, truncated to seconds (Time) or microseconds (MicroTime).
fn time(bytes: &[u8], micro: bool) -> Result<Value, Error> {
    let what = if micro {
        "metav1.MicroTime"
    } else {
        "metav1.Time"
    };
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let (mut seconds, mut nanos) = (0i64, 0i32);
    for (n, v) in varints_of(bytes, what)? {
        match n {
            1 => seconds = v as i64,
            2 => nanos = v as u32 as i32,
            _ => {}
        }
    }
    let at = jiff::Timestamp::new(seconds, nanos)
        .map_err(|e| Error::new(format!("{what} {seconds}s {nanos}ns is out of range: {e}")))?;
    let whole = at.strftime("%Y-%m-%dT%H:%M:%S");
    Ok(Value::from(if micro {
        format!("{whole}.{:06}Z", at.subsec_nanosecond() / 1000)
    } else {
        format!("{whole}Z")
    }))
}

/// `intstr.IntOrString`: type = 1 (0 int, 1 string), intVal = 2, strVal = 3.
fn int_or_string(bytes: &[u8]) -> Result<Value, Error> {
    let (mut kind, mut int, mut string) = (0u64, 0i32, String::new());
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next_field() {
        match record.map_err(|(n, e)| {
            Error::new(format!(
                "{e} in {} of intstr.IntOrString",
                n.map_or("a field key".to_string(), |n| format!("field {n}"))
            ))
        })? {
            (1, WireValue::Varint(v)) => kind = v,
            (2, WireValue::Varint(v)) => int = v as u32 as i32,
            (3, WireValue::Bytes(b)) => string = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
    }
    match kind {
        0 => Ok(Value::from(int)),
        1 => Ok(Value::from(string)),
        other => Err(Error::new(format!(
            "intstr.IntOrString has type {other}, neither 0 (int) nor 1 (string)"
        ))),
    }
}

/// `FieldsV1` and `RawExtension`: raw = 1 holds JSON, embedded as is; none is `null`.
fn raw_json(bytes: &[u8], what: &str) -> Result<Value, Error> {
    let raw = strings_of(bytes, what)?
        .into_iter()
        .filter(|(n, _)| *n == 1)
        .map(|(_, b)| b)
        .next_back();
    match raw {
        None | Some([]) => Ok(Value::Null),
        Some(raw) => serde_json::from_slice(raw)
            .map_err(|e| Error::new(format!("{what}.raw is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // A minimal encoder for hand-built fixtures.
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// A varint field.
    fn int(number: u32, v: u64) -> Vec<u8> {
        [varint(u64::from(number) << 3), varint(v)].concat()
    }

    /// A length-delimited field.
    fn bytes(number: u32, value: &[u8]) -> Vec<u8> {
        [
            varint(u64::from(number) << 3 | 2),
            varint(value.len() as u64),
            value.to_vec(),
        ]
        .concat()
    }

    fn string(number: u32, value: &str) -> Vec<u8> {
        bytes(number, value.as_bytes())
    }

    fn entry(number: u32, key: &str, value: &[u8]) -> Vec<u8> {
        bytes(number, &[string(1, key), bytes(2, value)].concat())
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [string(1, api_version), string(2, kind)].concat();
        [
            b"k8s\0".to_vec(),
            bytes(1, &type_meta),
            bytes(2, raw),
            string(3, ""),
            string(4, ""),
        ]
        .concat()
    }

    fn decoded(body: &[u8]) -> Value {
        decode(body).unwrap_or_else(|e| panic!("decode failed: {}", e.message))
    }

    fn error(body: &[u8]) -> String {
        let e = decode(body).expect_err("decoding should fail");
        assert_eq!(e.code, 400);
        e.message
    }

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    #[test]
    fn envelope_gives_api_version_kind_and_the_object() {
        // ObjectMeta as gogo writes it: every non-pointer string, even empty, and the zero
        // creationTimestamp as an empty message.
        let meta = [
            string(1, "settings"),
            string(2, ""),
            string(3, "shop"),
            bytes(8, b""),
            int(7, 0),
        ]
        .concat();
        let raw = [
            bytes(1, &meta),
            entry(2, "mode", b"fast"),
            entry(2, "level", b"3"),
            entry(3, "blob", &[0, 1, 2, 255]),
            int(99, 7), // unknown field: skipped
        ]
        .concat();
        assert_eq!(
            decoded(&envelope("v1", "ConfigMap", &raw)),
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "shop", "creationTimestamp": null},
                "data": {"mode": "fast", "level": "3"},
                "binaryData": {"blob": "AAEC/w=="},
            })
        );
    }

    #[test]
    fn pointer_fields_keep_zero_and_value_fields_drop_it() {
        // DeploymentSpec: replicas (*int32) = 0 stays, minReadySeconds (int32) = 0 goes,
        // paused (bool) = false goes, revisionHistoryLimit (*int32) = 3 stays.
        let spec = [int(1, 0), int(5, 0), int(7, 0), int(6, 3), int(9, 600)].concat();
        let body = envelope("apps/v1", "Deployment", &bytes(2, &spec));
        assert_eq!(
            decoded(&body)["spec"],
            json!({"replicas": 0, "revisionHistoryLimit": 3, "progressDeadlineSeconds": 600})
        );
    }

    #[test]
    fn nested_messages_repeated_strings_and_negative_int32() {
        let port = [string(1, "http"), int(3, 8080), string(4, "TCP")].concat();
        let container = [
            string(1, "web"),
            string(2, "registry.local/web:1"),
            string(3, "sh"),
            string(3, "-c"),
            string(4, "serve"),
            bytes(6, &port),
            bytes(8, b""), // resources: a non-pointer struct, {} in JSON
        ]
        .concat();
        // securityContext.runAsUser (*int64) = 0 and runAsGroup = -1 (sign-extended varint).
        let security = [int(2, 0), int(6, u64::MAX)].concat();
        let pod_spec = [
            bytes(2, &container),
            bytes(14, &security),
            entry(7, "disk", b"ssd"),
        ]
        .concat();
        let template = [
            bytes(
                1,
                &bytes(11, &[string(1, "app"), string(2, "web")].concat()),
            ),
            bytes(2, &pod_spec),
        ]
        .concat();
        let body = envelope("apps/v1", "Deployment", &bytes(2, &bytes(3, &template)));
        assert_eq!(
            decoded(&body)["spec"]["template"],
            json!({
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "registry.local/web:1",
                        "command": ["sh", "-c"],
                        "args": ["serve"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "resources": {},
                    }],
                    "securityContext": {"runAsUser": 0, "runAsGroup": -1},
                    "nodeSelector": {"disk": "ssd"},
                },
            })
        );
    }

    #[test]
    fn int_or_string_both_ways() {
        let as_int = [int(1, 0), int(2, 1)].concat();
        let as_string = [int(1, 1), string(3, "25%")].concat();
        let rolling = [bytes(1, &as_int), bytes(2, &as_string)].concat();
        let strategy = [string(1, "RollingUpdate"), bytes(2, &rolling)].concat();
        let body = envelope("apps/v1", "Deployment", &bytes(2, &bytes(4, &strategy)));
        assert_eq!(
            decoded(&body)["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}})
        );
        let bad = envelope(
            "apps/v1",
            "Deployment",
            &bytes(2, &bytes(4, &bytes(2, &bytes(1, &int(1, 2))))),
        );
        assert!(
            error(&bad).contains("IntOrString has type 2"),
            "{}",
            error(&bad)
        );
    }

    #[test]
    fn time_and_micro_time() {
        // 2024-05-06T07:08:09Z and 0.5 s later; Time drops the fraction, MicroTime keeps µs.
        let at = [int(1, 1_714_979_289), int(2, 500_000_000)].concat();
        let meta = [
            string(1, "e"),
            bytes(8, &at),
            bytes(9, &int(1, 1_714_979_289)),
        ]
        .concat();
        let body = envelope("v1", "Event", &[bytes(1, &meta), bytes(10, &at)].concat());
        let event = decoded(&body);
        assert_eq!(
            event["metadata"]["creationTimestamp"],
            "2024-05-06T07:08:09Z"
        );
        assert_eq!(
            event["metadata"]["deletionTimestamp"],
            "2024-05-06T07:08:09Z"
        );
        assert_eq!(event["eventTime"], "2024-05-06T07:08:09.500000Z");
        // An empty Time is Go's zero time: null, as in `creationTimestamp: null`.
        let empty = envelope("v1", "Event", &bytes(1, &bytes(8, b"")));
        assert_eq!(
            decoded(&empty)["metadata"],
            json!({"creationTimestamp": null})
        );
    }

    #[test]
    fn inline_structs_merge_into_their_parent() {
        // Probe{handler (inline ProbeHandler){httpGet{port: "http"}}, periodSeconds: 5}
        let http_get = [
            string(1, "/healthz"),
            bytes(2, &[int(1, 1), string(3, "http")].concat()),
        ]
        .concat();
        let probe = [bytes(1, &bytes(2, &http_get)), int(4, 5)].concat();
        // EnvVar valueFrom.configMapKeyRef{LocalObjectReference (inline){name}, key, optional: false}
        let key_ref = [
            bytes(1, &string(1, "settings")),
            string(2, "mode"),
            int(3, 0),
        ]
        .concat();
        let env = [string(1, "MODE"), bytes(3, &bytes(3, &key_ref))].concat();
        let container = [string(1, "web"), bytes(7, &env), bytes(10, &probe)].concat();
        // Volume{name, VolumeSource (inline){configMap{LocalObjectReference{name}}}}
        let volume = [
            string(1, "conf"),
            bytes(2, &bytes(19, &bytes(1, &string(1, "settings")))),
        ]
        .concat();
        let pod = [bytes(2, &container), bytes(1, &volume)].concat();
        let spec = decoded(&envelope("v1", "Pod", &bytes(2, &pod)))["spec"].clone();
        assert_eq!(
            spec,
            json!({
                "volumes": [{"name": "conf", "configMap": {"name": "settings"}}],
                "containers": [{
                    "name": "web",
                    "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode", "optional": false}}}],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                }],
            })
        );
    }

    #[test]
    fn packed_repeated_scalars_and_quantities() {
        // ContainerRestartRuleOnExitCodes.values as one packed run; resources as Quantity maps.
        let exit_codes = [string(1, "In"), bytes(2, &[1, 2, 42])].concat();
        let rule = [string(1, "Restart"), bytes(2, &exit_codes)].concat();
        let resources = [
            entry(1, "memory", &string(1, "128Mi")),
            entry(2, "cpu", &string(1, "250m")),
        ]
        .concat();
        let container = [string(1, "web"), bytes(8, &resources), bytes(25, &rule)].concat();
        let spec =
            decoded(&envelope("v1", "Pod", &bytes(2, &bytes(2, &container))))["spec"].clone();
        assert_eq!(
            spec["containers"][0],
            json!({
                "name": "web",
                "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}},
                "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [1, 2, 42]}}],
            })
        );
    }

    #[test]
    fn repeated_messages_and_rbac() {
        let rule = [
            string(1, "get"),
            string(1, "list"),
            string(2, ""),
            string(3, "pods"),
        ]
        .concat();
        let body = envelope(
            "rbac.authorization.k8s.io/v1",
            "Role",
            &[
                bytes(1, &string(1, "reader")),
                bytes(2, &rule),
                bytes(2, &string(1, "watch")),
            ]
            .concat(),
        );
        assert_eq!(
            decoded(&body),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "reader"},
                "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}, {"verbs": ["watch"]}],
            })
        );
    }

    #[test]
    fn managed_fields_embed_their_json() {
        let fields_v1 = bytes(1, br#"{"f:data":{}}"#);
        let entry = [
            string(1, "kubectl"),
            string(2, "Update"),
            bytes(7, &fields_v1),
            string(6, "FieldsV1"),
        ]
        .concat();
        let body = envelope("v1", "ConfigMap", &bytes(1, &bytes(17, &entry)));
        assert_eq!(
            decoded(&body)["metadata"]["managedFields"],
            json!([{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}])
        );
    }

    /// Bytes the real kubectl v1.32 sent for `kubectl create deployment web --image=nginx
    /// --replicas=0` (captured with a logging proxy; v1.35 sent the same bytes).
    #[test]
    fn kubectl_create_deployment_bytes() {
        let body = unhex(
            "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ab010a1f0a0377656212001a0022002a00320038
             0042005a0a0a036170701203776562127a0800120c0a0a0a0361707012037765621a600a1c0a0012001a0022002a0032
             00380042005a0a0a036170701203776562124012220a056e67696e7812056e67696e782a0042006a0072008001008801
             00900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010
             0018002000280038001a002200",
        );
        // What `kubectl create deployment ... --dry-run=client -o json` prints: the JSON form.
        assert_eq!(
            decoded(&body),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
                    },
                    "strategy": {},
                },
                "status": {},
            })
        );
    }

    /// `kubectl create secret generic s --from-literal=k=v` and `kubectl create service
    /// clusterip svc --tcp=80:8080`, as kubectl v1.32 sent them.
    #[test]
    fn kubectl_create_secret_and_service_bytes() {
        let secret = unhex(
            "6b3873000a0c0a0276311206536563726574121d0a110a017312001a0022002a0032003800420012060a016b1201761a
             001a002200",
        );
        assert_eq!(
            decoded(&secret),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "creationTimestamp": null}, "data": {"k": "dg=="}})
        );
        let service = unhex(
            "6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a003200380042005a0a0a036170
             70120373766312420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a0361707012037376
             631a002209436c757374657249503a00420052005a00600068001a020a001a002200",
        );
        assert_eq!(
            decoded(&service),
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "svc", "creationTimestamp": null, "labels": {"app": "svc"}},
                "spec": {
                    "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                    "selector": {"app": "svc"},
                    "type": "ClusterIP",
                },
                "status": {"loadBalancer": {}},
            })
        );
    }

    #[test]
    fn malformed_bodies_are_bad_requests_naming_the_failure() {
        assert!(error(b"{\"kind\":\"Pod\"}").contains("magic"));
        // ObjectMeta.generation (field 7) cut off mid-varint.
        let truncated = envelope(
            "v1",
            "ConfigMap",
            &bytes(1, &[string(1, "x"), vec![0x38, 0x80]].concat()),
        );
        assert_eq!(
            error(&truncated),
            "protobuf: truncated varint in field 7 (generation) of ObjectMeta (at .metadata)"
        );
        // A length that runs past the end of the container message.
        let container = [string(1, "web"), vec![0x12, 0x09, b'n']].concat();
        let overrun = envelope("v1", "Pod", &bytes(2, &bytes(2, &container)));
        assert_eq!(
            error(&overrun),
            "protobuf: length 9 exceeds the 1 bytes left in field 2 (image) of Container (at .spec.containers[0])"
        );
        // replicas sent as a string.
        let wrong = envelope("apps/v1", "Deployment", &bytes(2, &string(1, "3")));
        assert_eq!(
            error(&wrong),
            "protobuf: field 1 (replicas) of DeploymentSpec is a length-delimited, which does not fit its type (at .spec.replicas)"
        );
        assert!(
            error(&envelope("example.com/v1", "Widget", b""))
                .contains("no protobuf schema for kind \"Widget\"")
        );
        let gzip = [
            b"k8s\0".to_vec(),
            bytes(1, &string(2, "Pod")),
            string(3, "gzip"),
        ]
        .concat();
        assert!(error(&gzip).contains("contentEncoding \"gzip\""));
        let no_kind = [b"k8s\0".to_vec(), bytes(2, b"")].concat();
        assert!(error(&no_kind).contains("no typeMeta.kind"));
    }

    #[test]
    fn every_field_table_is_sorted_and_unique() {
        // Lookups binary-search the field numbers, and a message reached twice is checked once.
        let mut seen = std::collections::HashSet::new();
        for (_, _, message) in schema::KINDS {
            let mut stack = vec![*message];
            while let Some(m) = stack.pop() {
                if !seen.insert(std::ptr::from_ref(m)) {
                    continue;
                }
                assert!(
                    m.fields.windows(2).all(|w| w[0].number < w[1].number),
                    "{} is not sorted",
                    m.name
                );
                stack.extend(m.fields.iter().filter_map(|f| match f.ty {
                    Ty::Message(inner) => Some(inner),
                    _ => None,
                }));
            }
        }
    }
}

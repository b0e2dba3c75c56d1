//! The protobuf wire format, read-only: a message is a sequence of (field number, wire type,
//! value) records. Kubernetes uses varints (int32, int64, bool), length-delimited values
//! (strings, bytes, messages, packed repeated scalars) and, for `double`, fixed64; groups are
//! never used, so they are refused rather than skipped.

use std::fmt;

/// One field record's value, borrowed from the message bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The name the protobuf spec gives the wire type, for error messages.
    pub fn wire_type(&self) -> &'static str {
        match self {
            WireValue::Varint(_) => "varint",
            WireValue::Fixed64(_) => "fixed64",
            WireValue::Bytes(_) => "length-delimited",
            WireValue::Fixed32(_) => "fixed32",
        }
    }
}

/// What is wrong with the bytes. The caller adds which field of which message it was reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    TruncatedVarint,
    /// More than ten bytes, or a tenth byte above 1: the value does not fit 64 bits.
    VarintOverflow,
    /// A length-delimited value claims more bytes than remain.
    TruncatedBytes {
        wanted: u64,
        left: usize,
    },
    TruncatedFixed {
        width: usize,
    },
    /// Wire types 3 and 4 (groups) and 6, 7 (unassigned).
    UnsupportedWireType(u8),
    FieldNumberZero,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TruncatedVarint => write!(f, "truncated varint"),
            WireError::VarintOverflow => write!(f, "varint longer than 64 bits"),
            WireError::TruncatedBytes { wanted, left } => {
                write!(f, "length {wanted} exceeds the {left} bytes left")
            }
            WireError::TruncatedFixed { width } => write!(f, "truncated {width}-byte fixed value"),
            WireError::UnsupportedWireType(t) => write!(f, "unsupported wire type {t}"),
            WireError::FieldNumberZero => write!(f, "field number 0"),
        }
    }
}

/// One field record: its number and value.
pub type Record<'a> = (u32, WireValue<'a>);

/// A malformed record, with its field number when the key was read.
pub type RecordError = (Option<u32>, WireError);

/// Reads the records of one message in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads a record's key; the field number is known once the key is read, so errors in the
    /// value can name it (`Err((Some(n), e))`).
    pub fn next_field(&mut self) -> Option<Result<Record<'a>, RecordError>> {
        if self.is_empty() {
            return None;
        }
        let key = match self.varint() {
            Ok(k) => k,
            Err(e) => return Some(Err((None, e))),
        };
        // Field numbers are at most 2^29 - 1, so anything that does not fit u32 is malformed too.
        let number = match u32::try_from(key >> 3) {
            Ok(0) => return Some(Err((None, WireError::FieldNumberZero))),
            Ok(n) => n,
            Err(_) => return Some(Err((None, WireError::VarintOverflow))),
        };
        let value = match key & 7 {
            0 => self.varint().map(WireValue::Varint),
            1 => self
                .fixed::<8>()
                .map(|b| WireValue::Fixed64(u64::from_le_bytes(b))),
            2 => self.length_delimited().map(WireValue::Bytes),
            5 => self
                .fixed::<4>()
                .map(|b| WireValue::Fixed32(u32::from_le_bytes(b))),
            other => Err(WireError::UnsupportedWireType(other as u8)),
        };
        Some(value.map(|v| (number, v)).map_err(|e| (Some(number), e)))
    }

    pub fn varint(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(WireError::TruncatedVarint);
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(WireError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintOverflow)
    }

    fn length_delimited(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let left = self.buf.len() - self.pos;
        match usize::try_from(len) {
            Ok(n) if n <= left => {
                let bytes = &self.buf[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(WireError::TruncatedBytes { wanted: len, left }),
        }
    }

    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self
            .buf
            .get(self.pos..self.pos + N)
            .ok_or(WireError::TruncatedFixed { width: N })?;
        self.pos += N;
        Ok(bytes.try_into().expect("slice of N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(bytes: &[u8]) -> Result<Vec<Record<'_>>, RecordError> {
        let mut reader = Reader::new(bytes);
        std::iter::from_fn(|| reader.next_field()).collect()
    }

    #[test]
    fn reads_each_wire_type() {
        let bytes = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x11, 1, 0, 0, 0, 0, 0, 0, 0, // 2: fixed64 1
            0x1a, 0x02, b'h', b'i', // 3: "hi"
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        assert_eq!(
            records(&bytes).unwrap(),
            vec![
                (1, WireValue::Varint(150)),
                (2, WireValue::Fixed64(1)),
                (3, WireValue::Bytes(b"hi")),
                (4, WireValue::Fixed32(2)),
            ]
        );
    }

    #[test]
    fn negative_int32_is_a_ten_byte_varint() {
        // proto2 int32 -1 is sign-extended to 64 bits on the wire.
        let bytes = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(
            records(&bytes).unwrap(),
            vec![(1, WireValue::Varint(u64::MAX))]
        );
    }

    #[test]
    fn malformed_records_are_errors_naming_the_field() {
        assert_eq!(
            records(&[0x08, 0x96]),
            Err((Some(1), WireError::TruncatedVarint))
        );
        assert_eq!(
            records(&[0x1a, 0x05, b'a']),
            Err((Some(3), WireError::TruncatedBytes { wanted: 5, left: 1 }))
        );
        assert_eq!(
            records(&[0x11, 1, 2]),
            Err((Some(2), WireError::TruncatedFixed { width: 8 }))
        );
        assert_eq!(
            records(&[0x0b]),
            Err((Some(1), WireError::UnsupportedWireType(3)))
        );
        assert_eq!(
            records(&[0x02, 0x00]),
            Err((None, WireError::FieldNumberZero))
        );
        assert_eq!(records(&[0x80]), Err((None, WireError::TruncatedVarint)));
        let eleven = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(records(&eleven), Err((Some(1), WireError::VarintOverflow)));
    }
}

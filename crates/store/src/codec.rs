//! Byte encodings shared by every table: big-endian fixed-width integers for keys (so that key
//! order is numeric order) and LEB128 varints for values (so that small amounts stay small).

use std::fmt;

/// A stored key or value that does not decode. Carries enough context to name the culprit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub what: &'static str,
    pub reason: String,
}

impl DecodeError {
    pub fn new(what: &'static str, reason: impl Into<String>) -> Self {
        DecodeError {
            what,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode {}: {}", self.what, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over a stored value that reports truncation and overlong data as errors.
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, what }
    }

    fn err(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError::new(self.what, reason)
    }

    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| self.err("truncated varint"))?;
            self.buf = rest;
            let chunk = u64::from(b & 0x7f);
            if shift == 63 && chunk > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= chunk << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    pub fn varint_u32(&mut self) -> Result<u32, DecodeError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| self.err(format!("{v} does not fit in 32 bits")))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(self.err(format!("needs {n} more bytes, has {}", self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.bytes(N)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32_be(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64_be(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Length-prefixed byte string.
    pub fn var_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.err("length overflows"))?;
        self.bytes(n)
    }

    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Fails unless every byte was consumed: trailing garbage means the record is not what we
    /// think it is.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} unexpected trailing bytes", self.buf.len())))
        }
    }
}

/// Decodes a whole stored value with `read`, rejecting trailing bytes.
pub fn decode_whole<T>(
    bytes: &[u8],
    what: &'static str,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes, what);
    let value = read(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Appends a length-prefixed byte string.
pub fn put_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<u64>()) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader::new(&buf, "test");
            prop_assert_eq!(r.varint().unwrap(), v);
            r.finish().unwrap();
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let mut r = Reader::new(&bytes, "test");
            let _ = r.varint();
            let _ = r.var_bytes();
            let _ = r.u64_be();
        }
    }

    #[test]
    fn overlong_varints_are_rejected() {
        let mut r = Reader::new(&[0xff; 11], "test");
        assert!(r.varint().is_err());
        let mut r = Reader::new(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            "t",
        );
        assert!(r.varint().is_err());
        let mut r = Reader::new(&[0x80], "test");
        assert!(r.varint().is_err());
    }
}

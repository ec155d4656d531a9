//! A structural check of a parquet file's footer before polars reads it.
//!
//! polars-parquet 0.55.2 trusts the lengths in the footer's thrift metadata: a corrupt list
//! length becomes a `Vec::with_capacity` of tens of gigabytes, and the failed allocation aborts
//! the process (found by fuzzing, `fuzz/known-crashes/parquet`). This walks the footer (thrift
//! compact protocol) without allocating and rejects any length larger than the bytes left, and
//! nesting deeper than any real footer.

/// Deeper struct/list nesting than this is refused (real parquet footers nest a few levels).
const MAX_DEPTH: usize = 64;

/// Checks the footer of a whole parquet file; `Err` says what is wrong.
pub fn check(file: &[u8]) -> Result<(), String> {
    let n = file.len();
    if n < 12 || &file[..4] != b"PAR1" || &file[n - 4..] != b"PAR1" {
        return Err("it does not start and end with the parquet magic PAR1".into());
    }
    let len = u32::from_le_bytes([file[n - 8], file[n - 7], file[n - 6], file[n - 5]]) as usize;
    if len > n - 12 {
        return Err(format!("its footer claims {len} bytes, the file has {} before the footer", n - 12));
    }
    let meta = &file[n - 8 - len..n - 8];
    let mut r = Reader { buf: meta, pos: 0 };
    r.skip_struct(0)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.buf.get(self.pos).ok_or("the footer ends in the middle of a value")?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint in the footer is longer than 10 bytes".into())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.left() as u64 {
            return Err(format!("the footer has a length of {n} with {} bytes left", self.left()));
        }
        self.pos += n as usize;
        Ok(())
    }

    /// A count of `n` elements of at least one byte each must fit in the bytes left.
    fn count(&mut self, n: u64) -> Result<u64, String> {
        if n > self.left() as u64 {
            return Err(format!("the footer has a list of {n} entries with {} bytes left", self.left()));
        }
        Ok(n)
    }

    fn skip_struct(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the footer nests deeper than {MAX_DEPTH} levels"));
        }
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(()); // STOP
            }
            if header >> 4 == 0 {
                self.varint()?; // long-form field id
            }
            self.skip_value(header & 0x0f, depth)?;
        }
    }

    fn skip_value(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        match ty {
            1 | 2 => Ok(()),                      // bool in a field header
            3 => self.skip(1),                    // byte
            4..=6 => self.varint().map(|_| ()),   // i16, i32, i64
            7 => self.skip(8),                    // double
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = if h >> 4 == 15 { self.varint()? } else { (h >> 4) as u64 };
                let elem = h & 0x0f;
                for _ in 0..self.count(n)? {
                    match elem {
                        1 | 2 => self.skip(1)?, // bools in a list take a byte each
                        t => self.skip_value(t, depth + 1)?,
                    }
                }
                Ok(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                for _ in 0..self.count(n)? {
                    for t in [kv >> 4, kv & 0x0f] {
                        match t {
                            1 | 2 => self.skip(1)?,
                            t => self.skip_value(t, depth + 1)?,
                        }
                    }
                }
                Ok(())
            }
            12 => self.skip_struct(depth + 1),
            t => Err(format!("the footer has a value of unknown thrift type {t}")),
        }
    }
}

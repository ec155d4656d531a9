//! A structural check of a parquet file before polars reads it: the footer, then every page header.
//!
//! polars-parquet 0.55.2 trusts the counts in a file's thrift metadata. Found by fuzzing: a
//! corrupt list length in the footer becomes a `Vec::with_capacity` of tens of gigabytes, and a
//! negative value count in a data page header becomes a 2^61-byte validity bitmap; a failed
//! allocation aborts the process, which no `catch_unwind` can stop. So this walks the footer
//! (thrift compact protocol) without allocating, refusing any length larger than the bytes left
//! and nesting deeper than any real footer; then it reads each column chunk's byte range and
//! page headers and checks them against each other: ranges inside the file, page sizes inside
//! the chunk, value counts not negative, adding up to the chunk's count, and at most
//! [`MAX_VALUES`] per chunk.

/// Deeper struct/list nesting than this is refused (real parquet footers nest a few levels).
const MAX_DEPTH: usize = 64;

/// Most values one column chunk may hold (Fashion-MNIST files have 60,000 rows; this leaves
/// room for any image dataset the loader might be pointed at, and bounds what polars allocates).
pub const MAX_VALUES: i64 = 1 << 28;

/// Checks the footer and the page headers of a whole parquet file; `Err` says what is wrong.
pub fn check(file: &[u8]) -> Result<(), String> {
    let n = file.len();
    if n < 12 || &file[..4] != b"PAR1" || &file[n - 4..] != b"PAR1" {
        return Err("it does not start and end with the parquet magic PAR1".into());
    }
    let len = u32::from_le_bytes([file[n - 8], file[n - 7], file[n - 6], file[n - 5]]) as usize;
    if len > n - 12 {
        return Err(format!("its footer claims {len} bytes, the file has {} before the footer", n - 12));
    }
    let footer_start = n - 8 - len;
    let meta = &file[footer_start..n - 8];
    Reader::new(meta, "the footer").skip_struct(0)?;
    for chunk in column_chunks(meta)? {
        chunk.check_pages(&file[..footer_start])?;
    }
    Ok(())
}

/// What the footer says about one column chunk (`ColumnMetaData`), and its row group's row count.
#[derive(Debug, Default)]
struct Chunk {
    row_group: usize,
    column: usize,
    rows: i64,
    values: Option<i64>,
    compressed: Option<i64>,
    uncompressed: Option<i64>,
    data_offset: Option<i64>,
    dictionary_offset: Option<i64>,
}

/// The column chunks of every row group in the (already structurally checked) footer.
fn column_chunks(meta: &[u8]) -> Result<Vec<Chunk>, String> {
    let mut chunks = Vec::new();
    let mut r = Reader::new(meta, "the footer");
    r.fields(0, &mut |r, id, ty| {
        if id != 4 || ty != LIST {
            return Ok(false);
        }
        // FileMetaData.row_groups: list<RowGroup>
        for g in 0..r.list_header(STRUCT)? {
            let first = chunks.len();
            let mut rows = None;
            r.fields(1, &mut |r, id, ty| match (id, ty) {
                (1, LIST) => {
                    // RowGroup.columns: list<ColumnChunk>
                    for c in 0..r.list_header(STRUCT)? {
                        let mut chunk = Chunk { row_group: g as usize, column: c as usize, ..Chunk::default() };
                        r.fields(2, &mut |r, id, ty| match (id, ty) {
                            (3, STRUCT) => {
                                r.fields(3, &mut |r, id, ty| {
                                    let slot = match id {
                                        5 => &mut chunk.values,
                                        6 => &mut chunk.uncompressed,
                                        7 => &mut chunk.compressed,
                                        9 => &mut chunk.data_offset,
                                        11 => &mut chunk.dictionary_offset,
                                        _ => return Ok(false),
                                    };
                                    *slot = Some(r.int(ty)?);
                                    Ok(true)
                                })?;
                                Ok(true)
                            }
                            _ => Ok(false),
                        })?;
                        chunks.push(chunk);
                    }
                    Ok(true)
                }
                (3, _) => {
                    rows = Some(r.int(ty)?);
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            let rows = rows.ok_or(format!("row group {g} has no row count"))?;
            for chunk in &mut chunks[first..] {
                chunk.rows = rows;
            }
        }
        Ok(true)
    })?;
    Ok(chunks)
}

impl Chunk {
    fn check_pages(&self, body: &[u8]) -> Result<(), String> {
        let at = format!("row group {}, column {}", self.row_group, self.column);
        let need = |v: Option<i64>, what: &str| v.ok_or(format!("{at} has no {what} in the footer"));
        let values = need(self.values, "value count")?;
        let compressed = need(self.compressed, "compressed size")?;
        let uncompressed = need(self.uncompressed, "uncompressed size")?;
        let data_offset = need(self.data_offset, "data page offset")?;
        if !(0..=MAX_VALUES).contains(&values) {
            return Err(format!("{at} claims {values} values (expected 0 to {MAX_VALUES})"));
        }
        if self.rows < 0 || self.rows > values {
            return Err(format!("{at} claims {} rows for {values} values", self.rows));
        }
        if !(0..=i32::MAX as i64).contains(&uncompressed) {
            return Err(format!("{at} claims an uncompressed size of {uncompressed} bytes"));
        }
        // Where polars starts reading: the dictionary page when there is one, else the data.
        let start = match self.dictionary_offset {
            Some(d) if d > 0 => d,
            _ => data_offset,
        };
        let end = start.checked_add(compressed).unwrap_or(-1);
        if start < 4 || compressed < 0 || end > body.len() as i64 || data_offset < start || (compressed > 0 && data_offset >= end) {
            return Err(format!(
                "{at} claims bytes {start}..{end} (data from {data_offset}) of a file whose pages end at byte {}",
                body.len()
            ));
        }
        let chunk = &body[start as usize..end as usize];
        let mut pos = 0usize;
        let mut seen = 0i64;
        while pos < chunk.len() {
            let mut r = Reader::new(&chunk[pos..], "the page header");
            let page = r.page_header().map_err(|e| format!("{at}, page at byte {}: {e}", start as usize + pos))?;
            let page_at = start as usize + pos;
            let bad = |what: String| format!("{at}, page at byte {page_at}: {what}");
            pos += r.pos;
            let left = chunk.len() - pos;
            if page.compressed < 0 || page.compressed as usize > left {
                return Err(bad(format!("its size is {} bytes with {left} bytes left in the column chunk", page.compressed)));
            }
            if page.uncompressed < 0 || page.uncompressed as i64 > uncompressed {
                return Err(bad(format!(
                    "it unpacks to {} bytes, the column chunk to {uncompressed}",
                    page.uncompressed
                )));
            }
            if page.values < 0 || page.values as i64 > values {
                return Err(bad(format!("it claims {} values, the column chunk {values}", page.values)));
            }
            if page.kind == PageKind::Dictionary {
                if page.values > page.uncompressed {
                    return Err(bad(format!("a dictionary of {} values in {} bytes", page.values, page.uncompressed)));
                }
            } else if page.kind == PageKind::Data {
                seen += page.values as i64;
                if seen > values {
                    return Err(bad(format!("its pages hold more than the column chunk's {values} values")));
                }
                if page.nulls < 0 || page.nulls > page.values || page.rows < 0 || page.rows > page.values {
                    return Err(bad(format!(
                        "it claims {} nulls and {} rows for {} values",
                        page.nulls, page.rows, page.values
                    )));
                }
                if page.levels < 0 || page.levels > page.compressed as i64 {
                    return Err(bad(format!("its levels take {} of its {} bytes", page.levels, page.compressed)));
                }
            }
            pos += page.compressed as usize;
        }
        if seen != values {
            return Err(format!("{at}: its data pages hold {seen} values, the footer says {values}"));
        }
        Ok(())
    }
}

#[derive(Debug, Default, PartialEq, Clone, Copy)]
enum PageKind {
    #[default]
    Other,
    Data,
    Dictionary,
}

/// The counts of one `PageHeader` (data page v1 or v2, or dictionary page).
#[derive(Debug, Default)]
struct Page {
    kind: PageKind,
    uncompressed: i32,
    compressed: i32,
    values: i32,
    nulls: i32,
    rows: i32,
    /// Bytes of repetition + definition levels (v2 pages).
    levels: i64,
}

const LIST: u8 = 9;
const STRUCT: u8 = 12;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// What is being read, for errors: "the footer" or "the page header".
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.buf.get(self.pos).ok_or_else(|| format!("{} ends in the middle of a value", self.what))?;
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
        Err(format!("a varint in {} is longer than 10 bytes", self.what))
    }

    /// An i16/i32/i64 field's value (zigzag varint).
    fn int(&mut self, ty: u8) -> Result<i64, String> {
        if !(4..=6).contains(&ty) {
            return Err(format!("an integer field has thrift type {ty}"));
        }
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self, ty: u8) -> Result<i32, String> {
        let v = self.int(ty)?;
        i32::try_from(v).map_err(|_| format!("a 32-bit field holds {v}"))
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.left() as u64 {
            return Err(format!("{} has a length of {n} with {} bytes left", self.what, self.left()));
        }
        self.pos += n as usize;
        Ok(())
    }

    /// A count of `n` elements of at least one byte each must fit in the bytes left.
    fn count(&mut self, n: u64) -> Result<u64, String> {
        if n > self.left() as u64 {
            return Err(format!("{} has a list of {n} entries with {} bytes left", self.what, self.left()));
        }
        Ok(n)
    }

    /// A list header whose elements must have thrift type `elem`; returns the length.
    fn list_header(&mut self, elem: u8) -> Result<u64, String> {
        let h = self.byte()?;
        let n = if h >> 4 == 15 { self.varint()? } else { (h >> 4) as u64 };
        if h & 0x0f != elem {
            return Err(format!("a list holds thrift type {} where {elem} belongs", h & 0x0f));
        }
        self.count(n)
    }

    /// Walks a struct's fields: `visit(reader, field id, type)` reads the value and returns
    /// `true`, or returns `false` and the value is skipped.
    fn fields(
        &mut self,
        depth: usize,
        visit: &mut dyn FnMut(&mut Self, i64, u8) -> Result<bool, String>,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("{} nests deeper than {MAX_DEPTH} levels", self.what));
        }
        let mut last = 0i64;
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(()); // STOP
            }
            let ty = header & 0x0f;
            let id = if header >> 4 == 0 { self.int(4)? } else { last + (header >> 4) as i64 };
            last = id;
            if !visit(self, id, ty)? {
                self.skip_value(ty, depth)?;
            }
        }
    }

    fn skip_struct(&mut self, depth: usize) -> Result<(), String> {
        self.fields(depth, &mut |_, _, _| Ok(false))
    }

    /// A `PageHeader` with the counts of its data (v1, v2) or dictionary page header.
    fn page_header(&mut self) -> Result<Page, String> {
        let mut page = Page::default();
        let mut kind = None;
        self.fields(0, &mut |r, id, ty| {
            match (id, ty) {
                (1, _) => kind = Some(r.i32(ty)?),
                (2, _) => page.uncompressed = r.i32(ty)?,
                (3, _) => page.compressed = r.i32(ty)?,
                (5 | 7 | 8, STRUCT) => {
                    page.kind = if id == 7 { PageKind::Dictionary } else { PageKind::Data };
                    r.fields(1, &mut |r, field, ty| {
                        match (id, field) {
                            (_, 1) => page.values = r.i32(ty)?,
                            (8, 2) => page.nulls = r.i32(ty)?,
                            (8, 3) => page.rows = r.i32(ty)?,
                            (8, 5 | 6) => page.levels += r.i32(ty)? as i64,
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let kind = kind.ok_or("a page header has no page type")?;
        let expected = match kind {
            0 | 3 => PageKind::Data,
            2 => PageKind::Dictionary,
            _ => PageKind::Other, // index pages: polars skips them
        };
        if page.kind != expected {
            return Err(format!("a page of type {kind} without its matching header"));
        }
        Ok(page)
    }

    fn skip_value(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        match ty {
            1 | 2 => Ok(()),                    // bool in a field header
            3 => self.skip(1),                  // byte
            4..=6 => self.varint().map(|_| ()), // i16, i32, i64
            7 => self.skip(8),                  // double
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
            t => Err(format!("{} has a value of unknown thrift type {t}", self.what)),
        }
    }
}

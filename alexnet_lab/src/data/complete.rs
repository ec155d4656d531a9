//! Whether an image file is whole: a PNG, JPEG or WebP cut short (an interrupted download or
//! copy) is found from its structure, before it is decoded. The `image` crate decodes such a
//! JPEG without an error (it fills the missing part with grey, as browsers do) and a PNG that lacks
//! its last chunk too; Pillow refuses both ("image file is truncated"), and so does the lab.
//!
//! Only the container is walked, no pixel decoded: JPEG's marker segments and entropy-coded
//! data up to the end-of-image marker, PNG's chunks up to `IEND`, WebP's RIFF size. Bytes after
//! the end (some cameras append data) are allowed.

/// Why `bytes` (a PNG, JPEG or WebP file) is not whole, or `None` when it is (or is another
/// format, which the decoder then names).
pub(crate) fn cut_short(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return (!jpeg_ends(bytes)).then(|| {
            format!("its JPEG data ends after {} bytes, before the end-of-image marker", bytes.len())
        });
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return (!png_ends(bytes)).then(|| format!("its PNG data ends after {} bytes, before the IEND chunk", bytes.len()));
    }
    if let (Some(b"RIFF"), Some(&[s0, s1, s2, s3]), Some(b"WEBP")) = (bytes.get(..4), bytes.get(4..8), bytes.get(8..12)) {
        let declared = u32::from_le_bytes([s0, s1, s2, s3]) as u64 + 8;
        return (declared > bytes.len() as u64)
            .then(|| format!("its WebP header announces {declared} bytes and the file holds {}", bytes.len()));
    }
    None
}

/// Whether a JPEG stream reaches its EOI marker: marker segments are skipped by their length; a
/// scan's entropy-coded data runs to the next marker that is neither a stuffed `FF 00` nor a
/// restart marker.
fn jpeg_ends(b: &[u8]) -> bool {
    let mut i = 2;
    while let Some(&byte) = b.get(i) {
        // Between segments: fill bytes `FF` before a marker; other bytes are skipped as
        // decoders do with "extra bytes between headers".
        if byte != 0xFF {
            i += 1;
            continue;
        }
        let Some(&m) = b.get(i + 1) else { return false };
        match m {
            0xD9 => return true,
            0xFF => i += 1,
            // Standalone markers (restart, TEM) and a stray `FF 00`.
            0x00 | 0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let Some(&[l0, l1]) = b.get(i + 2..i + 4) else { return false };
                let len = u16::from_be_bytes([l0, l1]) as usize;
                i += 2 + len;
                if i > b.len() {
                    return false;
                }
                if m == 0xDA {
                    // Entropy-coded data up to the next real marker.
                    loop {
                        match (b.get(i), b.get(i + 1)) {
                            (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                            (Some(0xFF), Some(_)) => break,
                            (Some(_), _) => i += 1,
                            (None, _) => return false,
                        }
                    }
                }
            }
        }
    }
    false
}

/// Whether a PNG stream reaches its IEND chunk (each chunk: length, type, data, CRC).
fn png_ends(b: &[u8]) -> bool {
    let mut i = 8;
    while let Some(&[l0, l1, l2, l3, t0, t1, t2, t3]) = b.get(i..i + 8) {
        let end = i + 12 + u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if end > b.len() {
            return false;
        }
        if [t0, t1, t2, t3] == *b"IEND" {
            return true;
        }
        i = end;
    }
    false
}

//! Corrupt and malformed data: every case is an error naming the file and the problem.

mod common;

use std::io::Write;
use std::path::Path;

use alexnet_lab::data::{load_idx_dir, load_parquet, read_idx_images, read_idx_labels, IDX_FILES};
use alexnet_lab::polars::prelude::*;
use common::*;

fn gz(path: &Path, bytes: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap();
}

/// A parquet file with the hub's schema holding the given (PNG bytes, label) rows.
fn parquet(path: &Path, rows: &[(Vec<u8>, i64)]) {
    let bytes = Series::new("bytes".into(), rows.iter().map(|r| r.0.as_slice()).collect::<Vec<&[u8]>>());
    let paths = Series::new("path".into(), rows.iter().map(|_| None::<&str>).collect::<Vec<_>>());
    let image = StructChunked::from_series("image".into(), rows.len(), [bytes, paths].iter()).unwrap().into_series();
    let label = Series::new("label".into(), rows.iter().map(|r| r.1).collect::<Vec<i64>>());
    let mut df = DataFrame::new(rows.len(), vec![image.into(), label.into()]).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut df).unwrap();
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(w, h).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn parquet_faults() {
    let dir = tmpdir("parquet-faults");
    let ok = dir.join("ok.parquet");
    parquet(&ok, &[(png(28, 28), 3), (png(28, 28), 9)]);
    let s = load_parquet(&ok).unwrap();
    assert_eq!(s.labels(), [3, 9]);

    type Corrupt = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Corrupt, &str)> = vec![
        ("not.parquet", Box::new(|p: &Path| std::fs::write(p, b"this is not parquet").unwrap()), "is not a readable parquet file"),
        (
            "truncated.parquet",
            Box::new(move |p: &Path| {
                let b = std::fs::read(&ok).unwrap();
                std::fs::write(p, &b[..b.len() / 2]).unwrap()
            }),
            "is not a readable parquet file",
        ),
        ("label.parquet", Box::new(|p: &Path| parquet(p, &[(png(28, 28), 1), (png(28, 28), 12)])), "row 1 has label 12, outside 0-9"),
        ("png.parquet", Box::new(|p: &Path| parquet(p, &[(b"\x89PNG garbage".to_vec(), 1)])), "row 0: the image cannot be decoded as PNG"),
        ("size.parquet", Box::new(|p: &Path| parquet(p, &[(png(32, 28), 1)])), "row 0: the image is 32x28, expected 28x28"),
        (
            "schema.parquet",
            Box::new(|p: &Path| {
                let mut df = df!("pixels" => [1i64, 2], "label" => [0i64, 1]).unwrap();
                ParquetWriter::new(std::fs::File::create(p).unwrap()).finish(&mut df).unwrap();
            }),
            "no column `image`; expected the hub's schema",
        ),
    ];
    for (name, make, needle) in cases {
        let p = dir.join(name);
        make(&p);
        let e = load_parquet(&p).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains(name), "{name}: {e}");
    }
}

#[test]
fn idx_faults() {
    let dir = tmpdir("idx-faults");
    let real = idx_dir();
    // Wrong magic (a label file's header on an image file).
    let p = dir.join("magic.gz");
    gz(&p, &[0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7]);
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(e.contains("bad IDX magic") && e.contains("3 dimensions"), "{e}");
    // Dimensions that disagree with the length.
    let p = dir.join("dims.gz");
    let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    b.extend(vec![0u8; 784]);
    gz(&p, &b);
    let e = read_idx_images(&p).unwrap_err().to_string();
    assert!(e.contains("the header says [2, 28, 28] (1568 bytes) but the file holds 784"), "{e}");
    // A truncated gzip stream.
    let p = dir.join("trunc.gz");
    let bytes = std::fs::read(real.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_idx_labels(&p).unwrap_err().to_string();
    assert!(e.contains("not a complete gzip file"), "{e}");
    // A directory with only some of the four files.
    std::fs::copy(real.join(IDX_FILES[3]), dir.join(IDX_FILES[3])).unwrap();
    let e = load_idx_dir(&dir).unwrap_err().to_string();
    assert!(e.contains("lacks 3 of the four") && e.contains(IDX_FILES[0]), "{e}");
    // Labels outside 0-9 with otherwise valid files.
    let bad = tmpdir("idx-labels");
    for f in IDX_FILES {
        std::fs::copy(real.join(f), bad.join(f)).unwrap();
    }
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0x27, 0x10];
    labels.extend(vec![11u8; 10_000]);
    gz(&bad.join(IDX_FILES[3]), &labels);
    let e = load_idx_dir(&bad).unwrap_err().to_string();
    assert!(e.contains("label 11 of example 0 is outside 0-9"), "{e}");
}

#[test]
fn a_parquet_file_claiming_millions_of_rows_is_refused_before_polars_reads_it() {
    // Five million rows of one run-length-encoded value: 0.1 MB of parquet, 3.9 GB of pixels if
    // they were images. The row count is checked first, against MAX_ROWS.
    use parquet::data_type::Int64Type;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    let schema = std::sync::Arc::new(parquet::schema::parser::parse_message_type("message m { required int64 label; }").unwrap());
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(&mut buf, schema, std::sync::Arc::new(WriterProperties::builder().build())).unwrap();
    let rows = 5_000_000usize;
    let mut g = w.next_row_group().unwrap();
    let mut c = g.next_column().unwrap().unwrap();
    c.typed::<Int64Type>().write_batch(&vec![3i64; rows], None, None).unwrap();
    c.close().unwrap();
    g.close().unwrap();
    w.close().unwrap();
    assert!(buf.len() < 1 << 20, "{} bytes", buf.len());
    let e = alexnet_lab::data::parquet::parquet_bytes_to_split(&buf, "many.parquet").unwrap_err().to_string();
    assert!(e.contains("many.parquet is not a readable parquet file: its row groups claim 5000000 rows in all, more than the 4194304"), "{e}");
}

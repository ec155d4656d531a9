//! Small text-table and number formatting helpers shared by the CLI and notebooks.

/// `46764746` -> `46,764,746`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `938146176` -> `938.1M`, `46764746` -> `46.8M`, `11712` -> `11.7K`.
pub fn human(n: f64) -> String {
    let (v, unit) = match n.abs() {
        x if x >= 1e9 => (n / 1e9, "G"),
        x if x >= 1e6 => (n / 1e6, "M"),
        x if x >= 1e3 => (n / 1e3, "K"),
        _ => (n, ""),
    };
    if unit.is_empty() {
        format!("{v}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// A DataFrame as CSV text (header line, then one line per row), through polars' writer.
pub fn csv_string(df: &mut polars::prelude::DataFrame) -> crate::Result<String> {
    use polars::prelude::*;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).finish(df)?;
    String::from_utf8(buf).map_err(|e| crate::Error::data(format!("CSV output is not UTF-8: {e}")))
}

/// Renders rows as an aligned text table; columns whose header starts with '>' are right-aligned.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let right: Vec<bool> = headers.iter().map(|h| h.starts_with('>')).collect();
    let headers: Vec<&str> = headers.iter().map(|h| h.trim_start_matches('>')).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&right)
            .map(|((c, &w), &r)| if r { format!("{c:>w$}") } else { format!("{c:<w$}") })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(&headers.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    out.push('\n');
    out.push_str(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

/// Reads a CSV file with a header into a polars DataFrame, naming the file in errors.
pub fn read_csv(path: impl AsRef<std::path::Path>) -> crate::Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let path = path.as_ref();
    CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| crate::Error::data(format!("cannot read CSV {}: {e}", path.display())))
}

/// `(x, y)` pairs of two numeric columns, optionally only the rows whose string column
/// `filter.0` equals `filter.1` — the points of one series for [`crate::report::plot::lines_svg`].
pub fn xy(
    df: &polars::prelude::DataFrame,
    x: &str,
    y: &str,
    filter: Option<(&str, &str)>,
) -> crate::Result<Vec<(f64, f64)>> {
    use polars::prelude::*;
    let col = |name: &str| -> crate::Result<Vec<Option<f64>>> {
        let c = df.column(name).map_err(|_| crate::Error::data(format!("no column `{name}`")))?;
        Ok(c.cast(&DataType::Float64)?.f64()?.iter().collect())
    };
    let keep: Vec<bool> = match filter {
        Some((c, v)) => {
            let s = df.column(c).map_err(|_| crate::Error::data(format!("no column `{c}`")))?;
            s.str()?.iter().map(|o| o == Some(v)).collect()
        }
        None => vec![true; df.height()],
    };
    Ok(col(x)?
        .into_iter()
        .zip(col(y)?)
        .zip(keep)
        .filter_map(|((a, b), k)| match (a, b, k) {
            (Some(a), Some(b), true) => Some((a, b)),
            _ => None,
        })
        .collect())
}

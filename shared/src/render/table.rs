//! kubectl-style columns: upper-case headers, left-aligned, three spaces apart. Widths are
//! measured on the text without colour codes.

use std::borrow::Cow;
use std::io::Write;

use super::Styles;
use crate::error::Result;

/// Cells may borrow from what they show: a findings table of hundreds of thousands of rows
/// then copies nothing but the text it has to compose.
pub struct Table<'a> {
    headers: Vec<String>,
    rows: Vec<Vec<Cow<'a, str>>>,
}

fn visible_width(s: &str) -> usize {
    if !s.contains('\u{1b}') {
        return s.chars().count();
    }
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

impl<'a> Table<'a> {
    pub fn new(headers: &[&str]) -> Table<'a> {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<C: Into<Cow<'a, str>>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Aligned columns, or a Markdown table for `-o markdown`.
    pub fn write_as(
        &self,
        out: &mut dyn Write,
        styles: Styles,
        format: crate::cli::OutputFormat,
    ) -> Result<()> {
        match format {
            crate::cli::OutputFormat::Markdown => self.write_markdown(out),
            _ => self.write(out, styles),
        }
    }

    /// A GitHub-flavoured Markdown table (cells escaped; colour never applies).
    pub fn write_markdown(&self, out: &mut dyn Write) -> Result<()> {
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let row = |cells: &[Cow<'_, str>]| {
            format!(
                "| {} |",
                cells
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        };
        let headers: Vec<Cow<'_, str>> = self.headers.iter().map(|h| h.as_str().into()).collect();
        writeln!(out, "{}", row(&headers))?;
        writeln!(out, "|{}", "---|".repeat(self.headers.len()))?;
        for r in &self.rows {
            writeln!(out, "{}", row(r))?;
        }
        Ok(())
    }

    pub fn write(&self, out: &mut dyn Write, styles: Styles) -> Result<()> {
        let widths = self.widths();
        let header: Vec<Cow<'_, str>> =
            self.headers.iter().map(|h| styles.bold(h).into()).collect();
        let mut text = String::new();
        push_line(&mut text, &header, &widths);
        out.write_all(text.as_bytes())?;
        // A chunk of rows at a time, laid out on every core once there are several chunks
        // (hundreds of thousands of rows), written in order.
        crate::parallel::map_in_order(
            self.rows.chunks(PARALLEL_CHUNK).collect(),
            |rows| {
                let mut text = String::with_capacity(rows.len() * 128);
                for row in rows {
                    push_line(&mut text, row, &widths);
                }
                text
            },
            |text| out.write_all(text.as_bytes()),
        )?;
        Ok(())
    }

    /// Each column's width: its widest cell or header (chunks measured like [`Table::write`]
    /// lays them out).
    fn widths(&self) -> Vec<usize> {
        let columns = self.headers.len();
        let widest = |rows: &[Vec<Cow<'_, str>>]| {
            let mut widths = vec![0; columns];
            for row in rows {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(visible_width(cell));
                }
            }
            widths
        };
        let mut widths: Vec<usize> = self.headers.iter().map(|h| visible_width(h)).collect();
        let Ok(()) = crate::parallel::map_in_order(
            self.rows.chunks(PARALLEL_CHUNK).collect(),
            widest,
            |part| {
                for (width, w) in widths.iter_mut().zip(part) {
                    *width = (*width).max(w);
                }
                Ok::<(), std::convert::Infallible>(())
            },
        );
        widths
    }
}

/// Rows per chunk of a large table.
const PARALLEL_CHUNK: usize = 8192;

/// One row, padded to the column widths (the last column unpadded), and a newline.
fn push_line(line: &mut String, cells: &[Cow<'_, str>], widths: &[usize]) {
    let start = line.len();
    let columns = widths.len();
    for (i, cell) in cells.iter().enumerate().take(columns) {
        line.push_str(cell);
        if i + 1 < columns {
            let pad = widths[i] - visible_width(cell) + 3;
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    // An empty last cell leaves padding behind.
    let end = line[start..].trim_end().len() + start;
    line.truncate(end);
    line.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes() {
        let mut t = Table::new(&["A", "B"]);
        t.row(["x|y", "z"]);
        let mut out = Vec::new();
        t.write_markdown(&mut out).expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "| A | B |\n|---|---|\n| x\\|y | z |\n"
        );
    }

    #[test]
    fn columns_align_ignoring_colour() {
        let mut t = Table::new(&["A", "B"]);
        t.row(["\u{1b}[31mred\u{1b}[0m", "x"]);
        t.row(["longer", "y"]);
        let mut out = Vec::new();
        t.write(&mut out, Styles { color: false }).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "A        B\n\u{1b}[31mred\u{1b}[0m      x\nlonger   y\n"
        );
    }

    #[test]
    fn large_tables_laid_out_in_chunks_align_and_keep_row_order() {
        // The widest cell is in the last chunk; every earlier row must be padded to it.
        let rows = 3 * PARALLEL_CHUNK + 5;
        let mut t = Table::new(&["NAME", "N"]);
        for i in 0..rows {
            let name = if i == rows - 1 {
                "a-much-longer-name".to_string()
            } else {
                format!("r{}", i % 7)
            };
            t.row([name, i.to_string()]);
        }
        let mut out = Vec::new();
        t.write(&mut out, Styles { color: false }).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), rows + 1);
        let column = "a-much-longer-name".len() + 3;
        assert_eq!(&lines[0][column..], "N");
        for (i, line) in lines[1..].iter().enumerate() {
            assert_eq!(&line[column..], i.to_string(), "row {i}: {line:?}");
        }
    }
}

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
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| visible_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(visible_width(cell));
            }
        }
        // One line buffer for all rows: large reports have hundreds of thousands.
        let mut line = String::new();
        let mut write_line = |out: &mut dyn Write, cells: &[Cow<'_, str>]| -> std::io::Result<()> {
            line.clear();
            for (i, cell) in cells.iter().enumerate().take(columns) {
                line.push_str(cell);
                if i + 1 < columns {
                    let pad = widths[i] - visible_width(cell) + 3;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", line.trim_end())
        };
        let header: Vec<Cow<'_, str>> =
            self.headers.iter().map(|h| styles.bold(h).into()).collect();
        write_line(out, &header)?;
        for row in &self.rows {
            write_line(out, row)?;
        }
        Ok(())
    }
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
}

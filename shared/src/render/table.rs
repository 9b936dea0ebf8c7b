//! kubectl-style columns: upper-case headers, left-aligned, three spaces apart. Widths are
//! measured on the text without colour codes.

use std::io::Write;

use super::Styles;
use crate::error::Result;

pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
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

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
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
        let row = |cells: &[String]| {
            format!(
                "| {} |",
                cells
                    .iter()
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        };
        writeln!(out, "{}", row(&self.headers))?;
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
        let mut write_line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
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
        let header: Vec<String> = self.headers.iter().map(|h| styles.bold(h)).collect();
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
        t.row(vec!["x|y".into(), "z".into()]);
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
        t.row(vec!["\u{1b}[31mred\u{1b}[0m".into(), "x".into()]);
        t.row(vec!["longer".into(), "y".into()]);
        let mut out = Vec::new();
        t.write(&mut out, Styles { color: false }).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "A        B\n\u{1b}[31mred\u{1b}[0m      x\nlonger   y\n"
        );
    }
}

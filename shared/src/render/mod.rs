//! Rendering: kubectl-like tables (colour only where wanted), JSON, YAML and SARIF.

mod pretty_json;
mod sarif;
mod table;

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use owo_colors::{OwoColorize, Style};
use serde::Serialize;

use crate::cli::{ColorChoice, OutputFormat};
use crate::error::Result;
use crate::finding::{Report, RuleInfo, Severity};

pub use sarif::to_sarif;
pub use table::Table;

/// Colour decided once per run and passed down (never queried ad hoc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Styles {
    pub color: bool,
}

impl Styles {
    /// `auto`: colour only on a terminal, never with NO_COLOR set or TERM=dumb.
    pub fn detect(choice: ColorChoice, is_tty: bool) -> Styles {
        let color = match choice {
            ColorChoice::Never => false,
            ColorChoice::Always => true,
            ColorChoice::Auto => {
                is_tty
                    && std::env::var_os("NO_COLOR").is_none()
                    && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
            }
        };
        Styles { color }
    }

    pub fn for_stdout(choice: ColorChoice) -> Styles {
        Styles::detect(choice, std::io::stdout().is_terminal())
    }

    /// For stdout in `format`: machine formats and Markdown are never coloured.
    pub fn for_output(choice: ColorChoice, format: OutputFormat) -> Styles {
        match format {
            OutputFormat::Table | OutputFormat::Wide => Styles::for_stdout(choice),
            _ => Styles { color: false },
        }
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    pub fn severity(&self, severity: Severity) -> String {
        let style = match severity {
            Severity::Critical => Style::new().bright_red().bold(),
            Severity::High => Style::new().red(),
            Severity::Medium => Style::new().yellow(),
            Severity::Low => Style::new().cyan(),
            Severity::Info => Style::new().dimmed(),
        };
        self.paint(&severity.as_str().to_uppercase(), style)
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, Style::new().bold())
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }
}

impl crate::cli::OutputArgs {
    /// The styles of this output: colour only for tables on a terminal (see [`Styles::for_output`]).
    pub fn styles(&self) -> Styles {
        Styles::for_output(self.color, self.format)
    }
}

pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<()> {
    // serde_json writes token by token: through a concrete buffer those writes are plain
    // copies, not a dynamic call each (reports of large clusters are hundreds of MB).
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
    pretty_json::to_writer(&mut buffered, value).map_err(std::io::Error::from)?;
    writeln!(buffered)?;
    buffered.flush()?;
    Ok(())
}

/// Findings per chunk when a large report's findings are serialised on every core.
const JSON_CHUNK: usize = 4096;

/// Reports smaller than this are written on one thread. Measured at 38,900 findings (36 MB of
/// JSON): one thread takes 60 ms, and the workers' buffers and heaps raised peak memory by
/// 44 MiB for no gain. Reports like harden's 50,000-workload bench (331,161 findings, 210 MB)
/// keep the workers.
const JSON_PARALLEL_FROM: usize = 16 * JSON_CHUNK;

/// `-o json` of a report: exactly the bytes of [`write_json`], the findings laid out a chunk
/// at a time ([`pretty_json::write_report_finding`]). Large reports (hundreds of MB) do their
/// chunks on every core, written in order as they finish.
fn write_report_json(out: &mut dyn Write, report: &Report) -> Result<()> {
    let threads = match report.findings.len() < JSON_PARALLEL_FROM {
        true => Threads::One,
        false => Threads::Every,
    };
    write_report_json_chunked(out, report, JSON_CHUNK, threads)
}

/// Whether chunks of a report are serialised on one thread or on every core.
#[derive(Clone, Copy)]
enum Threads {
    One,
    Every,
}

/// The report without its findings, which large reports write a chunk at a time.
fn without_findings(report: &Report) -> Report {
    // Every field but the findings, listed (not `..`) so a new field cannot be forgotten.
    Report {
        api_version: report.api_version.clone(),
        kind: report.kind.clone(),
        plugin: report.plugin.clone(),
        source: report.source.clone(),
        findings: Vec::new(),
        skipped: report.skipped.clone(),
        summary: report.summary.clone(),
        suppressed: report.suppressed.clone(),
        expired_exceptions: report.expired_exceptions.clone(),
        ignored: report.ignored.clone(),
    }
}

fn write_report_json_chunked(
    out: &mut dyn Write,
    report: &Report,
    chunk: usize,
    threads: Threads,
) -> Result<()> {
    let shell = without_findings(report);
    let text = pretty_json::to_string(&shell).map_err(std::io::Error::from)?;
    // A top-level key at two spaces after a newline: no string value can contain a raw newline.
    const EMPTY: &str = "\n  \"findings\": []";
    let Some(at) = text.find(EMPTY) else {
        return write_json(out, report);
    };
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
    buffered.write_all(&text.as_bytes()[..at])?;
    buffered.write_all(b"\n  \"findings\": [\n")?;
    let mut first = true;
    // Written buffers go back to the workers: a handful of buffers serve the whole report,
    // where a fresh one per chunk made the allocator map (and fault in) new memory each time.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let serialise = |findings: &[crate::finding::Finding]| {
        let reused = spare.lock().ok().and_then(|mut spare| spare.pop());
        // Sized for a typical finding up front: growing by doubling would copy it all again.
        let mut buffer = reused.unwrap_or_else(|| Vec::with_capacity(findings.len() * 1024));
        buffer.clear();
        for (i, finding) in findings.iter().enumerate() {
            if i > 0 {
                buffer.extend_from_slice(b",\n");
            }
            pretty_json::write_report_finding(&mut buffer, finding);
        }
        buffer
    };
    let mut write = |serialised: Vec<u8>| -> Result<()> {
        if !first {
            buffered.write_all(b",\n")?;
        }
        first = false;
        buffered.write_all(&serialised)?;
        if let Ok(mut spare) = spare.lock() {
            spare.push(serialised);
        }
        Ok(())
    };
    let chunks = report.findings.chunks(chunk);
    match threads {
        Threads::One => chunks.map(serialise).try_for_each(&mut write)?,
        Threads::Every => {
            crate::parallel::map_in_order(chunks.collect(), serialise, &mut write)?;
        }
    }
    buffered.write_all(b"\n  ]")?;
    buffered.write_all(&text.as_bytes()[at + EMPTY.len()..])?;
    buffered.write_all(b"\n")?;
    buffered.flush()?;
    Ok(())
}

pub fn write_yaml<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<()> {
    out.write_all(yaml_text(value)?.as_bytes())?;
    Ok(())
}

fn yaml_text<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    // Through a JSON value first: embedded raw JSON (evidence) only serialises as data there.
    let value = serde_json::to_value(value).map_err(std::io::Error::other)?;
    Ok(serde_yaml_ng::to_string(&value).map_err(std::io::Error::other)?)
}

/// Findings per chunk of a large report's `-o yaml`.
const YAML_CHUNK: usize = 1024;

/// `-o yaml` of a report: exactly the bytes of [`write_yaml`], but a chunk of findings at a
/// time (on every core) once the report is large: with one value tree for the whole report,
/// 38,900 findings took 2.7 s and ~600 MiB.
fn write_report_yaml(out: &mut dyn Write, report: &Report) -> Result<()> {
    if report.findings.len() < 2 * YAML_CHUNK {
        return write_yaml(out, report);
    }
    write_report_yaml_chunked(out, report, YAML_CHUNK)
}

fn write_report_yaml_chunked(out: &mut dyn Write, report: &Report, chunk: usize) -> Result<()> {
    let text = yaml_text(&without_findings(report))?;
    // A top-level key starts a line; a string value holding this text would be quoted or
    // indented. Block sequences under a key are not indented, so a top-level sequence of the
    // findings is, byte for byte, what goes after `findings:`.
    const EMPTY: &str = "\nfindings: []\n";
    let Some(at) = text.find(EMPTY) else {
        return write_yaml(out, report);
    };
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut *out);
    buffered.write_all(&text.as_bytes()[..at])?;
    buffered.write_all(b"\nfindings:\n")?;
    crate::parallel::map_in_order(
        report.findings.chunks(chunk).collect(),
        yaml_text,
        |chunk| -> Result<()> {
            buffered.write_all(chunk?.as_bytes())?;
            Ok(())
        },
    )?;
    buffered.write_all(&text.as_bytes()[at + EMPTY.len()..])?;
    buffered.flush()?;
    Ok(())
}

/// Prints a scan report in the chosen format. `rules` is the plugin's catalogue (for SARIF).
pub fn write_report(
    out: &mut dyn Write,
    report: &Report,
    format: OutputFormat,
    styles: Styles,
    rules: &[RuleInfo],
) -> Result<()> {
    match format {
        OutputFormat::Json => write_report_json(out, report),
        OutputFormat::Yaml => write_report_yaml(out, report),
        OutputFormat::Sarif => write_json(out, &to_sarif(report, rules)),
        OutputFormat::Table | OutputFormat::Wide => {
            write_report_table(out, report, format == OutputFormat::Wide, styles)
        }
        OutputFormat::Markdown => write_report_markdown(out, report),
    }
}

/// The Markdown table of findings (severity, rule, object, message) that reports and the
/// scorecard share.
pub fn findings_markdown_table<'a>(
    findings: impl IntoIterator<
        Item = (
            crate::finding::Severity,
            &'a str,
            &'a crate::finding::ObjectRef,
            &'a str,
        ),
    >,
) -> Table<'static> {
    let mut table = Table::new(&["Severity", "Rule", "Object", "Message"]);
    for (severity, rule, object, message) in findings {
        table.row(vec![
            severity.as_str().to_uppercase(),
            format!("`{rule}`"),
            format!("`{}`", object.display_path()),
            message.to_string(),
        ]);
    }
    table
}

/// A report as Markdown: a summary line, the findings table, and what was not evaluated.
fn write_report_markdown(out: &mut dyn Write, report: &Report) -> Result<()> {
    let s = &report.summary;
    writeln!(
        out,
        "### {}: {} findings (score {}/100)\n\n{} critical, {} high, {} medium, {} low, {} info\n",
        report.plugin,
        report.findings.len(),
        s.score,
        s.critical,
        s.high,
        s.medium,
        s.low,
        s.info
    )?;
    if !report.findings.is_empty() {
        findings_markdown_table(
            report
                .findings
                .iter()
                .map(|f| (f.severity, &*f.rule, &*f.object, f.message.as_str())),
        )
        .write_markdown(out)?;
    }
    if !report.skipped.is_empty() {
        let what: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.resource, s.reason))
            .collect();
        writeln!(out, "\nNot evaluated: {}", what.join(", "))?;
    }
    Ok(())
}

fn write_report_table(
    out: &mut dyn Write,
    report: &Report,
    wide: bool,
    styles: Styles,
) -> Result<()> {
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
    } else {
        let mut headers = vec!["SEVERITY", "RULE", "OBJECT", "MESSAGE"];
        if wide {
            headers.extend(["REMEDIATION", "ID"]);
        }
        let mut table = Table::new(&headers);
        // One severity label per severity, shared by every row that has it.
        let labels: Vec<(Severity, String)> = Severity::ALL_DESCENDING
            .into_iter()
            .map(|s| (s, styles.severity(s)))
            .collect();
        for f in &report.findings {
            let label = labels
                .iter()
                .find(|(s, _)| *s == f.severity)
                .map_or("", |(_, l)| l.as_str());
            let mut row: Vec<Cow<'_, str>> = vec![
                label.into(),
                Cow::Borrowed(&*f.rule),
                f.object.display_path().into(),
                f.message.as_str().into(),
            ];
            if wide {
                row.extend([Cow::Borrowed(&*f.remediation), f.id.as_str().into()]);
            }
            table.row(row);
        }
        table.write(out, styles)?;
    }
    write_report_footer(out, report, styles)
}

/// The lines under a findings table: counts and score, what was suppressed, not examined or
/// not evaluated (for plugins that lay out their findings table themselves).
pub fn write_report_footer(out: &mut dyn Write, report: &Report, styles: Styles) -> Result<()> {
    let s = &report.summary;
    let mut line = format!(
        "\n{} findings: {} critical, {} high, {} medium, {} low, {} info; score {}/100",
        report.findings.len(),
        s.critical,
        s.high,
        s.medium,
        s.low,
        s.info,
        s.score
    );
    if !report.suppressed.is_empty() {
        line.push_str(&format!(
            "; {} suppressed (baseline/exceptions)",
            report.suppressed.len()
        ));
    }
    writeln!(out, "{}", styles.bold(&line))?;
    if !report.ignored.is_empty() {
        let what: Vec<String> = report
            .ignored
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        writeln!(
            out,
            "{}",
            styles.dim(&format!(
                "Not examined by {}: {}",
                report.plugin,
                what.join(", ")
            ))
        )?;
    }
    if !report.skipped.is_empty() {
        let what: Vec<String> = report
            .skipped
            .iter()
            .map(|s| match &s.namespace {
                Some(ns) => format!("{} in {ns} ({})", s.resource, s.reason),
                None => format!("{} ({})", s.resource, s.reason),
            })
            .collect();
        writeln!(
            out,
            "{}",
            styles.dim(&format!("Not evaluated: {}", what.join(", ")))
        )?;
    }
    Ok(())
}

/// `--list-rules`: the catalogue as a table, or JSON/YAML for scripts.
pub fn write_rules(
    out: &mut dyn Write,
    rules: &[RuleInfo],
    format: OutputFormat,
    styles: Styles,
) -> Result<()> {
    match format {
        OutputFormat::Json | OutputFormat::Sarif => write_json(out, &rules),
        OutputFormat::Yaml => write_yaml(out, &rules),
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Markdown => {
            let mut headers = vec!["RULE", "SEVERITY", "CATEGORY", "TITLE"];
            if format == OutputFormat::Wide {
                headers.push("RATIONALE");
            }
            let mut table = Table::new(&headers);
            for r in rules {
                let mut row = vec![
                    r.id.to_string(),
                    styles.severity(r.severity),
                    r.category.to_string(),
                    r.title.to_string(),
                ];
                if format == OutputFormat::Wide {
                    row.push(r.rationale.to_string());
                }
                table.row(row);
            }
            table.write_as(out, styles, format)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_json_and_yaml_are_byte_identical() {
        use crate::finding::{Finding, ObjectRef, RuleInfo};
        const RULE: RuleInfo = RuleInfo {
            id: "r",
            severity: Severity::High,
            category: "c",
            title: "t",
            rationale: "why",
            remediation: "fix \"it\"\nnow\nfindings: []",
        };
        // Cluster-scoped objects, every severity, and text that needs escaping (the chunked
        // writer lays findings out by hand).
        let messages = [
            "plain",
            "a \"quoted\" word",
            "back\\slash",
            "tab\there\u{1}",
            "ünïcode → ok",
        ];
        let findings = (0..10)
            .map(|i| {
                let namespace = (i % 3 != 0).then_some("ns");
                let object = ObjectRef::new("v1", "Pod", namespace, &format!("p{i}\n"));
                Finding::new(
                    &RULE,
                    object,
                    "",
                    format!("m{i} {}", messages[i % messages.len()]),
                    serde_json::json!({"n": i, "nested": {"list": [1, "two"]}}),
                )
                .with_severity(Severity::ALL_DESCENDING[i % 5])
            })
            .collect();
        let mut report = Report::new("t", Default::default(), findings, Vec::new());
        report.ignored.insert("v1/ConfigMap".into(), 2);
        let mut json = Vec::new();
        write_json(&mut json, &report).expect("json");
        let pretty = serde_json::to_string_pretty(&report).expect("serde_json");
        assert_eq!(String::from_utf8_lossy(&json), pretty + "\n");
        type Whole = fn(&mut dyn Write, &Report) -> Result<()>;
        type Chunked = fn(&mut dyn Write, &Report, usize) -> Result<()>;
        let formats: [(&str, Whole, Chunked); 3] = [
            ("JSON", write_json::<Report>, |out, report, chunk| {
                write_report_json_chunked(out, report, chunk, Threads::Every)
            }),
            (
                "JSON on one thread",
                write_json::<Report>,
                |out, report, chunk| write_report_json_chunked(out, report, chunk, Threads::One),
            ),
            ("YAML", write_yaml::<Report>, write_report_yaml_chunked),
        ];
        for (format, write_whole, write_chunked) in formats {
            let mut whole = Vec::new();
            write_whole(&mut whole, &report).expect("whole");
            for chunk in [1, 3, 10] {
                let mut chunked = Vec::new();
                write_chunked(&mut chunked, &report, chunk).expect("chunked");
                assert_eq!(
                    String::from_utf8_lossy(&chunked),
                    String::from_utf8_lossy(&whole),
                    "{format} in chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn never_and_no_tty_mean_no_colour() {
        assert!(!Styles::detect(ColorChoice::Never, true).color);
        assert!(!Styles::detect(ColorChoice::Auto, false).color);
        assert!(Styles::detect(ColorChoice::Always, false).color);
        let plain = Styles { color: false }.severity(Severity::High);
        assert_eq!(plain, "HIGH");
        assert!(
            Styles { color: true }
                .severity(Severity::High)
                .contains('\u{1b}')
        );
    }
}

//! Rendering a report: Markdown, CSV, xlsx, a self-contained HTML page with
//! inline SVG charts, and JSON of the figures.

use std::fmt::Write as _;
use std::str::FromStr;

use danvan_model::vocab;

use crate::ReportError;
use crate::figures::Report;
use crate::format::{int, pct};
use crate::tables::{Cell, Layout, PART_I, Table, layout};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Markdown.
    Markdown,
    /// CSV: the tables one after another, UTF-8 with a byte-order mark so
    /// that spreadsheet programs read the diacritics.
    Csv,
    /// A workbook, one sheet per section.
    Xlsx,
    /// One HTML page, styles and charts inline.
    Html,
    /// The figures as JSON.
    Json,
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "html" | "htm" => Ok(Format::Html),
            "json" => Ok(Format::Json),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

/// Renders a report.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, ReportError> {
    Ok(match format {
        Format::Markdown => markdown(&layout(report)).into_bytes(),
        Format::Csv => csv(&layout(report)).into_bytes(),
        Format::Html => html(report, &layout(report)).into_bytes(),
        Format::Xlsx => crate::xlsx::workbook(&layout(report))?,
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
    })
}

/// Text from records as Markdown shows it and nothing more: a Markdown
/// viewer passes raw HTML through, so `<`, `>` and `&` are written as
/// entities (a citizen's `<script>` or `<img onerror=…>` in a title stays
/// text).
fn md_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn md_cell(text: &str) -> String {
    md_text(text).replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn numeric_columns(table: &Table) -> Vec<bool> {
    (0..table.headers.len())
        .map(|i| {
            table
                .rows
                .iter()
                .chain(table.total.iter())
                .any(|r| matches!(r.get(i), Some(Cell::Int(_) | Cell::Area(_) | Cell::Pct(_))))
        })
        .collect()
}

fn markdown_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "**{}**\n", table.title);
    if table.rows.is_empty() {
        out.push_str("_Không có số liệu trong kỳ._\n\n");
        return;
    }
    let numeric = numeric_columns(table);
    let _ = writeln!(
        out,
        "| {} |",
        table
            .headers
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        numeric
            .iter()
            .map(|n| if *n { "---:" } else { "---" })
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| md_cell(&c.display())).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    if let Some(total) = &table.total {
        let cells: Vec<String> = total
            .iter()
            .map(|c| match c.display() {
                s if s.is_empty() => s,
                s => format!("**{}**", md_cell(&s)),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

fn markdown(l: &Layout) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", l.title);
    for (k, v) in &l.meta {
        let _ = writeln!(out, "- **{k}:** {}", md_text(v));
    }
    let _ = writeln!(out, "\n## {PART_I}\n");
    for p in &l.results {
        let _ = writeln!(out, "{}\n", md_text(p));
    }
    for s in &l.sections {
        let _ = writeln!(out, "### {}\n", s.heading);
        if s.tables.is_empty() {
            out.push_str("_Không có số liệu._\n\n");
        }
        for t in &s.tables {
            markdown_table(&mut out, t);
        }
    }
    for (i, (part, sentences)) in l.closing_parts().into_iter().enumerate() {
        let gap = if i == 0 { "" } else { "\n" };
        let _ = writeln!(out, "{gap}## {part}\n");
        for p in sentences {
            let _ = writeln!(out, "- {}", md_text(p));
        }
    }
    out
}

/// A cell as a spreadsheet may safely open it: text that begins with `=`,
/// `+`, `-`, `@`, a tab or a carriage return would be read by Excel as a
/// formula (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`), so it gets a leading
/// `'`, as OWASP recommends ("CSV Injection"). A plain number (`-5`, `1.5`)
/// is left as it is.
pub fn csv_cell_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = !text.is_empty()
        && text
            .trim_start_matches(['-', '+'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && text.chars().any(|c| c.is_ascii_digit());
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn csv_field(text: &str) -> String {
    let text = &*csv_cell_safe(text);
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    let row: Vec<String> = fields.into_iter().map(csv_field).collect();
    out.push_str(&row.join(","));
    out.push('\n');
}

fn csv(l: &Layout) -> String {
    let mut out = String::from("\u{feff}");
    csv_row(&mut out, [l.title.as_str()]);
    for (k, v) in &l.meta {
        csv_row(&mut out, [k.as_str(), v.as_str()]);
    }
    out.push('\n');
    csv_row(&mut out, [PART_I]);
    for p in &l.results {
        csv_row(&mut out, [p.as_str()]);
    }
    for s in &l.sections {
        out.push('\n');
        csv_row(&mut out, [s.heading.as_str()]);
        for t in &s.tables {
            out.push('\n');
            csv_row(&mut out, [t.title.as_str()]);
            csv_row(&mut out, t.headers.iter().map(String::as_str));
            for row in t.rows.iter().chain(t.total.iter()) {
                let cells: Vec<String> = row.iter().map(Cell::plain).collect();
                csv_row(&mut out, cells.iter().map(String::as_str));
            }
        }
    }
    for (part, sentences) in l.closing_parts() {
        out.push('\n');
        csv_row(&mut out, [part]);
        for p in sentences {
            csv_row(&mut out, [p.as_str()]);
        }
    }
    out
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colours of the household stages, in pipeline order. Fixed, so that a
/// headless-browser test can find them in a screenshot.
pub(crate) const STAGE_COLORS: [&str; 5] = ["#9e9e9e", "#ffb300", "#1e88e5", "#8e24aa", "#2e7d32"];
/// Colour of petitions received, in the chart over time.
pub(crate) const RECEIVED_COLOR: &str = "#c62828";
/// Colour of petitions resolved.
pub(crate) const RESOLVED_COLOR: &str = "#00897b";

fn html_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "<h4>{}</h4>", esc(&table.title));
    if table.rows.is_empty() {
        out.push_str("<p class=\"empty\">Không có số liệu trong kỳ.</p>\n");
        return;
    }
    let numeric = numeric_columns(table);
    out.push_str("<table>\n<thead><tr>");
    for h in &table.headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut row_html = |row: &[Cell], class: &str| {
        let _ = write!(out, "<tr{class}>");
        for (i, c) in row.iter().enumerate() {
            let align = if numeric.get(i).copied().unwrap_or(false) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{align}>{}</td>", esc(&c.display()));
        }
        out.push_str("</tr>\n");
    };
    for row in &table.rows {
        row_html(row, "");
    }
    if let Some(total) = &table.total {
        row_html(total, " class=\"total\"");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Stacked bars of households by stage, one bar per unit row.
fn land_chart(out: &mut String, r: &Report) {
    for project in &r.land.projects {
        let rows = &project.by_unit;
        let _ = writeln!(
            out,
            "<figure class=\"chart\" id=\"chart-land-{}\"><figcaption>Tiến độ giải phóng mặt bằng theo đơn vị: {}</figcaption>",
            esc(&project.code),
            esc(&project.label)
        );
        let label_w = 240.0;
        let bar_w = 400.0;
        let row_h = 28.0;
        let top = 50.0;
        let height = top + row_h * rows.len() as f64 + 10.0;
        let max = rows
            .iter()
            .map(|u| u.figures.households)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"{height}\" viewBox=\"0 0 960 {height}\" role=\"img\" shape-rendering=\"crispEdges\">"
        );
        // Legend, wrapped onto a second line when it does not fit.
        let (mut x, mut y) = (10.0, 6.0);
        for (i, (_, label)) in vocab::HOUSEHOLD_STAGES.iter().enumerate() {
            let w = 16.0 + label.chars().count() as f64 * 6.5 + 18.0;
            if x + w > 950.0 {
                x = 10.0;
                y += 18.0;
            }
            let _ = writeln!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
                STAGE_COLORS[i.min(STAGE_COLORS.len() - 1)],
                x + 16.0,
                y + 11.0,
                esc(label)
            );
            x += w;
        }
        for (row, u) in rows.iter().enumerate() {
            let y = top + row_h * row as f64;
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
                label_w - 8.0,
                y + 16.0,
                esc(&u.unit_name)
            );
            let mut x = label_w;
            for (i, s) in u.figures.stages.iter().enumerate() {
                if s.count == 0 {
                    continue;
                }
                let w = (s.count as f64 / max * bar_w).round();
                let _ = writeln!(
                    out,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"20\" fill=\"{}\"><title>{}: {} hộ</title></rect>",
                    STAGE_COLORS[i.min(STAGE_COLORS.len() - 1)],
                    esc(&s.label),
                    s.count
                );
                x += w;
            }
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\">{} hộ; {} diện tích đã bàn giao</text>",
                label_w + bar_w + 10.0,
                y + 15.0,
                int(u.figures.households as i64),
                pct(u.figures.handed_over_pct)
            );
        }
        out.push_str("</svg>\n</figure>\n");
    }
}

/// Grouped bars of petitions received and resolved per month.
fn petition_chart(out: &mut String, r: &Report) {
    let months = &r.petitions.by_month;
    out.push_str("<figure class=\"chart\" id=\"chart-petitions\"><figcaption>Phản ánh, kiến nghị tiếp nhận và giải quyết theo tháng</figcaption>\n");
    let left = 40.0;
    let plot_h = 180.0;
    let top = 30.0;
    let group_w = (800.0 / months.len().max(1) as f64).min(120.0);
    let width = left + group_w * months.len() as f64 + 20.0;
    let max = months
        .iter()
        .map(|m| m.received.max(m.resolved))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let height = top + plot_h + 40.0;
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" shape-rendering=\"crispEdges\">"
    );
    let _ = writeln!(
        out,
        "<rect x=\"{left}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{RECEIVED_COLOR}\"/><text x=\"{}\" y=\"17\" font-size=\"11\">Tiếp nhận</text><rect x=\"{}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{RESOLVED_COLOR}\"/><text x=\"{}\" y=\"17\" font-size=\"11\">Đã giải quyết</text>",
        left + 16.0,
        left + 100.0,
        left + 116.0
    );
    let base = top + plot_h;
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#333\"/>",
        width - 10.0
    );
    let bar = (group_w * 0.35).floor();
    for (i, m) in months.iter().enumerate() {
        let gx = left + group_w * i as f64 + group_w * 0.1;
        for (j, (value, color, what)) in [
            (m.received, RECEIVED_COLOR, "tiếp nhận"),
            (m.resolved, RESOLVED_COLOR, "đã giải quyết"),
        ]
        .into_iter()
        .enumerate()
        {
            let h = (value as f64 / max * plot_h).round();
            let x = gx + bar * j as f64;
            let _ = writeln!(
                out,
                "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"{color}\"><title>{}: {value} {what}</title></rect>",
                base - h,
                esc(&m.label)
            );
            if value > 0 {
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{value}</text>",
                    x + bar / 2.0,
                    base - h - 3.0
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
            gx + bar,
            base + 16.0,
            esc(&m.label)
        );
    }
    out.push_str("</svg>\n</figure>\n");
}

const CSS: &str = "body{font-family:'Times New Roman',serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#111}\
h1{font-size:20px;text-align:center}h2{font-size:17px;margin-top:28px}h3{font-size:15px}h4{font-size:14px;font-style:italic;font-weight:normal}\
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border:1px solid #888;padding:3px 6px;vertical-align:top}\
th{background:#eee}td.num{text-align:right}tr.total td{font-weight:bold}.meta{list-style:none;padding:0}\
figure.chart{margin:12px 0}figcaption{font-weight:bold;font-size:13px;margin-bottom:4px}.empty{font-style:italic}";

fn html(r: &Report, l: &Layout) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<ul class=\"meta\">\n",
        esc(&l.title),
        esc(&l.title)
    );
    for (k, v) in &l.meta {
        let _ = writeln!(out, "<li><b>{}:</b> {}</li>", esc(k), esc(v));
    }
    let _ = writeln!(out, "</ul>\n<h2>{PART_I}</h2>");
    for p in &l.results {
        let _ = writeln!(out, "<p>{}</p>", esc(p));
    }
    for (i, s) in l.sections.iter().enumerate() {
        let _ = writeln!(out, "<h3>{}</h3>", esc(&s.heading));
        match i {
            1 => petition_chart(&mut out, r),
            2 => land_chart(&mut out, r),
            _ => {}
        }
        for t in &s.tables {
            html_table(&mut out, t);
        }
    }
    for (part, sentences) in l.closing_parts() {
        let _ = writeln!(out, "<h2>{part}</h2>\n<ul>");
        for p in sentences {
            let _ = writeln!(out, "<li>{}</li>", esc(p));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

//! Báo cáo: the period report of a unit in the page, with its charts,
//! and the same report to download in xlsx, csv, md and html. The page
//! shows the body of the HTML `danvan-report` renders, so what is seen is
//! what is downloaded.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use danvan_model::Period;
use danvan_report::{Format, UnitView};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::auth::Ctx;
use crate::error::{WebError, parse_optional};
use crate::layout::{Nav, page};
use crate::pages::view;
use crate::server::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReportQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    unit: String,
    /// Rows by the units of: "" the period's end, "new" today.
    #[serde(default)]
    units: String,
}

impl ReportQuery {
    fn period(&self) -> Result<Period, WebError> {
        Ok(parse_optional(&self.period, "kỳ")?.unwrap_or_else(view::current_period))
    }

    fn unit(&self) -> Option<&str> {
        (!self.unit.is_empty()).then_some(self.unit.as_str())
    }

    /// Which units the rows are: those of the period's end, or of today.
    fn view(&self) -> Result<UnitView, WebError> {
        match self.units.as_str() {
            "" | "old" => Ok(UnitView::PeriodEnd),
            "new" => Ok(UnitView::AsOf(view::today_vn())),
            other => Err(WebError::BadRequest(format!(
                "cách chia đơn vị {other:?} không rõ (old hoặc new)"
            ))),
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/bao-cao", get(show))
        .route("/bao-cao/tai-ve/{format}", get(download))
}

async fn show(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> Result<Markup, WebError> {
    let period = q.period()?;
    let unit_view = q.view()?;
    let (report, units, own_unit) = state.call(|n| {
        let report = n.report_by(q.unit(), period, view::today_vn(), unit_view)?;
        Ok((report, n.units().clone(), n.unit().to_string()))
    })?;
    let html_bytes = danvan_report::render(&report, Format::Html)
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let body = report_body(&String::from_utf8_lossy(&html_bytes));
    let unit = q.unit().unwrap_or(&own_unit).to_string();
    let mut choices = view::period_choices();
    let code = period.to_string();
    if !choices.iter().any(|(c, _)| *c == code) {
        choices.insert(0, (code.clone(), period.label_vi()));
    }
    let by_new = unit_view != UnitView::PeriodEnd;
    let query = format!(
        "period={code}&unit={unit}{}",
        if by_new { "&units=new" } else { "" }
    );
    Ok(page(
        &ctx,
        Nav::Report,
        "Báo cáo",
        html! {
            form.filters method="get" action="/bao-cao" {
                // A row of its own on a phone: "6 tháng cuối năm 2026"
                // read whole, not cut.
                label.whole { "Kỳ"
                    select name="period" {
                        @for (c, label) in &choices {
                            option value=(c) selected[*c == code] { (label) }
                        }
                    }
                }
                label { "Đơn vị"
                    select name="unit" {
                        @for (depth, u) in units.render() {
                            option value=(u.id) selected[u.id == unit] { (" ".repeat(depth * 2)) (u.name) }
                        }
                    }
                }
                label { "Theo đơn vị"
                    select name="units" {
                        option value="old" selected[!by_new] { "Như ngày cuối kỳ" }
                        option value="new" selected[by_new] { "Hiện nay (sau sắp xếp)" }
                    }
                }
                button type="submit" { "Xem báo cáo" }
            }
            p.downloads {
                "Tải về: "
                @for (format, label) in [("xlsx", "Excel (.xlsx)"), ("csv", "CSV"), ("md", "Markdown"), ("html", "Trang HTML")] {
                    a.button.secondary href=(format!("/bao-cao/tai-ve/{format}?{query}")) download { (label) }
                    " "
                }
            }
            article.report #report { (PreEscaped(body)) }
        },
    ))
}

/// The inside of the rendered page's `<body>`, without its own title (the
/// page has one). The renderer escapes every value it writes.
fn report_body(page: &str) -> String {
    let start = page.find("<body>").map(|i| i + "<body>".len()).unwrap_or(0);
    let end = page.rfind("</body>").unwrap_or(page.len());
    let body = &page[start..end.max(start)];
    match (body.find("<h1>"), body.find("</h1>")) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "<h2 class=\"report-title\">{}</h2>{}",
                &body[a + 4..b],
                &body[b + 5..]
            )
        }
        _ => body.to_string(),
    }
}

async fn download(
    State(state): State<AppState>,
    axum::extract::Path(format): axum::extract::Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let fmt: Format = format
        .parse()
        .map_err(|e: danvan_report::ReportError| WebError::BadRequest(e.to_string()))?;
    if fmt == Format::Json {
        return Err(WebError::NotFound(format));
    }
    let period = q.period()?;
    let unit_view = q.view()?;
    let (report, unit) = state.call(|n| {
        let report = n.report_by(q.unit(), period, view::today_vn(), unit_view)?;
        // Reports carry no personal field: the download is logged all the same.
        n.audit_outgoing(
            "report",
            danvan_node::Outgoing::Web,
            &danvan_node::PersonalCounts::default(),
            &[],
        )?;
        Ok((report, q.unit().unwrap_or(n.unit()).to_string()))
    })?;
    let bytes =
        danvan_report::render(&report, fmt).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let mime = match fmt {
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Markdown => "text/markdown; charset=utf-8",
        _ => "text/html; charset=utf-8",
    };
    // ASCII-only names: the unit id and the period code already are.
    let name = format!("bao-cao-{unit}-{period}.{}", fmt.extension());
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_report_is_the_body_without_its_title() {
        let page =
            "<html><head><style>x</style></head><body>\n<h1>Báo cáo</h1><p>a</p></body></html>";
        assert_eq!(
            super::report_body(page),
            "<h2 class=\"report-title\">Báo cáo</h2><p>a</p>"
        );
    }
}

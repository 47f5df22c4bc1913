//! Rosters as files on the Thị xã page. The hub that holds only rosters
//! applies a signed roster file ("Áp dụng danh sách đã ký"), through the
//! same `Node::roster_apply` as `danvan roster apply FILE`: checked as a
//! roster from a peer (signature, pinned authority, newer version, unit
//! history), a refusal audited, nothing changed. The machine that holds
//! the authority key gives the roster it signed as a file to carry to the
//! hub. The hub never signs: it has no key, and its page says where and
//! how the signing happens.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use danvan_model::SignedRoster;
use danvan_node::TownDesk;
use maud::{Markup, html};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::layout::csrf_field;
use crate::pages::town::{Refused, encode, render_roster, town_only};
use crate::server::AppState;
use crate::upload::Upload;

/// The commands that sign on the authority's machine, in short, for a
/// refusal on the hub.
pub(crate) const SIGN_ELSEWHERE_SHORT: &str = "Trên máy giữ khóa: `danvan --data-dir THƯ_MỤC_KHÓA roster add MÃ_NÚT …` (hoặc `roster revoke MÃ_NÚT`), rồi `roster sign --out TỆP`.";

/// What the town office runs on the authority's machine, shown on the hub.
const SIGN_COMMANDS: [&str; 3] = [
    "danvan --data-dir THƯ_MỤC_KHÓA roster add MÃ_NÚT --unit pho-minh --role officer",
    "danvan --data-dir THƯ_MỤC_KHÓA roster revoke MÃ_NÚT",
    "danvan --data-dir THƯ_MỤC_KHÓA roster sign --out /media/usb/danh-sach.dvr",
];

/// Characters of an uploaded file's name shown back; the rest is cut.
const FILE_NAME_SHOWN_MAX: usize = 80;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/thi-xa/ap-dung", post(apply))
        .route("/thi-xa/tep-ky", get(download))
}

/// One sentence under the roster's version: where its signing happens.
pub(crate) fn desk_line(desk: TownDesk) -> &'static str {
    match desk {
        TownDesk::SignsOnline => "Máy này giữ khóa thẩm quyền và ký danh sách ngay tại đây.",
        TownDesk::SignsOffline => {
            "Máy này giữ khóa thẩm quyền, không nối mạng: danh sách ký ở đây được mang sang trạm bằng tệp."
        }
        TownDesk::AppliesFiles => {
            "Trạm này chỉ giữ danh sách đã ký: danh sách được ký trên máy giữ khóa thẩm quyền (không nối mạng) và mang sang bằng tệp."
        }
    }
}

/// The part of the roster page about roster files: on the hub, the upload
/// and how the signing is done elsewhere; on the offline authority, the
/// signed file to carry.
pub(crate) fn section(
    ctx: &Ctx,
    desk: TownDesk,
    roster: Option<&SignedRoster>,
    apply_error: Option<&str>,
) -> Markup {
    match desk {
        TownDesk::AppliesFiles => html! {
            div.bundles {
            section {
            h2 { "Áp dụng danh sách đã ký" }
            form.stack #roster-apply method="post" action="/thi-xa/ap-dung" enctype="multipart/form-data" {
                (csrf_field(ctx))
                @if let Some(error) = apply_error { p.error role="alert" { (error) } }
                label {
                    "Tệp danh sách thành viên đã ký (.dvr)"
                    span.hint {
                        "Tệp do máy giữ khóa thẩm quyền ký. Trạm kiểm tra chữ ký, khóa và phiên bản như danh sách nhận qua đồng bộ; "
                        "tệp giả, cũ hay hỏng bị từ chối và ghi vào nhật ký kiểm tra, danh sách đang giữ không đổi."
                    }
                    input #roster-file type="file" name="roster" accept=".dvr,application/octet-stream" required;
                }
                div { button type="submit" { "Áp dụng danh sách" } }
            }
            }
            section {
            h2 { "Thêm, thu hồi máy hay đổi đơn vị" }
            div.howto #sign-elsewhere {
                p {
                    "Việc này cần khóa thẩm quyền nên làm trên máy giữ khóa (không nối mạng), không làm trên trạm. "
                    "Cách dễ nhất: trên máy đó mở trang web (" code { "danvan --data-dir THƯ_MỤC_KHÓA web" } "), "
                    "vào Thị xã, thêm hay thu hồi máy, bấm «Tải tệp danh sách đã ký» và chép tệp vào USB. Hoặc dùng lệnh:"
                }
                // One command a line; a line too long for the box wraps
                // indented, so it does not read as another command.
                div.commands {
                    @for command in SIGN_COMMANDS { code { (command) } }
                }
                p.muted {
                    "THƯ_MỤC_KHÓA là thư mục dữ liệu của máy giữ khóa (theo deploy/README.md: "
                    code { "/var/lib/danvan/khoa" } "). Mang tệp sang đây và áp dụng ở ô «Áp dụng danh sách đã ký» (hoặc "
                    code { "danvan roster apply TỆP" } " trên trạm). Lời mời cho máy mới làm ngay tại trạm này: liên kết «Lời mời» trong bảng."
                }
            }
            }
            }
        },
        TownDesk::SignsOffline => html! {
            h2 { "Mang danh sách sang trạm" }
            div.howto #carry {
                p {
                    "Sau khi thêm hay thu hồi máy: tải tệp danh sách đã ký, chép vào USB, mang sang trạm và bấm "
                    "«Áp dụng danh sách đã ký» trên trang Thị xã của trạm (hoặc " code { "danvan roster apply TỆP" } " trên trạm). "
                    "Lời mời cho máy mới do trạm làm."
                }
                @if let Some(roster) = roster {
                    a.button #roster-download href="/thi-xa/tep-ky" download {
                        "Tải tệp danh sách đã ký (phiên bản " (roster.version()) ")"
                    }
                }
            }
        },
        TownDesk::SignsOnline => html! {},
    }
}

/// Applies an uploaded roster file on the hub.
async fn apply(State(state): State<AppState>, upload: Upload) -> Result<Response, WebError> {
    let ctx = &upload.ctx;
    if town_only(ctx)? == TownDesk::SignsOffline {
        return Err(WebError::BadRequest(
            "máy giữ khóa thẩm quyền ký danh sách, không nhận tệp danh sách: áp dụng tệp trên trạm"
                .into(),
        ));
    }
    let name: String = upload.name.chars().take(FILE_NAME_SHOWN_MAX).collect();
    let path = upload.file.0.clone();
    let previous = state.call(|n| Ok(n.roster()?.map_or(0, |r| r.version())))?;
    match state.write(|n| n.roster_apply(&path, None)) {
        Ok(roster) => Ok(Redirect::to(&format!(
            "/thi-xa?ok={}",
            encode(&format!(
                "Đã áp dụng tệp {name}: danh sách thành viên phiên bản {} (thay phiên bản {previous}), ký bởi khóa {}; các máy nhận ở lần đồng bộ tới.",
                roster.version(),
                roster.authority().short()
            ))
        ))
        .into_response()),
        Err(WebError::Node(e)) => {
            let message = format!(
                "Không áp dụng tệp {name}: {e}. Danh sách đang giữ không đổi (phiên bản {previous}); lần từ chối có trong nhật ký kiểm tra."
            );
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render_roster(ctx, &state, None, Refused::Apply(&message))?,
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

/// The roster held, signed, as a file to carry to the hub (what `danvan
/// roster sign --out` writes).
async fn download(ctx: Ctx, State(state): State<AppState>) -> Result<Response, WebError> {
    town_only(&ctx)?;
    let roster = state
        .call(|n| n.roster())?
        .ok_or_else(|| WebError::NotFound("danh sách thành viên".into()))?;
    let name = format!("danh-sach-thanh-vien-v{}.dvr", roster.version());
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from(roster.bytes().to_vec()),
    )
        .into_response())
}

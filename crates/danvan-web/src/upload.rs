//! A file posted from a page (a USB bundle, a workbook to import): read
//! only after the form's token checked, kept in a temporary file the node
//! reads by path, removed when done.

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request};
use axum::response::{IntoResponse, Response};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::server::AppState;

/// Text fields a posted form may carry beside its file; more are refused.
const TEXT_FIELDS_MAX: usize = 8;

/// A posted file, in its temporary place, and the form's other text
/// fields: an extractor for a `multipart/form-data` form with one file
/// input and the page's token, read in that order so nothing of the file
/// is read into memory for a post without the right token.
pub(crate) struct Upload {
    /// Who posted it.
    pub(crate) ctx: Ctx,
    /// The file's name on the officer's computer.
    pub(crate) name: String,
    /// Where it was written; removed on drop.
    pub(crate) file: TempFile,
    /// The form's text fields other than its token, by name.
    pub(crate) texts: Vec<(String, String)>,
}

impl FromRequest<AppState> for Upload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (ctx, parts, body) = Ctx::split(req, state).await?;
        let multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Upload::read(ctx, multipart)
            .await
            .map_err(IntoResponse::into_response)
    }
}

impl Upload {
    async fn read(ctx: Ctx, mut multipart: Multipart) -> Result<Upload, WebError> {
        let bad =
            |e: MultipartError| WebError::BadRequest(format!("không đọc được tệp gửi lên: {e}"));
        let mut token = None;
        let mut file = None;
        let mut texts = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or("").to_string();
            if name == "csrf" {
                token = Some(field.text().await.map_err(bad)?);
            } else if let Some(file_name) = field.file_name().map(str::to_string) {
                ctx.verify(token.as_deref().unwrap_or(""))?;
                file = Some((file_name, field.bytes().await.map_err(bad)?));
            } else if texts.len() < TEXT_FIELDS_MAX {
                texts.push((name, field.text().await.map_err(bad)?));
            } else {
                return Err(WebError::BadRequest("biểu mẫu có quá nhiều ô".into()));
            }
        }
        ctx.verify(token.as_deref().unwrap_or(""))?;
        let (name, bytes) = file
            .filter(|(_, b)| !b.is_empty())
            .ok_or_else(|| WebError::BadRequest("chưa chọn tệp (bấm «Chọn tệp»)".into()))?;
        let file = TempFile::new("tai-len");
        std::fs::write(&file.0, &bytes)
            .map_err(|e| WebError::BadRequest(format!("không lưu tạm được tệp: {e}")))?;
        Ok(Upload {
            ctx,
            name,
            file,
            texts,
        })
    }

    /// The text field `name`, if the form carried it.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A file in the system's temporary directory, removed on drop.
pub(crate) struct TempFile(pub(crate) std::path::PathBuf);

impl TempFile {
    pub(crate) fn new(what: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!(
            "danvan-web-{what}-{}-{}.tmp",
            std::process::id(),
            crate::auth::random_token()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

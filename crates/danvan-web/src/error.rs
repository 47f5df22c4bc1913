//! Errors of the web app, rendered as a Vietnamese page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What went wrong while answering a request or starting the app.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The node refused or failed the operation; its message is shown.
    #[error(transparent)]
    Node(#[from] danvan_node::NodeError),
    /// No page or record at that address.
    #[error("không tìm thấy: {0}")]
    NotFound(String),
    /// A form was posted without the page's token (an outside site, or a
    /// page left open across a restart).
    #[error("biểu mẫu hết hạn hoặc không hợp lệ: hãy tải lại trang rồi gửi lại")]
    Csrf,
    /// The request needs a login.
    #[error("cần đăng nhập")]
    LoginRequired,
    /// The app was asked to listen on a non-loopback address without accounts.
    #[error(
        "chưa có tài khoản cán bộ nào: trên địa chỉ {0} trang web cần đăng nhập; hãy tạo tài khoản bằng `danvan web user add TÊN` rồi chạy lại"
    )]
    NoAccounts(std::net::SocketAddr),
    /// A bad request value (not a form field: those are shown beside the field).
    #[error("{0}")]
    BadRequest(String),
    /// The listening socket could not be opened or served.
    #[error("không mở được cổng web {addr}: {error}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        error: std::io::Error,
    },
    /// Accounts file problem.
    #[error(transparent)]
    User(#[from] crate::auth::UserError),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::LoginRequired => StatusCode::UNAUTHORIZED,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Node(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if matches!(self, WebError::LoginRequired) {
            return axum::response::Redirect::to("/dang-nhap").into_response();
        }
        let status = self.status();
        (status, crate::layout::error_page(status, &self.to_string())).into_response()
    }
}

/// A request value that may be left empty: `None` when it is, else the
/// parsed value; a value that does not parse is a bad request naming `what`
/// and the value.
pub(crate) fn parse_optional<T>(text: &str, what: &str) -> Result<Option<T>, WebError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| WebError::BadRequest(format!("{what} {text:?} không hợp lệ: {e}")))
}

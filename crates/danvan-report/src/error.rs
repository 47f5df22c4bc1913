//! Errors of building and rendering reports and of reading conclusions.

/// Why a report could not be built or rendered, or a conclusion not read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The unit asked for is not in the unit tree.
    #[error("không có đơn vị {0:?}; xem danh sách bằng lệnh `danvan units`")]
    UnknownUnit(String),
    /// The output format asked for is not one this crate renders.
    #[error("định dạng báo cáo {0:?} không hỗ trợ (dùng md, csv, xlsx, html hoặc json)")]
    UnknownFormat(String),
    /// The spreadsheet writer failed.
    #[error("không tạo được tệp xlsx: {0}")]
    Xlsx(String),
    /// The conclusion text holds no numbered item such as `1.1.` or `2.4.`.
    #[error(
        "văn bản không có mục nhiệm vụ đánh số nào (dạng \"1.1.\", \"2.4.\" ở đầu dòng); không tạo nhiệm vụ nào"
    )]
    NoNumberedItems,
    /// Two items of a conclusion carry the same number.
    #[error("văn bản có hai mục cùng số {0}; sửa văn bản rồi nhập lại")]
    DuplicateNumber(String),
}

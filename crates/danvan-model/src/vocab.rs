//! Coded values (unaccented codes as typed on the command line) and their
//! Vietnamese labels.

/// A code and its Vietnamese label.
pub type Choice = (&'static str, &'static str);

/// Types of activity.
pub const ACTIVITY_TYPES: &[Choice] = &[
    ("tuyen-truyen", "Tuyên truyền, vận động"),
    ("tiep-dan", "Tiếp công dân"),
    ("doi-thoai", "Đối thoại trực tiếp với Nhân dân"),
    ("giam-sat", "Giám sát, phản biện xã hội"),
    ("hoa-giai", "Hòa giải ở cơ sở"),
    ("an-sinh", "An sinh xã hội, đền ơn đáp nghĩa"),
    ("iuu", "Vận động chống khai thác IUU"),
    ("qcdc", "Thực hiện Quy chế dân chủ ở cơ sở"),
    ("diem-nong", "Giải quyết vụ việc phức tạp, \"điểm nóng\""),
    ("thanh-tra-nhan-dan", "Ban Thanh tra nhân dân"),
    ("giam-sat-dau-tu", "Giám sát đầu tư của cộng đồng"),
    ("chuyen-doi-so", "Chuyển đổi số"),
    ("khac", "Hoạt động khác"),
];

/// Types of citizen petition.
pub const PETITION_TYPES: &[Choice] = &[
    ("phan-anh", "Phản ánh"),
    ("kien-nghi", "Kiến nghị"),
    ("khieu-nai", "Khiếu nại"),
    ("to-cao", "Tố cáo"),
];

/// Channels a petition arrives through.
pub const PETITION_CHANNELS: &[Choice] = &[
    ("truc-tiep", "Trực tiếp"),
    ("tiep-dan", "Qua tiếp công dân"),
    ("don-thu", "Đơn thư"),
    ("dien-thoai", "Điện thoại"),
    ("truc-tuyen", "Trực tuyến"),
    ("doi-thoai", "Qua đối thoại"),
];

/// Statuses of a petition.
pub const PETITION_STATUSES: &[Choice] = &[
    ("moi", "Mới tiếp nhận"),
    ("dang-xu-ly", "Đang giải quyết"),
    ("da-giai-quyet", "Đã giải quyết"),
    ("da-chuyen", "Đã chuyển cơ quan có thẩm quyền"),
    ("rut-don", "Công dân rút đơn"),
];

/// Petition statuses that close the case.
pub const PETITION_CLOSED: &[&str] = &["da-giai-quyet", "da-chuyen", "rut-don"];

/// The land-clearance pipeline, in order.
pub const HOUSEHOLD_STAGES: &[Choice] = &[
    ("kiem-dem", "Đã kiểm đếm"),
    ("cong-khai", "Đã công khai phương án"),
    ("dong-y", "Đã đồng ý phương án"),
    ("nhan-tien", "Đã nhận tiền bồi thường"),
    ("ban-giao", "Đã bàn giao mặt bằng"),
];

/// Not a stage: the household objects (khiếu nại) at whatever stage it is.
pub const OBJECTION: Choice = ("khieu-nai", "Có khiếu nại");

/// Ends an open objection.
pub const OBJECTION_RESOLVED: Choice = ("het-khieu-nai", "Đã giải quyết khiếu nại");

/// Statuses of a unit's progress on a task.
pub const PROGRESS_STATUSES: &[Choice] = &[
    ("chua-thuc-hien", "Chưa thực hiện"),
    ("dang-thuc-hien", "Đang thực hiện"),
    ("hoan-thanh", "Hoàn thành"),
];

/// Fields of a "Dân vận khéo" model.
pub const MODEL_FIELDS: &[Choice] = &[
    ("kinh-te", "Kinh tế"),
    ("van-hoa-xa-hoi", "Văn hóa - xã hội"),
    ("quoc-phong-an-ninh", "Quốc phòng - an ninh"),
    ("xay-dung-he-thong-chinh-tri", "Xây dựng hệ thống chính trị"),
];

/// Land-clearance projects.
pub const PROJECTS: &[Choice] = &[
    ("cao-toc-bac-nam", "Dự án đường Cao tốc Bắc - Nam phía Đông"),
    (
        "ven-bien-dung-quat-sa-huynh",
        "Dự án đường ven biển Dung Quất - Sa Huỳnh",
    ),
];

/// The label of a code in a list, or the code itself.
pub fn label(choices: &[Choice], code: &str) -> &'static str {
    choices
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The codes of a list, for error messages.
pub fn codes(choices: &[Choice]) -> String {
    choices
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The pipeline position of a stage code.
pub fn stage_rank(code: &str) -> Option<usize> {
    HOUSEHOLD_STAGES.iter().position(|(c, _)| *c == code)
}

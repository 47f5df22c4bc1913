//! Coded values (unaccented codes as typed on the command line) and their
//! Vietnamese labels.
//!
//! A code that code branches on (a type with its own deadline, the stage that
//! counts as handed over, the status that counts as done) has a named constant
//! here, and the lists are built from those constants, so that a code is spelt
//! once and a typo in a comparison is a compile error instead of a silent miss.

/// A code and its Vietnamese label.
pub type Choice = (&'static str, &'static str);

/// Activity type: propaganda and persuasion (tuyên truyền, vận động).
pub const ACTIVITY_PROPAGANDA: &str = "tuyen-truyen";
/// Activity type: citizen reception (tiếp công dân); reports count the
/// citizens received.
pub const ACTIVITY_RECEPTION: &str = "tiep-dan";
/// Activity type: direct dialogue with citizens (đối thoại trực tiếp);
/// reports count the matters raised.
pub const ACTIVITY_DIALOGUE: &str = "doi-thoai";

/// Types of activity.
pub const ACTIVITY_TYPES: &[Choice] = &[
    (ACTIVITY_PROPAGANDA, "Tuyên truyền, vận động"),
    (ACTIVITY_RECEPTION, "Tiếp công dân"),
    (ACTIVITY_DIALOGUE, "Đối thoại trực tiếp với Nhân dân"),
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

/// Petition type: feedback (phản ánh); no statutory deadline.
pub const PETITION_FEEDBACK: &str = "phan-anh";
/// Petition type: proposal (kiến nghị); no statutory deadline.
pub const PETITION_PROPOSAL: &str = "kien-nghi";
/// Petition type: complaint (khiếu nại), deadlines per Luật Khiếu nại 2011.
pub const PETITION_COMPLAINT: &str = "khieu-nai";
/// Petition type: denunciation (tố cáo), deadlines per Luật Tố cáo 2018.
pub const PETITION_DENUNCIATION: &str = "to-cao";

/// Types of citizen petition.
pub const PETITION_TYPES: &[Choice] = &[
    (PETITION_FEEDBACK, "Phản ánh"),
    (PETITION_PROPOSAL, "Kiến nghị"),
    (PETITION_COMPLAINT, "Khiếu nại"),
    (PETITION_DENUNCIATION, "Tố cáo"),
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

/// Petition status: just received; the status a new petition starts in.
pub const PETITION_NEW: &str = "moi";
/// Petition status: being resolved.
pub const PETITION_IN_PROGRESS: &str = "dang-xu-ly";
/// Petition status: resolved (closes the case).
pub const PETITION_RESOLVED: &str = "da-giai-quyet";
/// Petition status: transferred to the competent body (closes the case).
pub const PETITION_TRANSFERRED: &str = "da-chuyen";
/// Petition status: withdrawn by the citizen (closes the case).
pub const PETITION_WITHDRAWN: &str = "rut-don";

/// Statuses of a petition.
pub const PETITION_STATUSES: &[Choice] = &[
    (PETITION_NEW, "Mới tiếp nhận"),
    (PETITION_IN_PROGRESS, "Đang giải quyết"),
    (PETITION_RESOLVED, "Đã giải quyết"),
    (PETITION_TRANSFERRED, "Đã chuyển cơ quan có thẩm quyền"),
    (PETITION_WITHDRAWN, "Công dân rút đơn"),
];

/// Petition statuses that close the case.
pub const PETITION_CLOSED: &[&str] = &[PETITION_RESOLVED, PETITION_TRANSFERRED, PETITION_WITHDRAWN];

/// Stage: inventory counted (kiểm đếm); where every household starts.
pub const STAGE_INVENTORIED: &str = "kiem-dem";
/// Stage: compensation plan posted publicly.
pub const STAGE_PLAN_POSTED: &str = "cong-khai";
/// Stage: the household agreed to the plan.
pub const STAGE_AGREED: &str = "dong-y";
/// Stage: compensation paid.
pub const STAGE_PAID: &str = "nhan-tien";
/// Stage: land handed over (bàn giao mặt bằng); the last stage, the one
/// reports count as cleared and reminders stop at.
pub const STAGE_HANDED_OVER: &str = "ban-giao";

/// The land-clearance pipeline, in order.
pub const HOUSEHOLD_STAGES: &[Choice] = &[
    (STAGE_INVENTORIED, "Đã kiểm đếm"),
    (STAGE_PLAN_POSTED, "Đã công khai phương án"),
    (STAGE_AGREED, "Đã đồng ý phương án"),
    (STAGE_PAID, "Đã nhận tiền bồi thường"),
    (STAGE_HANDED_OVER, "Đã bàn giao mặt bằng"),
];

/// Not a stage: the household objects (khiếu nại) at whatever stage it is.
/// The code is the same word as [`PETITION_COMPLAINT`], but the two lists
/// are separate vocabularies.
pub const OBJECTION: Choice = ("khieu-nai", "Có khiếu nại");

/// Ends an open objection.
pub const OBJECTION_RESOLVED: Choice = ("het-khieu-nai", "Đã giải quyết khiếu nại");

/// Progress status: not started.
pub const PROGRESS_NOT_STARTED: &str = "chua-thuc-hien";
/// Progress status: under way.
pub const PROGRESS_UNDER_WAY: &str = "dang-thuc-hien";
/// Progress status: done; reports count the assignment as completed.
pub const PROGRESS_DONE: &str = "hoan-thanh";

/// Statuses of a unit's progress on a task, from least to furthest along.
pub const PROGRESS_STATUSES: &[Choice] = &[
    (PROGRESS_NOT_STARTED, "Chưa thực hiện"),
    (PROGRESS_UNDER_WAY, "Đang thực hiện"),
    (PROGRESS_DONE, "Hoàn thành"),
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

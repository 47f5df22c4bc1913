//! Realistic sample data, seeded so that every run measures the same input:
//! Vietnamese names in their real frequencies, villages and wards of Đức
//! Phổ, land parcels, and activity reports written the way communes write them.

use std::io::Write;
use std::path::Path;

use danvan_model::vocab;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::BenchError;

/// The seed of every generator, so runs compare like with like.
pub(crate) const SEED: u64 = 0x00da_0a00;

/// A seeded generator.
pub(crate) fn rng(stream: u64) -> ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    rng.set_stream(stream);
    rng
}

/// Family names, weighted by their approximate share of the population
/// (Nguyễn is about 38%), so that a search for "nguyen" is as unselective as
/// it is in the field.
const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Huỳnh", 5),
    ("Phan", 4),
    ("Võ", 4),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
    ("Đinh", 1),
    ("Trương", 1),
];

const MIDDLE_MALE: &[&str] = &[
    "Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Ngọc", "Thanh",
];
const MIDDLE_FEMALE: &[&str] = &["Thị", "Thị", "Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ"];
const GIVEN_MALE: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Long", "Nam", "Phúc", "Quân", "Sơn", "Tâm",
    "Thắng", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Lộc", "Đạt", "Hiếu", "Khánh",
];
const GIVEN_FEMALE: &[&str] = &[
    "Anh", "Hoa", "Hương", "Lan", "Liên", "Mai", "Nga", "Nhung", "Phương", "Thảo", "Trang",
    "Tuyết", "Vân", "Xuân", "Yến", "Hạnh", "Loan", "Cúc",
];

/// Wards and communes of the bundled Đức Phổ unit tree, each with villages
/// along the expressway.
pub(crate) const COMMUNES: &[(&str, &[&str])] = &[
    (
        "nguyen-nghiem",
        &["Tổ dân phố 1", "Tổ dân phố 4", "Tổ dân phố Hòa Bình"],
    ),
    (
        "pho-hoa",
        &["Thôn Hòa Thạnh", "Thôn Hòa Vinh", "Thôn Vĩnh Xuân"],
    ),
    (
        "pho-minh",
        &[
            "Thôn Vĩnh Tuy",
            "Thôn Vĩnh Bình",
            "Thôn Hiệp An",
            "Thôn Phước Hòa",
        ],
    ),
    (
        "pho-ninh",
        &["Thôn An Thạch", "Thôn Thạch By", "Thôn Vĩnh Phú"],
    ),
    ("pho-quang", &["Thôn Tân Diêm", "Thôn Trung Hải"]),
    (
        "pho-thanh",
        &["Thôn Long Thạnh", "Thôn Thạnh Đức", "Thôn Hưng Long"],
    ),
    (
        "pho-van",
        &["Thôn Đông Quang", "Thôn Vân Trường", "Thôn Hải Tân"],
    ),
    (
        "pho-vinh",
        &["Thôn Trung An", "Thôn Vĩnh Lộc", "Thôn Tân Lộc"],
    ),
    ("pho-an", &["Thôn Hội An", "Thôn An Lợi", "Thôn Ba Liên"]),
    (
        "pho-chau",
        &["Thôn Tấn Lộc", "Thôn Châu Me", "Thôn Vĩnh Thạnh"],
    ),
    (
        "pho-cuong",
        &[
            "Thôn Vĩnh An",
            "Thôn Lệ Thủy",
            "Thôn Long Phụng",
            "Thôn Mỹ Trang",
        ],
    ),
    (
        "pho-khanh",
        &["Thôn Diệp Sơn", "Thôn Hưng Long", "Thôn Thượng Khánh"],
    ),
    (
        "pho-nhon",
        &["Thôn Nhơn Tân", "Thôn Tân Phong", "Thôn Phú Long"],
    ),
    (
        "pho-phong",
        &["Thôn Trà Sơn", "Thôn Vạn Lý", "Thôn Hiệp Phổ"],
    ),
    (
        "pho-thuan",
        &["Thôn Thủy Thạch", "Thôn Mỹ Thuận", "Thôn An Thường"],
    ),
];

/// Land types of parcels, weighted: rice land and rural residential land dominate.
const LAND_TYPES: &[(&str, u32)] = &[
    ("LUC", 35),
    ("ONT", 25),
    ("CLN", 15),
    ("BHK", 15),
    ("RSX", 10),
];

/// Stages of the CSV, weighted as in a project well under way.
const STAGES: &[(&str, u32)] = &[
    ("kiem-dem", 40),
    ("cong-khai", 25),
    ("dong-y", 15),
    ("nhan-tien", 12),
    ("ban-giao", 8),
];

const INVENTORY: &[&str] = &[
    "Nhà cấp 4 diện tích {a} m², mái ngói",
    "Nhà 1 tầng mái bằng {a} m², sân bê tông",
    "Chuồng bò {a} m², giếng khoan",
    "{a} cây dừa, 12 cây xoài, hàng rào lưới B40",
    "Mồ mả 2 ngôi, tường rào gạch {a} m",
    "Bể nước {a} m³, nhà vệ sinh, mái che tôn",
];

fn weighted<'a>(rng: &mut ChaCha8Rng, choices: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut pick = rng.gen_range(0..total);
    for (choice, weight) in choices {
        if pick < *weight {
            return choice;
        }
        pick -= weight;
    }
    choices[0].0
}

fn pick<'a>(rng: &mut ChaCha8Rng, choices: &[&'a str]) -> &'a str {
    choices.choose(rng).copied().unwrap_or("")
}

/// A person's full name: family, middle, given.
pub(crate) fn person(rng: &mut ChaCha8Rng) -> String {
    let family = weighted(rng, FAMILY_NAMES);
    let (middle, given) = if rng.gen_bool(0.55) {
        (pick(rng, MIDDLE_MALE), pick(rng, GIVEN_MALE))
    } else {
        (pick(rng, MIDDLE_FEMALE), pick(rng, GIVEN_FEMALE))
    };
    format!("{family} {middle} {given}")
}

/// Writes a household CSV of `rows` rows in the columns `danvan import
/// household` accepts; returns its size in bytes.
pub(crate) fn write_household_csv(path: &Path, rows: usize) -> Result<u64, BenchError> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut rng = rng(1);
    writeln!(
        out,
        "head,village,parcels,inventory,compensation_vnd,stage,unit,project"
    )?;
    for row in 0..rows {
        let (unit, villages) = COMMUNES[rng.gen_range(0..COMMUNES.len())];
        let village = pick(&mut rng, villages);
        let sheet = rng.gen_range(1..=60);
        // The first parcel's number is the row's own, so that no two rows
        // name the same household (the import would skip the second).
        let parcels: Vec<String> = (0..rng.gen_range(1..=3))
            .map(|p| {
                let number = if p == 0 {
                    row + 1
                } else {
                    rng.gen_range(1..=900)
                };
                format!(
                    "{sheet}/{number}:{:.1}:{}",
                    rng.gen_range(40.0..3000.0),
                    weighted(&mut rng, LAND_TYPES)
                )
            })
            .collect();
        let inventory =
            pick(&mut rng, INVENTORY).replace("{a}", &rng.gen_range(2..=120).to_string());
        // Compensation in whole thousands of đồng, 30 million to 2.5 billion.
        let compensation = rng.gen_range(30_000..2_500_000) * 1000_i64;
        writeln!(
            out,
            "{},{village},{},\"{inventory}\",{compensation},{},{unit},{}",
            person(&mut rng),
            parcels.join(";"),
            weighted(&mut rng, STAGES),
            vocab::PROJECTS[0].0,
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Fields of one activity, as an officer types them into `danvan activity add`.
#[derive(Debug)]
pub(crate) struct ActivityFields {
    pub(crate) activity_type: &'static str,
    pub(crate) date: String,
    pub(crate) title: String,
    pub(crate) place: String,
    pub(crate) organizers: String,
    pub(crate) attendance: i64,
    pub(crate) summary: String,
    pub(crate) results: String,
}

/// A realistic activity report with Vietnamese text.
pub(crate) fn activity(rng: &mut ChaCha8Rng) -> ActivityFields {
    const KINDS: &[(&str, &str)] = &[
        (
            "tuyen-truyen",
            "Tuyên truyền chính sách bồi thường, hỗ trợ, tái định cư",
        ),
        (
            "doi-thoai",
            "Đối thoại với hộ dân bị ảnh hưởng Dự án đường Cao tốc Bắc - Nam",
        ),
        ("tiep-dan", "Tiếp công dân định kỳ"),
        ("hoa-giai", "Hòa giải tranh chấp ranh giới đất"),
        (
            "iuu",
            "Vận động ngư dân không khai thác hải sản bất hợp pháp (IUU)",
        ),
        ("an-sinh", "Trao quà cho hộ gia đình chính sách, hộ nghèo"),
    ];
    let (activity_type, title) = KINDS[rng.gen_range(0..KINDS.len())];
    let (_, villages) = COMMUNES[rng.gen_range(0..COMMUNES.len())];
    let village = pick(rng, villages);
    let attendance = rng.gen_range(12..180);
    ActivityFields {
        activity_type,
        date: format!(
            "2025-{:02}-{:02}",
            rng.gen_range(1..=12),
            rng.gen_range(1..=28)
        ),
        title: format!("{title} tại {village}"),
        place: format!("Nhà văn hóa {village}"),
        organizers: format!(
            "Ban Dân vận Đảng ủy phường, Ủy ban MTTQ Việt Nam phường; chủ trì: đồng chí {}",
            person(rng)
        ),
        attendance,
        summary: format!(
            "Tuyên truyền, phổ biến Nghị quyết và các văn bản hướng dẫn về bồi thường, hỗ trợ, \
             tái định cư; lắng nghe ý kiến của {attendance} hộ dân. Ông {} phản ánh việc áp giá \
             đất nông nghiệp chưa sát thực tế; bà {} đề nghị sớm bố trí đất tái định cư.",
            person(rng),
            person(rng)
        ),
        results: format!(
            "{} hộ thống nhất phương án, cam kết bàn giao mặt bằng đúng tiến độ; các kiến nghị \
             được tổng hợp, báo cáo Ủy ban nhân dân thị xã.",
            rng.gen_range(1..=attendance)
        ),
    }
}

/// A visit outcome as a field team writes it.
pub(crate) fn visit_outcome(rng: &mut ChaCha8Rng) -> &'static str {
    const OUTCOMES: &[&str] = &[
        "Hộ đồng ý nhận tiền, hẹn bàn giao mặt bằng sau thu hoạch",
        "Hộ chưa đồng ý đơn giá cây trồng, đề nghị kiểm đếm lại",
        "Gia đình vắng nhà, để lại giấy mời làm việc tại UBND phường",
        "Đã giải thích chính sách hỗ trợ tái định cư; hộ cần bàn thêm với con cháu",
    ];
    pick(rng, OUTCOMES)
}

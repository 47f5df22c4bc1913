//! One measured figure, its target, and the table they are printed in.

/// What a figure must be to meet its target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Target {
    /// Strictly less than this value.
    Below(f64),
    /// This value or less.
    AtMost(f64),
    /// This value or more.
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::Below(t) => value < t,
            Target::AtMost(t) => value <= t,
            Target::AtLeast(t) => value >= t,
        }
    }

    fn text(self) -> String {
        match self {
            Target::Below(t) => format!("< {}", number(t)),
            Target::AtMost(t) => format!("<= {}", number(t)),
            Target::AtLeast(t) => format!(">= {}", number(t)),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub(crate) struct Figure {
    /// Group that measured it.
    pub(crate) group: &'static str,
    /// What was measured, with the size it was measured at.
    pub(crate) name: String,
    /// The value.
    pub(crate) value: f64,
    /// Unit of the value.
    pub(crate) unit: &'static str,
    /// The target, if an issue sets one.
    pub(crate) target: Option<Target>,
}

/// The figures of one group, in the order it measures them: the group is
/// named once, each figure by what was measured, its value and unit.
#[derive(Debug)]
pub(crate) struct Figures {
    group: &'static str,
    list: Vec<Figure>,
}

impl Figures {
    pub(crate) fn new(group: &'static str) -> Figures {
        Figures {
            group,
            list: Vec::new(),
        }
    }

    /// A figure with no target: context for the others (a baseline, a count).
    pub(crate) fn info(&mut self, name: impl Into<String>, value: f64, unit: &'static str) {
        self.push(name.into(), value, unit, None);
    }

    /// A figure with a target.
    pub(crate) fn target(
        &mut self,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
        target: Target,
    ) {
        self.push(name.into(), value, unit, Some(target));
    }

    fn push(&mut self, name: String, value: f64, unit: &'static str, target: Option<Target>) {
        self.list.push(Figure {
            group: self.group,
            name,
            value,
            unit,
            target,
        });
    }

    /// The figures, in the order measured.
    pub(crate) fn into_vec(self) -> Vec<Figure> {
        self.list
    }
}

impl Figure {
    /// Whether the target is met; `None` when there is none.
    pub(crate) fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met(self.value))
    }
}

/// A number with as many decimals as its size calls for.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || a >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Prints the table as aligned text.
pub(crate) fn print_table(figures: &[Figure]) {
    let header = ["figure", "value", "unit", "target", "met"];
    let rows: Vec<[String; 5]> = figures
        .iter()
        .map(|f| {
            [
                format!("{}: {}", f.group, f.name),
                number(f.value),
                f.unit.to_string(),
                f.target.map(Target::text).unwrap_or_else(|| "-".into()),
                match f.met() {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            // The value column is right-aligned so that digits line up.
            if i == 1 {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < cells.len() {
                out.push_str("  ");
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str));
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}

/// Prints the table as JSON: `{"quick", "failed", "figures": [{group, figure,
/// value, unit, target, met}]}`, with `target` like `"< 10"` or null.
pub(crate) fn print_json(figures: &[Figure], quick: bool, failed: &[&str]) {
    let rows: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "group": f.group,
                "figure": f.name,
                "value": f.value,
                "unit": f.unit,
                "target": f.target.map(Target::text),
                "met": f.met(),
            })
        })
        .collect();
    let doc = serde_json::json!({ "quick": quick, "failed": failed, "figures": rows });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("a JSON value always serializes")
    );
}

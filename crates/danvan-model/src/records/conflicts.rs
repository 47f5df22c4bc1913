//! Fields edited concurrently to different values: shown until someone sets
//! the field, never resolved here.

use automerge::{ReadDoc, ScalarValue, Value};
use serde::Serialize;

use super::{Kind, editable_fields};

/// A field edited concurrently to different values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conflict {
    /// The field.
    pub field: &'static str,
    /// Its Vietnamese label.
    pub label_vi: &'static str,
    /// The competing values, the one shown by default first.
    pub values: Vec<serde_json::Value>,
}

/// A scalar Automerge value as JSON (an object as a placeholder text).
pub fn scalar_json(value: &Value<'_>) -> serde_json::Value {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => serde_json::Value::String(s.to_string()),
            ScalarValue::Int(i) => serde_json::json!(i),
            ScalarValue::Uint(i) => serde_json::json!(i),
            ScalarValue::F64(f) => serde_json::json!(f),
            ScalarValue::Boolean(b) => serde_json::json!(b),
            ScalarValue::Null => serde_json::Value::Null,
            other => serde_json::Value::String(other.to_string()),
        },
        Value::Object(_) => serde_json::Value::String("(đối tượng)".into()),
    }
}

/// The editable fields of a document that hold more than one concurrent
/// value. The household stage is not among them: it resolves to the furthest.
pub fn conflicts(doc: &automerge::Automerge, kind: Kind) -> Vec<Conflict> {
    conflicts_in(&super::CachedDoc::new(doc), kind)
}

/// [`conflicts`] through a reader the caller may have read more with: one
/// read of the root says which fields hold more than one value; only those
/// are asked for their values.
pub(super) fn conflicts_in(reader: &super::CachedDoc<'_>, kind: Kind) -> Vec<Conflict> {
    let doc = reader.doc();
    let mut out = Vec::new();
    for spec in editable_fields(kind) {
        if reader.conflicted(&automerge::ROOT, spec.name) == Some(false) {
            continue;
        }
        let Ok(values) = doc.get_all(automerge::ROOT, spec.name) else {
            continue;
        };
        if values.len() < 2 {
            continue;
        }
        let mut shown: Vec<serde_json::Value> =
            values.iter().map(|(v, _)| scalar_json(v)).collect();
        // get_all lists values in op order with the default winner last.
        shown.reverse();
        let mut distinct: Vec<serde_json::Value> = Vec::new();
        for v in shown {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        if distinct.len() > 1 {
            out.push(Conflict {
                field: spec.name,
                label_vi: spec.label_vi,
                values: distinct,
            });
        }
    }
    out
}

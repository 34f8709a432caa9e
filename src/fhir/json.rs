//! Lenient field access shared by the FHIR decoders: a wrong-typed or blank field is absent.

use serde_json::Value;

use crate::domain::problem::truncate_for_display;

/// A non-blank string field, trimmed.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// [`text`], cut to `max_chars` characters (marked) for display.
pub(crate) fn text_max(v: Option<&Value>, max_chars: usize) -> Option<String> {
    text(v).map(|s| truncate_for_display(&s, max_chars))
}

/// The elements of an array field; none when it is missing or not an array.
pub(crate) fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

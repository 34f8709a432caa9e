//! The table of every result: rows, sorting, filtering, and which rows to draw. A patient can
//! have ten thousand observations; the view draws only the window of rows in sight, so the
//! DOM stays small and scrolling, sorting and filtering stay quick. Pure.

use crate::domain::results::observation_text;
use crate::domain::time::{display, instant_ms};
use crate::domain::{LowerCase, sort_indices};
use crate::fhir::observation::Observation;

/// One observation as a table row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub when: Option<String>,
    pub at_ms: Option<f64>,
    pub test: String,
    /// At the precision of its code (clinical for vital signs, as reported otherwise).
    pub value: String,
    /// Exactly as recorded.
    pub recorded: String,
    pub number: Option<f64>,
    pub flag: Option<String>,
    pub category: String,
    /// Lower-case text the filter searches.
    search: String,
    /// The test's name in lower case, to sort by.
    test_key: String,
}

pub fn result_rows(observations: &[Observation], lower: LowerCase) -> Vec<ResultRow> {
    observations
        .iter()
        .filter(|o| o.status.as_deref() != Some("entered-in-error"))
        .map(|o| {
            let test = o.code.label().unwrap_or("Observation").to_owned();
            let value = observation_text(o, false);
            let recorded = observation_text(o, true);
            let category = o
                .categories
                .first()
                .map_or("", |c| category_label(c))
                .to_owned();
            let flag = o.interpretation.iter().find(|c| c.as_str() != "N").cloned();
            let search = lower(&format!("{test} {value} {category}"));
            let test_key = lower(&test);
            ResultRow {
                when: o.effective.as_deref().map(display),
                at_ms: o.effective.as_deref().and_then(instant_ms),
                test,
                value,
                recorded,
                number: o.value.number(),
                flag,
                category,
                search,
                test_key,
            }
        })
        .collect()
}

/// A FHIR observation-category code as a reader would call it; other codes as sent.
pub fn category_label(code: &str) -> &str {
    match code {
        "vital-signs" => "Vital signs",
        "laboratory" => "Laboratory",
        "social-history" => "Social history",
        "survey" => "Survey",
        "exam" => "Exam",
        "imaging" => "Imaging",
        "procedure" => "Procedure",
        "therapy" => "Therapy",
        "activity" => "Activity",
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Date,
    Test,
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Sort {
        Sort {
            key: SortKey::Date,
            descending: true,
        }
    }
}

impl Sort {
    /// Clicking a column: the same column flips the direction, another starts descending for
    /// dates and ascending otherwise.
    pub fn toggled(self, key: SortKey) -> Sort {
        if self.key == key {
            Sort {
                key,
                descending: !self.descending,
            }
        } else {
            Sort {
                key,
                descending: key == SortKey::Date,
            }
        }
    }
}

/// Indices of the rows matching `filter` (every word, case-insensitive), in `sort` order.
/// Rows without the sorted value go last either way; ties keep newest first.
pub fn arrange(rows: &[ResultRow], filter: &str, sort: Sort, lower: LowerCase) -> Vec<usize> {
    let words: Vec<String> = filter.split_whitespace().map(lower).collect();
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| words.iter().all(|w| rows[i].search.contains(w.as_str())))
        .collect();
    let date = |r: &ResultRow| r.at_ms.unwrap_or(f64::MIN);
    sort_indices(&mut order, &|a, b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        let primary = match sort.key {
            SortKey::Date => {
                let o = date(ra).total_cmp(&date(rb));
                if sort.descending { o.reverse() } else { o }
            }
            SortKey::Test => {
                let o = ra.test_key.cmp(&rb.test_key);
                if sort.descending { o.reverse() } else { o }
            }
            SortKey::Value => match (ra.number, rb.number) {
                (Some(x), Some(y)) => {
                    let o = x.total_cmp(&y);
                    if sort.descending { o.reverse() } else { o }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => ra.value.cmp(&rb.value),
            },
        };
        primary.then_with(|| date(rb).total_cmp(&date(ra)))
    });
    order
}

/// The rows to draw for a scroll position: `[first, end)` plus the blank space above and
/// below them, so the scroll bar behaves as if every row were there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub first: usize,
    pub end: usize,
    pub above_px: f64,
    pub below_px: f64,
}

/// Rows drawn beyond the visible ones, on each side.
pub const OVERSCAN: usize = 10;

pub fn window(total: usize, scroll_top: f64, viewport_px: f64, row_px: f64) -> Window {
    if total == 0 || row_px.is_nan() || row_px <= 0.0 {
        return Window {
            first: 0,
            end: 0,
            above_px: 0.0,
            below_px: 0.0,
        };
    }
    let scroll_top = if scroll_top.is_finite() {
        scroll_top.max(0.0)
    } else {
        0.0
    };
    let viewport_px = if viewport_px.is_finite() {
        viewport_px.clamp(0.0, 10_000.0)
    } else {
        0.0
    };
    let top_row = (scroll_top / row_px) as usize;
    let visible = (viewport_px / row_px).ceil() as usize + 1;
    let first = top_row.saturating_sub(OVERSCAN).min(total);
    let end = (top_row + visible + OVERSCAN).min(total);
    Window {
        first,
        end,
        above_px: first as f64 * row_px,
        below_px: (total - end) as f64 * row_px,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::observation::decode_observation;
    use crate::fhir::observation::recorded;
    use serde_json::json;

    fn obs(id: usize, code: &str, label: &str, value: f64, when: &str) -> Observation {
        decode_observation(
            &json!({"resourceType": "Observation", "id": format!("o{id}"),
            "category": [{"coding": [{"code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": label}]},
            "effectiveDateTime": when, "valueQuantity": {"value": recorded(value), "unit": "u"}}),
        )
        .unwrap()
    }

    #[test]
    fn sorted_and_filtered() {
        let all = vec![
            obs(0, "2339-0", "Glucose", 90.0, "2021-01-01"),
            obs(1, "718-7", "Hemoglobin", 14.0, "2021-03-01"),
            obs(2, "2339-0", "Glucose", 180.0, "2021-02-01"),
        ];
        let rows = result_rows(&all, str::to_lowercase);
        assert_eq!(
            arrange(&rows, "", Sort::default(), str::to_lowercase),
            [1, 2, 0]
        );
        let by_test = Sort::default().toggled(SortKey::Test);
        assert_eq!(
            by_test,
            Sort {
                key: SortKey::Test,
                descending: false
            }
        );
        // Ties (both Glucose) keep newest first.
        assert_eq!(arrange(&rows, "", by_test, str::to_lowercase), [2, 0, 1]);
        assert_eq!(
            arrange(&rows, "", by_test.toggled(SortKey::Test), str::to_lowercase),
            [1, 2, 0]
        );
        let by_value = Sort {
            key: SortKey::Value,
            descending: false,
        };
        assert_eq!(arrange(&rows, "", by_value, str::to_lowercase), [1, 0, 2]);
        assert_eq!(
            arrange(&rows, "GLUC", Sort::default(), str::to_lowercase),
            [2, 0]
        );
        assert_eq!(
            arrange(&rows, "glucose 180", Sort::default(), str::to_lowercase),
            [2]
        );
        assert_eq!(
            arrange(&rows, "nothing", Sort::default(), str::to_lowercase),
            Vec::<usize>::new()
        );
        assert_eq!(rows[2].value, "180 u");
        assert_eq!(rows[2].when.as_deref(), Some("2021-02-01"));
        // The kind is named as a reader would, and the filter finds it.
        assert_eq!(rows[2].category, "Laboratory");
        assert_eq!(
            arrange(&rows, "laboratory hemo", Sort::default(), str::to_lowercase),
            [1]
        );
    }

    /// Test names are people's words, in any language and case: the filter ignores case
    /// beyond ASCII too (the app passes the browser's `toLowerCase`; natively, `str::to_lowercase`).
    #[test]
    fn the_filter_ignores_case_in_any_language() {
        let all = vec![
            obs(0, "x-1", "HÉMOGLOBINE", 14.0, "2021-03-01"),
            obs(1, "x-2", "Glucose", 5.0, "2021-02-01"),
            obs(2, "x-3", "ΓΛΥΚΌΖΗ", 5.5, "2021-01-01"),
        ];
        let rows = result_rows(&all, str::to_lowercase);
        assert_eq!(
            arrange(&rows, "hémo", Sort::default(), str::to_lowercase),
            [0]
        );
        assert_eq!(
            arrange(&rows, "Hémoglobine 14", Sort::default(), str::to_lowercase),
            [0]
        );
        assert_eq!(
            arrange(&rows, "γλυκόζη", Sort::default(), str::to_lowercase),
            [2]
        );
    }

    #[test]
    fn ten_thousand_rows_draw_a_small_window() {
        let w = window(10_000, 0.0, 480.0, 32.0);
        assert_eq!((w.first, w.end), (0, 26));
        assert_eq!(w.above_px, 0.0);
        assert_eq!(w.below_px, (10_000 - 26) as f64 * 32.0);
        let mid = window(10_000, 32.0 * 5_000.0, 480.0, 32.0);
        assert_eq!((mid.first, mid.end), (4_990, 5_026));
        assert_eq!(mid.above_px + mid.below_px + 36.0 * 32.0, 10_000.0 * 32.0);
        let bottom = window(10_000, 1e12, 480.0, 32.0);
        assert_eq!(bottom.end, 10_000);
        assert!(bottom.end - bottom.first <= 300);
        for odd in [f64::NAN, f64::INFINITY, -5.0] {
            let w = window(100, odd, odd, 32.0);
            assert!(w.end <= 100 && w.first <= w.end, "{odd}");
        }
        assert_eq!(window(0, 0.0, 480.0, 32.0).end, 0);
        assert_eq!(window(10, 0.0, 480.0, 0.0).end, 0);
    }
}

//! The encounter list: newest first, filtered by status, class and date range. Pure.

use crate::domain::sorted_by;
use crate::domain::time::{display, instant_ms};
use crate::fhir::encounter::Encounter;

/// What the user narrowed the list to. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncounterFilter {
    pub status: Option<String>,
    pub class: Option<String>,
    /// Inclusive bounds on the start, as FHIR dates (`2020`, `2020-05`, `2020-05-01`).
    pub from: Option<String>,
    pub to: Option<String>,
}

impl EncounterFilter {
    fn admits(&self, e: &Encounter, start_ms: Option<f64>) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        if !same(&self.status, &e.status) || !same(&self.class, &e.class) {
            return false;
        }
        let from = self.from.as_deref().and_then(instant_ms);
        let to = self.to.as_deref().and_then(end_of);
        match (from, to, start_ms) {
            (None, None, _) => true,
            // An encounter without a usable start cannot be placed in a range.
            (_, _, None) => false,
            (from, to, Some(at)) => from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t),
        }
    }
}

/// The first instant after the period a partial date names (`2020` → 2021-01-01).
fn end_of(date: &str) -> Option<f64> {
    let start = instant_ms(date)?;
    let next = match date.len() {
        4 => format!("{:04}", date.parse::<i64>().ok()? + 1),
        7 => {
            let (y, m) = date.split_once('-')?;
            let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
            if m == 12 {
                format!("{:04}-01", y + 1)
            } else {
                format!("{y:04}-{:02}", m + 1)
            }
        }
        _ => return Some(start + 86_400_000.0),
    };
    instant_ms(&next)
}

/// The encounters to list: each id once, newest start first (undated ones last).
pub fn encounter_list<'a>(
    encounters: &'a [Encounter],
    filter: &EncounterFilter,
) -> Vec<&'a Encounter> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<(&Encounter, Option<f64>)> = encounters
        .iter()
        .filter(|e| seen.insert(e.id.as_str()))
        .map(|e| (e, e.start.as_deref().and_then(instant_ms)))
        .filter(|(e, at)| filter.admits(e, *at))
        .collect();
    sorted_by(rows, &|a, b| {
        b.1.unwrap_or(f64::MIN).total_cmp(&a.1.unwrap_or(f64::MIN))
    })
    .into_iter()
    .map(|(e, _)| e)
    .collect()
}

/// The distinct values of a field, sorted, for the filter's choices.
pub fn choices(encounters: &[Encounter], field: fn(&Encounter) -> Option<&String>) -> Vec<String> {
    let values: std::collections::BTreeSet<&String> = encounters.iter().filter_map(field).collect();
    values.into_iter().cloned().collect()
}

/// An encounter's period for people: `2020-12-01 20:43 to 21:13` on one day, the end's
/// date written when it differs, `from …` with no end.
pub fn period_text(start: Option<&str>, end: Option<&str>) -> Option<String> {
    let (start, end) = (start.map(display), end.map(display));
    match (start, end) {
        (Some(s), Some(e)) => {
            // Both `YYYY-MM-DD hh:mm…` on the same date: the end's time is enough.
            let same_day =
                s.get(..11).is_some_and(|d| d.ends_with(' ')) && e.get(..11) == s.get(..11);
            let e = match e.get(11..) {
                Some(time) if same_day => time.to_owned(),
                _ => e,
            };
            Some(format!("{s} to {e}"))
        }
        (Some(s), None) => Some(format!("from {s}")),
        (None, Some(e)) => Some(format!("until {e}")),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(id: &str, start: Option<&str>, status: &str, class: &str) -> Encounter {
        Encounter {
            id: id.into(),
            status: Some(status.into()),
            class: Some(class.into()),
            kind: None,
            start: start.map(str::to_owned),
            end: None,
            reasons: vec![],
            locations: vec![],
            participants: vec![],
        }
    }

    fn ids(list: Vec<&Encounter>) -> Vec<&str> {
        list.into_iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn periods_read_as_people_write_them() {
        let cases = [
            (
                Some("2020-12-01T20:43:11+00:00"),
                Some("2020-12-01T21:13:11+00:00"),
                Some("2020-12-01 20:43 to 21:13"),
            ),
            (
                Some("2020-12-01T23:30:00Z"),
                Some("2020-12-02T01:00:00Z"),
                Some("2020-12-01 23:30 to 2020-12-02 01:00"),
            ),
            (
                Some("2020-12-01T08:00:00+09:00"),
                Some("2020-12-01T09:00:00+09:00"),
                Some("2020-12-01 08:00 (UTC+09:00) to 09:00 (UTC+09:00)"),
            ),
            (Some("2019-03"), Some("2019-03"), Some("2019-03 to 2019-03")),
            (Some("2019-03-01"), None, Some("from 2019-03-01")),
            (None, Some("2019"), Some("until 2019")),
            (None, None, None),
            (Some("garbage"), Some("x"), Some("garbage to x")),
            // Unreadable values are shown raw, and never split inside a character.
            (
                Some("2020-12-01 é"),
                Some("2020-12-01 éé"),
                Some("2020-12-01 é to éé"),
            ),
            (
                Some("2020-12-01é"),
                Some("2020-12-01éé"),
                Some("2020-12-01é to 2020-12-01éé"),
            ),
        ];
        for (start, end, want) in cases {
            assert_eq!(
                period_text(start, end).as_deref(),
                want,
                "{start:?} {end:?}"
            );
        }
    }

    #[test]
    fn newest_first_once_each_and_filtered() {
        let all = vec![
            enc("a", Some("2019-03-01"), "finished", "AMB"),
            enc("b", Some("2021-01-01T08:00:00+09:00"), "finished", "EMER"),
            enc("c", Some("2020-12-31T23:30:00Z"), "in-progress", "AMB"),
            enc("d", None, "finished", "AMB"),
            // Repeated at a page edge.
            enc("a", Some("2019-03-01"), "finished", "AMB"),
        ];
        let none = EncounterFilter::default();
        assert_eq!(ids(encounter_list(&all, &none)), ["c", "b", "a", "d"]);
        let finished = EncounterFilter {
            status: Some("finished".into()),
            ..none.clone()
        };
        assert_eq!(ids(encounter_list(&all, &finished)), ["b", "a", "d"]);
        let amb_2020 = EncounterFilter {
            class: Some("AMB".into()),
            from: Some("2020".into()),
            to: Some("2020".into()),
            ..none.clone()
        };
        assert_eq!(ids(encounter_list(&all, &amb_2020)), ["c"]);
        let december = EncounterFilter {
            from: Some("2020-12".into()),
            to: Some("2020-12".into()),
            ..none
        };
        // b is 2021-01-01 in Tokyo but 2020-12-31 23:00 UTC: in range by instant.
        assert_eq!(ids(encounter_list(&all, &december)), ["c", "b"]);
        assert_eq!(choices(&all, |e| e.class.as_ref()), ["AMB", "EMER"]);
    }
}

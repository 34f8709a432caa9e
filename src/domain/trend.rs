//! A trend as the chart draws it: the line (two for blood pressure), the reference range as a
//! band, its scale as text (lowest and highest values, first and last dates), each point's
//! value and date, and one sentence for screen readers. Pure.

use crate::domain::precision::{Precision, number_of, one_decimal};
use crate::domain::results::Point;

/// Drawn points at most (the most recent), so a long history stays cheap to draw.
pub const MAX_POINTS: usize = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// SVG polyline points in the `width`×`height` box (y grows downwards).
    pub line: String,
    /// Diastolic, for blood pressure.
    pub second: Option<String>,
    /// The reference range: the band's top y and height.
    pub band: Option<(f64, f64)>,
    /// Each drawn point: x, y and "value on date", oldest first.
    pub points: Vec<(f64, f64, String)>,
    /// Lowest to highest value: `64–80`, or `118–142/76–91` for blood pressure.
    pub range: String,
    /// First to last date: `2021-01-01 – 2021-06-01`, or one date.
    pub dates: String,
    /// The whole trend in one sentence (the text alternative).
    pub summary: String,
}

/// The trend of `points` (oldest first) in a `width`×`height` box; `reference` is the
/// reference range's low and high, when the results have one; values as text at `precision`.
/// Both series of blood pressure and the band share one y scale. `None` for fewer than two
/// readings.
pub fn trend(
    points: &[Point],
    reference: (Option<f64>, Option<f64>),
    precision: Precision,
    width: f64,
    height: f64,
) -> Option<Trend> {
    let shown = &points[points.len().saturating_sub(MAX_POINTS)..];
    // One reading is no trend.
    if shown.len() < 2 {
        return None;
    }
    let first = shown.first()?;
    let last = shown.last()?;
    let extent = |values: &mut dyn Iterator<Item = f64>| {
        values.fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
    };
    let (lo1, hi1) = extent(&mut shown.iter().map(|p| p.value))?;
    let second = extent(&mut shown.iter().filter_map(|p| p.second));
    let band_values = [reference.0, reference.1].into_iter().flatten();
    let (lo, hi) = extent(
        &mut [lo1, hi1]
            .into_iter()
            .chain(second.into_iter().flat_map(|(a, b)| [a, b]))
            .chain(band_values),
    )?;
    let span_t = last.at_ms - first.at_ms;
    let span_v = hi - lo;
    let x = |t: f64| {
        if span_t > 0.0 {
            (t - first.at_ms) / span_t * width
        } else {
            width / 2.0
        }
    };
    let y = |v: f64| {
        if span_v > 0.0 {
            height - (v - lo) / span_v * height
        } else {
            height / 2.0
        }
    };
    let line = |pick: &dyn Fn(&Point) -> Option<f64>| {
        shown
            .iter()
            .filter_map(|p| {
                let (x, y) = (one_decimal(x(p.at_ms)), one_decimal(y(pick(p)?)));
                Some(format!("{x},{y}"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let main = line(&|p| Some(p.value));
    let second_line = line(&|p| p.second);
    let band = match reference {
        (None, None) => None,
        (low, high) => {
            let top = y(high.unwrap_or(hi));
            Some((top, (y(low.unwrap_or(lo)) - top).max(1.0)))
        }
    };
    let n = |v: f64| number_of(v, precision);
    let value_text = |p: &Point| match p.second {
        Some(d) => format!("{}/{}", n(p.value), n(d)),
        None => n(p.value),
    };
    let span = |(a, b): (f64, f64)| {
        let (a, b) = (n(a), n(b));
        if a == b { a } else { format!("{a}–{b}") }
    };
    let range = match second {
        Some(d) => format!("{}/{}", span((lo1, hi1)), span(d)),
        None => span((lo1, hi1)),
    };
    // The scale's dates without their times: `2012-03-06 – 2020-12-01`.
    let day = |p: &Point| p.when.get(..10).unwrap_or(&p.when).to_owned();
    let dates = if day(first) == day(last) {
        day(first)
    } else {
        format!("{} – {}", day(first), day(last))
    };
    let count = if shown.len() < points.len() {
        format!("the latest {} of {} readings", shown.len(), points.len())
    } else {
        format!("{} readings", shown.len())
    };
    let summary = format!(
        "{count}, {dates}; lowest to highest {range}; latest {} on {}",
        value_text(last),
        last.when
    );
    Some(Trend {
        line: main,
        second: (!second_line.is_empty()).then_some(second_line),
        band,
        points: shown
            .iter()
            .map(|p| {
                (
                    x(p.at_ms),
                    y(p.value),
                    format!("{} on {}", value_text(p), p.when),
                )
            })
            .collect(),
        range,
        dates,
        summary,
    })
}

/// The drawn point nearest to `x` (in the box's units).
pub fn nearest(points: &[(f64, f64, String)], x: f64) -> Option<usize> {
    (0..points.len()).min_by(|&a, &b| (points[a].0 - x).abs().total_cmp(&(points[b].0 - x).abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(at_ms: f64, value: f64, second: Option<f64>, when: &str) -> Point {
        Point {
            at_ms,
            value,
            second,
            when: when.to_owned(),
        }
    }

    #[test]
    fn lines_fit_their_box() {
        let bp = [
            p(0.0, 120.0, Some(80.0), "2020"),
            p(10.0, 140.0, Some(90.0), "2021"),
            p(20.0, 130.0, Some(85.0), "2022"),
        ];
        let t = trend(&bp, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.line, "0.0,6.7 50.0,0.0 100.0,3.3");
        assert_eq!(t.second.as_deref(), Some("0.0,20.0 50.0,16.7 100.0,18.3"));
        assert_eq!(t.band, None);
        // Two at one instant: in the middle. One reading, or none: no trend.
        let twice = [p(5.0, 72.0, None, "2021"), p(5.0, 72.0, None, "2021")];
        let t = trend(&twice, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.line, "50.0,10.0 50.0,10.0");
        assert!(t.second.is_none());
        assert!(
            trend(
                &[p(5.0, 72.0, None, "2021")],
                (None, None),
                Precision::Reported,
                100.0,
                20.0
            )
            .is_none()
        );
        assert!(trend(&[], (None, None), Precision::Reported, 100.0, 20.0).is_none());
    }

    #[test]
    fn scale_points_and_summary_as_text() {
        let bp = [
            p(0.0, 120.0, Some(80.0), "2020-01-01"),
            p(10.0, 142.0, Some(91.0), "2021-06-01 10:00"),
            p(20.0, 118.0, Some(76.0), "2022-03-04"),
        ];
        let t = trend(&bp, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.range, "118–142/76–91");
        assert_eq!(t.dates, "2020-01-01 – 2022-03-04");
        assert_eq!(t.points[1].2, "142/91 on 2021-06-01 10:00");
        assert_eq!(
            t.summary,
            "3 readings, 2020-01-01 – 2022-03-04; lowest to highest 118–142/76–91; latest 118/76 on 2022-03-04"
        );
        let same_day = [
            p(0.0, 1.0, None, "2021-06-01 10:00"),
            p(1.0, 2.0, None, "2021-06-01 11:00"),
        ];
        let t = trend(&same_day, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.dates, "2021-06-01");
        assert_eq!(t.points[1].2, "2 on 2021-06-01 11:00");
        let flat = [p(5.0, 72.5, None, "2021"), p(6.0, 72.5, None, "2021")];
        let t = trend(&flat, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!((t.range.as_str(), t.dates.as_str()), ("72.5", "2021"));
        assert_eq!(
            t.summary,
            "2 readings, 2021; lowest to highest 72.5; latest 72.5 on 2021"
        );
        // Only the most recent points are drawn, and the text says so.
        let many: Vec<Point> = (0..100)
            .map(|i| p(f64::from(i), f64::from(i), None, &format!("d{i}")))
            .collect();
        let t = trend(&many, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.points.len(), MAX_POINTS);
        assert_eq!((t.range.as_str(), t.dates.as_str()), ("40–99", "d40 – d99"));
        assert!(t.summary.starts_with("the latest 60 of 100 readings"));
    }

    /// Synthea's floating-point vital signs read at their clinical precision in the trend's
    /// text too, rounded as decimals (0.15 → 0.2, where f64 formatting gives 0.1).
    #[test]
    fn values_as_text_at_the_precision_asked() {
        let bp = [
            p(0.0, 122.458769, Some(86.929055), "2020"),
            p(10.0, 131.5, Some(80.4), "2021"),
        ];
        let t = trend(&bp, (None, None), Precision::Decimals(0), 100.0, 20.0).unwrap();
        assert_eq!(t.range, "122–132/80–87");
        assert_eq!(t.points[0].2, "122/87 on 2020");
        let small = [p(0.0, 0.15, None, "a"), p(1.0, 0.727458, None, "b")];
        let t = trend(&small, (None, None), Precision::Decimals(1), 100.0, 20.0).unwrap();
        assert_eq!(t.range, "0.2–0.7");
        let t = trend(&small, (None, None), Precision::Reported, 100.0, 20.0).unwrap();
        assert_eq!(t.range, "0.15–0.7275");
    }

    #[test]
    fn the_reference_range_is_a_band_on_the_same_scale() {
        let glucose = [p(0.0, 90.0, None, "a"), p(10.0, 150.0, None, "b")];
        // 70–100 widens the scale to 70–150: the band runs from y(100) to y(70).
        let t = trend(
            &glucose,
            (Some(70.0), Some(100.0)),
            Precision::Reported,
            100.0,
            80.0,
        )
        .unwrap();
        assert_eq!(t.band, Some((50.0, 30.0)));
        assert_eq!(t.line, "0.0,60.0 100.0,0.0");
        // Only a high limit: the band reaches the bottom of the scale.
        let t = trend(
            &glucose,
            (None, Some(100.0)),
            Precision::Reported,
            100.0,
            60.0,
        )
        .unwrap();
        assert_eq!(t.band, Some((50.0, 10.0)));
        // Only a low limit: from the top of the scale.
        let t = trend(
            &glucose,
            (Some(120.0), None),
            Precision::Reported,
            100.0,
            60.0,
        )
        .unwrap();
        assert_eq!(t.band, Some((0.0, 30.0)));
    }

    #[test]
    fn the_nearest_point_to_the_pointer() {
        let points = vec![
            (0.0, 0.0, "a".to_owned()),
            (50.0, 0.0, "b".to_owned()),
            (100.0, 0.0, "c".to_owned()),
        ];
        assert_eq!(nearest(&points, -5.0), Some(0));
        assert_eq!(nearest(&points, 60.0), Some(1));
        assert_eq!(nearest(&points, 80.0), Some(2));
        assert_eq!(nearest(&[], 3.0), None);
    }
}

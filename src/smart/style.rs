//! SMART `smart_style_url`: the EHR's style document, turned into Cairn's design tokens.
//!
//! The token response may name a JSON document of colours, lengths and fonts so that the app
//! looks native inside the EHR. Cairn maps the fields it has tokens for onto the CSS custom
//! properties of `style/tokens.css`. Every value is checked against a small grammar (hex or
//! numeric `rgb()` colours, bounded `px`/`em`/`rem` lengths, plain font-family lists) and
//! re-serialised from what was recognised, so a hostile document cannot smuggle in CSS: no `;`,
//! braces, `url(`, `var(`, `expression(`, comments or escapes can reach a property value.
//!
//! A field that fails its check is skipped on its own; only an unusable document (HTTP error,
//! too large, not a JSON object) is an error, and the app then keeps its own style.

use serde_json::Value;

use crate::domain::decimal;
use crate::domain::problem::{NextStep, Problem};
use crate::http::{HttpRequest, HttpResponse, Method};

/// Style documents are a dozen short strings; anything larger is refused unread.
pub const MAX_STYLE_BYTES: usize = 64 * 1024;
/// The longest font-family list accepted, in characters.
pub const MAX_FONT_CHARS: usize = 200;
/// The largest border radius accepted, in CSS pixels (`em`/`rem` count as 16 px).
pub const MAX_RADIUS_PX: u32 = 32;

/// What a style field holds, and so how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Color,
    /// A non-negative length no larger than this many pixels.
    Length {
        max_px: u32,
    },
    FontFamily,
}

/// SMART style field → Cairn custom property. Only tokens that exist in `style/tokens.css`.
const MAPPING: &[(&str, &str, Kind)] = &[
    ("color_background", "--cairn-bg", Kind::Color),
    ("color_text", "--cairn-text", Kind::Color),
    ("color_highlight", "--cairn-accent", Kind::Color),
    ("color_error", "--cairn-danger", Kind::Color),
    (
        "dim_border_radius",
        "--cairn-radius",
        Kind::Length {
            max_px: MAX_RADIUS_PX,
        },
    ),
    ("font_family_body", "--cairn-font", Kind::FontFamily),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StyleError {
    #[error("the EHR's style document answered HTTP {0}")]
    Http(u16),
    #[error("the EHR's style document is larger than {MAX_STYLE_BYTES} bytes")]
    TooLarge,
    #[error("the EHR's style document is not JSON")]
    NotJson,
    #[error("the EHR's style document is not a JSON object")]
    NotObject,
}

impl StyleError {
    /// The app ignores an unusable style; this is for logs and diagnostics.
    pub fn problem(&self) -> Problem {
        Problem::new(
            "Cairn could not use your EHR's colours and fonts",
            format!("{self}. Cairn uses its own style instead."),
            NextStep::ContactSupport,
        )
    }
}

/// `GET smart_style_url`. The URL comes from the token response; callers check it like any
/// other EHR address before sending.
pub fn style_request(url: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: url.to_owned(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
        max_body: MAX_STYLE_BYTES,
    }
}

/// The custom-property assignments (`("--cairn-bg", "#edeae3")`, …) the style document asks
/// for, in a fixed order, each value checked and re-serialised. Fields that are missing, empty,
/// not strings or not acceptable are left out. The `Content-Type` is not required to name JSON
/// (style documents are often static files); the body must parse as a JSON object.
pub fn parse_style(resp: &HttpResponse) -> Result<Vec<(&'static str, String)>, StyleError> {
    if !resp.is_success() {
        return Err(StyleError::Http(resp.status));
    }
    if resp.body.len() > MAX_STYLE_BYTES {
        return Err(StyleError::TooLarge);
    }
    let doc = match serde_json::from_slice::<Value>(&resp.body) {
        Ok(Value::Object(doc)) => doc,
        Ok(_) => return Err(StyleError::NotObject),
        Err(_) => return Err(StyleError::NotJson),
    };
    let properties: Vec<(&'static str, String)> = MAPPING
        .iter()
        .filter_map(|&(field, property, kind)| {
            let raw = doc.get(field)?.as_str()?;
            let value = match kind {
                Kind::Color => color(raw),
                Kind::Length { max_px } => length(raw, f64::from(max_px)),
                Kind::FontFamily => font_family(raw),
            }?;
            Some((property, value))
        })
        .collect();
    Ok(properties)
}

/// Cairn's own colours, used when the EHR's would not be readable.
const OWN_BACKGROUND: &str = "#f6f7f9";
const ACCENT_TEXT: &str = "#ffffff";
/// WCAG 2 AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// Drops EHR colours that would make text unreadable (WCAG AA, 4.5:1): the text, accent and
/// error colours must each stand out from the background, and the accent also from the white
/// text on buttons. The look follows the EHR only as far as people can still read it.
pub fn readable(properties: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let get = |name: &str| {
        properties
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, v)| v.as_str())
    };
    let background = get("--cairn-bg").unwrap_or(OWN_BACKGROUND).to_owned();
    let text_ok = get("--cairn-text").is_none_or(|t| contrast(t, &background) >= MIN_CONTRAST);
    properties
        .into_iter()
        .filter(|(name, value)| match *name {
            // A background only together with a text colour readable on it (or Cairn's).
            "--cairn-bg" => text_ok && contrast("#1b1f24", value) >= MIN_CONTRAST,
            "--cairn-text" => text_ok,
            "--cairn-accent" => {
                contrast(value, ACCENT_TEXT) >= MIN_CONTRAST
                    && contrast(value, &background) >= MIN_CONTRAST
            }
            "--cairn-danger" => contrast(value, &background) >= MIN_CONTRAST,
            _ => true,
        })
        .collect()
}

/// The WCAG contrast ratio of two colours as `color` writes them (0 when unreadable).
pub fn contrast(a: &str, b: &str) -> f64 {
    match (luminance(a), luminance(b)) {
        (Some(x), Some(y)) => (x.max(y) + 0.05) / (x.min(y) + 0.05),
        _ => 0.0,
    }
}

/// Relative luminance (WCAG 2) of `#rgb`, `#rrggbb`, `#rrggbbaa` or `rgb()`/`rgba()`; alpha
/// is ignored.
fn luminance(value: &str) -> Option<f64> {
    let channels: [f64; 3] = if let Some(hex) = value.strip_prefix('#') {
        let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        match hex.len() {
            3 => [digit(0, 1)?, digit(1, 1)?, digit(2, 1)?].map(|d| f64::from(d * 17)),
            6 | 8 => [digit(0, 2)?, digit(2, 2)?, digit(4, 2)?].map(f64::from),
            _ => return None,
        }
    } else {
        let args = value.split_once('(')?.1.strip_suffix(')')?;
        let mut parts = args
            .split(',')
            .map(str::trim)
            .map(|p| match p.strip_suffix('%') {
                Some(pct) => decimal::parse(pct).map(|v| v * 2.55),
                None => decimal::parse(p),
            });
        [parts.next()??, parts.next()??, parts.next()??]
    };
    let linear = |c: f64| {
        let c = (c / 255.0).clamp(0.0, 1.0);
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = channels.map(linear);
    Some(0.2126 * r + 0.7152 * g + 0.0722 * b)
}

/// `#rgb`, `#rrggbb`, `#rrggbbaa`, or `rgb()`/`rgba()` of three or four comma-separated
/// numbers (channels all 0–255 or all 0–100%, alpha 0–1 or 0–100%). Returned lower-case and
/// re-serialised.
fn color(raw: &str) -> Option<String> {
    let raw = raw.trim_matches(css_space);
    if let Some(hex) = raw.strip_prefix('#') {
        let ok = matches!(hex.len(), 3 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return ok.then(|| format!("#{}", hex.to_ascii_lowercase()));
    }
    let open = raw.find('(')?;
    let function = raw.get(..open)?.to_ascii_lowercase();
    if function != "rgb" && function != "rgba" {
        return None;
    }
    let args = raw.get(open + 1..)?.strip_suffix(')')?;
    let parts: Vec<&str> = args.split(',').map(|p| p.trim_matches(css_space)).collect();
    if parts.len() != 3 && parts.len() != 4 {
        return None;
    }
    // CSS reads the comma syntax only when the three channels are all numbers or all
    // percentages.
    let percent_channels = parts.iter().take(3).filter(|p| p.ends_with('%')).count();
    if percent_channels != 0 && percent_channels != 3 {
        return None;
    }
    for (i, part) in parts.iter().enumerate() {
        let (number, percent) = match part.strip_suffix('%') {
            Some(n) => (n, true),
            None => (*part, false),
        };
        let n = number_value(number)?;
        let max = match (i == 3, percent) {
            (_, true) => 100.0,
            (false, false) => 255.0,
            (true, false) => 1.0,
        };
        if n > max {
            return None;
        }
    }
    Some(format!("{function}({})", parts.join(", ")))
}

/// A non-negative number with a `px`, `em` or `rem` unit, at most `max_px` pixels (16 px per
/// em). `0` without a unit is accepted as `0px`.
fn length(raw: &str, max_px: f64) -> Option<String> {
    let raw = raw.trim_matches(css_space).to_ascii_lowercase();
    if raw == "0" {
        return Some("0px".into());
    }
    let (number, unit, px_per_unit) = if let Some(n) = raw.strip_suffix("rem") {
        (n, "rem", 16.0)
    } else if let Some(n) = raw.strip_suffix("em") {
        (n, "em", 16.0)
    } else if let Some(n) = raw.strip_suffix("px") {
        (n, "px", 1.0)
    } else {
        return None;
    };
    let value = number_value(number)?;
    (value * px_per_unit <= max_px).then(|| format!("{number}{unit}"))
}

/// A plain decimal number: digits with at most one `.`, at most 10 characters, no sign or
/// exponent. Returns its value.
fn number_value(text: &str) -> Option<f64> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let dots = text.bytes().filter(|&b| b == b'.').count();
    let shape_ok = !text.is_empty()
        && text.len() <= 10
        && digits >= 1
        && dots <= 1
        && digits + dots == text.len()
        && !text.ends_with('.');
    if !shape_ok {
        return None;
    }
    decimal::parse(text).filter(|v| v.is_finite())
}

/// CSS generic families, kept unquoted.
const GENERIC_FAMILIES: &[&str] = &[
    "serif",
    "sans-serif",
    "monospace",
    "cursive",
    "fantasy",
    "system-ui",
    "ui-serif",
    "ui-sans-serif",
    "ui-monospace",
    "ui-rounded",
    "math",
    "emoji",
    "fangsong",
];

/// Words that cannot stand unquoted as a family name (CSS Fonts §font-family).
const RESERVED_WORDS: &[&str] = &[
    "inherit",
    "initial",
    "unset",
    "default",
    "revert",
    "revert-layer",
];

/// A comma-separated list of family names: each either unquoted words or one `'…'`/`"…"`
/// string, made only of letters, digits, spaces and hyphens. Whitespace is normalised; an
/// unquoted name that CSS would not read as identifiers is quoted.
fn font_family(raw: &str) -> Option<String> {
    if raw.chars().count() > MAX_FONT_CHARS {
        return None;
    }
    let mut families = Vec::new();
    for family in raw.split(',') {
        let family = family.trim_matches(css_space);
        let (quote, name) = match family.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = family.get(1..)?.strip_suffix(q)?;
                (Some(q), inner)
            }
            Some(_) => (None, family),
            None => return None,
        };
        let name_ok = name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || css_space(c));
        let words: Vec<&str> = name
            .split(|c: char| css_space(c))
            .filter(|w| !w.is_empty())
            .collect();
        if !name_ok || words.is_empty() {
            return None;
        }
        let name = words.join(" ");
        let lower = name.to_ascii_lowercase();
        let plain_idents =
            words.iter().all(|w| is_identifier(w)) && !RESERVED_WORDS.contains(&lower.as_str());
        families.push(match quote {
            Some(q) => format!("{q}{name}{q}"),
            None if GENERIC_FAMILIES.contains(&lower.as_str()) => lower,
            None if plain_idents => name,
            None => format!("\"{name}\""),
        });
    }
    Some(families.join(", "))
}

/// A CSS identifier made of letters, digits and hyphens: it must not start with a digit, nor
/// with a hyphen followed by a digit or nothing, nor with `--`.
fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some('-'), Some(c)) => c.is_alphabetic(),
        (Some(c), _) => c.is_alphabetic(),
        (None, _) => false,
    }
}

/// CSS whitespace: space, tab, line feed, carriage return, form feed.
fn css_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

#[cfg(test)]
mod contrast_tests {
    use super::*;

    #[test]
    fn wcag_contrast_ratios() {
        assert!((contrast("#000", "#fff") - 21.0).abs() < 1e-9);
        assert!((contrast("#ffffff", "#ffffff") - 1.0).abs() < 1e-9);
        assert!((contrast("rgb(0, 0, 0)", "#ffffff") - 21.0).abs() < 1e-9);
        // Epic's example highlight on white: too light for button text.
        assert!(contrast("#69b5ce", "#ffffff") < MIN_CONTRAST);
        assert!(contrast("#1f5fa8", "#ffffff") >= MIN_CONTRAST);
        assert_eq!(contrast("red", "#fff"), 0.0);
    }

    #[test]
    fn unreadable_ehr_colours_are_dropped() {
        let kept = readable(vec![
            ("--cairn-bg", "#edeae3".into()),
            ("--cairn-text", "#303030".into()),
            ("--cairn-accent", "#69b5ce".into()),
            ("--cairn-danger", "#9e2d2d".into()),
            ("--cairn-radius", "6px".into()),
        ]);
        let names: Vec<_> = kept.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "--cairn-bg",
                "--cairn-text",
                "--cairn-danger",
                "--cairn-radius"
            ]
        );
        // Light text on a light background: neither is applied.
        let kept = readable(vec![
            ("--cairn-bg", "#ffffff".into()),
            ("--cairn-text", "#eeeeee".into()),
        ]);
        assert!(kept.is_empty(), "{kept:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SplitMix;

    const SPEC_EXAMPLE: &str = r##"{"color_background":"#edeae3","color_error":"#9e2d2d","color_highlight":"#69b5ce","color_modal_backdrop":"","color_success":"#498e49","color_text":"#303030","dim_border_radius":"6px","dim_font_size":"13px","dim_spacing_size":"20px","font_family_body":"Georgia, Times, 'Times New Roman', serif","font_family_heading":"'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif"}"##;

    fn response(status: u16, body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.to_vec(),
        }
    }

    fn parse(body: &str) -> Result<Vec<(&'static str, String)>, StyleError> {
        parse_style(&response(200, body.as_bytes()))
    }

    /// The value `parse_style` produces for one field, or `None` when it is skipped.
    fn value_of(field: &str, raw: &str) -> Option<String> {
        let doc = serde_json::json!({ field: raw }).to_string();
        let props = parse(&doc).unwrap();
        assert!(props.len() <= 1, "{props:?}");
        props.into_iter().next().map(|(_, v)| v)
    }

    #[test]
    fn request_is_a_plain_json_get() {
        let req = style_request("https://ehr.example/style.json");
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.url, "https://ehr.example/style.json");
        assert_eq!(req.header("Accept"), Some("application/json"));
        assert_eq!(req.body, None);
        assert_eq!(req.headers.len(), 1);
    }

    #[test]
    fn the_spec_example_maps_onto_cairn_tokens() {
        let props = parse(SPEC_EXAMPLE).unwrap();
        let expected: Vec<(&str, String)> = vec![
            ("--cairn-bg", "#edeae3".into()),
            ("--cairn-text", "#303030".into()),
            ("--cairn-accent", "#69b5ce".into()),
            ("--cairn-danger", "#9e2d2d".into()),
            ("--cairn-radius", "6px".into()),
            (
                "--cairn-font",
                "Georgia, Times, 'Times New Roman', serif".into(),
            ),
        ];
        assert_eq!(props, expected);
    }

    #[test]
    fn every_property_is_an_existing_design_token() {
        let tokens = include_str!("../../style/tokens.css");
        for (_, property, _) in MAPPING {
            assert!(
                tokens.contains(&format!("{property}:")),
                "{property} is not declared in style/tokens.css"
            );
        }
    }

    #[test]
    fn colours() {
        let cases: &[(&str, Option<&str>)] = &[
            ("#abc", Some("#abc")),
            ("#AABBCC", Some("#aabbcc")),
            ("  #aabbcc80 ", Some("#aabbcc80")),
            ("rgb(1,2,3)", Some("rgb(1, 2, 3)")),
            ("RGBA(255, 0, 0, 0.5)", Some("rgba(255, 0, 0, 0.5)")),
            ("rgb(100%, 50%, 0%)", Some("rgb(100%, 50%, 0%)")),
            ("rgba(10, 20, 30, 40%)", Some("rgba(10, 20, 30, 40%)")),
            ("", None),
            ("   ", None),
            ("#ab", None),
            ("#abcd", None),
            ("#abcdefg", None),
            ("#aabbccdd00", None),
            ("red", None),
            ("transparent", None),
            ("rgb(256, 0, 0)", None),
            ("rgb(100%, 0, 0)", None),
            ("rgb(101%, 0%, 0%)", None),
            ("rgb(0, 0, 0, 2)", None),
            ("rgb(0, 0)", None),
            ("rgb(0, 0, 0, 0, 0)", None),
            ("rgb(-1, 0, 0)", None),
            ("rgb(1e2, 0, 0)", None),
            ("rgb(1 2 3)", None),
            ("rgb(1, 2, 3", None),
            ("rgb(1, 2, 3))", None),
            ("hsl(0, 0%, 0%)", None),
            ("red; background:url(//evil)", None),
            ("#fff; background:url(//evil)", None),
            ("#fff}", None),
            ("}", None),
            ("#fff /* x */", None),
            ("expression(alert(1))", None),
            ("var(--x)", None),
            ("rgb(var(--x), 0, 0)", None),
            ("rgb(1, 2, 3);x:y", None),
            ("rgb(1, 2, calc(3))", None),
            ("#\\66 ff", None),
            ("＃fff", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                value_of("color_background", raw).as_deref(),
                *want,
                "color_background {raw:?}"
            );
        }
    }

    #[test]
    fn border_radius() {
        let cases: &[(&str, Option<&str>)] = &[
            ("6px", Some("6px")),
            ("0", Some("0px")),
            ("0px", Some("0px")),
            ("32px", Some("32px")),
            ("4.5PX", Some("4.5px")),
            ("0.25rem", Some("0.25rem")),
            ("2em", Some("2em")),
            ("33px", None),
            ("2.1rem", None),
            ("100000000px", None),
            ("-1px", None),
            ("+1px", None),
            ("1e1px", None),
            ("6", None),
            ("6 px", None),
            ("6pt", None),
            ("50%", None),
            ("6vw", None),
            (".px", None),
            ("1.px", None),
            ("1..2px", None),
            ("", None),
            ("6px; background:url(//evil)", None),
            ("6px}", None),
            ("calc(6px)", None),
            ("var(--x)", None),
            ("expression(6px)", None),
            ("6px /* */", None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                value_of("dim_border_radius", raw).as_deref(),
                *want,
                "dim_border_radius {raw:?}"
            );
        }
    }

    #[test]
    fn font_families() {
        let long = format!("{}, serif", "A".repeat(200));
        let cases: &[(&str, Option<&str>)] = &[
            (
                "Georgia, Times, 'Times New Roman', serif",
                Some("Georgia, Times, 'Times New Roman', serif"),
            ),
            (
                "'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif",
                Some("'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif"),
            ),
            ("\"Segoe UI\",Roboto", Some("\"Segoe UI\", Roboto")),
            (
                "  Times   New  Roman ,SERIF ",
                Some("Times New Roman, serif"),
            ),
            ("Noto Sans CJK JP", Some("Noto Sans CJK JP")),
            (
                "Hiragino Kaku Gothic ProN, メイリオ",
                Some("Hiragino Kaku Gothic ProN, メイリオ"),
            ),
            ("Font 2, 3D Sans", Some("\"Font 2\", \"3D Sans\"")),
            ("inherit", Some("\"inherit\"")),
            ("--x", Some("\"--x\"")),
            ("", None),
            ("Georgia,", None),
            (",serif", None),
            ("'Unclosed, serif", None),
            ("'Mis\"matched', serif", None),
            ("'It''s', serif", None),
            ("Arial; background:url(//evil)", None),
            ("Arial} body{color:red", None),
            ("}", None),
            ("Arial /* x */", None),
            ("Arial, url(//evil)", None),
            ("expression(alert(1))", None),
            ("var(--x)", None),
            ("'a\\' serif", None),
            ("Arial\u{0}", None),
            ("Arial\u{202e}", None),
            ("Arial !important", None),
            ("Arial_Black", None),
            ("Arial.Black", None),
            (&long, None),
        ];
        for (raw, want) in cases {
            assert_eq!(
                value_of("font_family_body", raw).as_deref(),
                *want,
                "font_family_body {raw:?}"
            );
        }
    }

    #[test]
    fn bad_fields_are_skipped_one_by_one() {
        let body = r##"{
            "color_background": "red; background:url(//evil)",
            "color_text": 12,
            "color_highlight": "#69b5ce",
            "color_error": null,
            "dim_border_radius": ["6px"],
            "font_family_body": "",
            "unknown_field": "#000"
        }"##;
        assert_eq!(
            parse(body).unwrap(),
            vec![("--cairn-accent", "#69b5ce".to_string())]
        );
        assert_eq!(parse("{}").unwrap(), vec![]);
    }

    #[test]
    fn unusable_documents_are_errors() {
        let big = format!(
            r##"{{"color_text":"#000","pad":"{}"}}"##,
            "x".repeat(MAX_STYLE_BYTES)
        );
        let cases: &[(u16, &[u8], StyleError)] = &[
            (404, b"{}", StyleError::Http(404)),
            (500, SPEC_EXAMPLE.as_bytes(), StyleError::Http(500)),
            (304, b"", StyleError::Http(304)),
            (200, b"", StyleError::NotJson),
            (200, b"<html>style</html>", StyleError::NotJson),
            (200, b"{\"color_text\":\"#000\"", StyleError::NotJson),
            (200, b"\xff\xfe{}", StyleError::NotJson),
            (200, b"[]", StyleError::NotObject),
            (200, b"\"#000\"", StyleError::NotObject),
            (200, b"null", StyleError::NotObject),
            (200, big.as_bytes(), StyleError::TooLarge),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                parse_style(&response(*status, body)).as_ref(),
                Err(want),
                "{status} {:?}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
            assert!(!want.problem().title.is_empty());
        }
    }

    #[test]
    fn content_type_is_not_required() {
        let resp = HttpResponse {
            status: 200,
            content_type: Some("text/plain".into()),
            body: br##"{"color_text":"#000"}"##.to_vec(),
        };
        assert_eq!(
            parse_style(&resp).unwrap(),
            vec![("--cairn-text", "#000".to_string())]
        );
    }

    fn garbage_text(rng: &mut SplitMix) -> String {
        const PIECES: &[&str] = &[
            "#",
            "a",
            "F",
            "0",
            "9",
            ".",
            ",",
            " ",
            "(",
            ")",
            "'",
            "\"",
            ";",
            "{",
            "}",
            "\\",
            "/*",
            "url(",
            "rgb(",
            "rgba(",
            "px",
            "em",
            "rem",
            "%",
            "-",
            "+",
            "e",
            "var(--",
            "expression(",
            "é",
            "🙂",
            "\u{0}",
            "\n",
            "serif",
            "Times New Roman",
        ];
        let len = rng.below(24);
        (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
    }

    /// Only characters the grammars allow can reach a property value.
    fn assert_inert(property: &str, value: &str) {
        for bad in [
            ";",
            "{",
            "}",
            "\\",
            "/*",
            "url",
            "var",
            "expression",
            "!",
            "<",
            ">",
        ] {
            assert!(
                !value.to_ascii_lowercase().contains(bad),
                "{property}: {value:?} contains {bad:?}"
            );
        }
        assert!(!value.chars().any(char::is_control), "{value:?}");
        assert!(!value.is_empty());
    }

    #[test]
    fn five_thousand_garbage_inputs_never_panic_and_never_inject() {
        let mut rng = SplitMix(0x5eed_cafe_f00d_0001);
        let fields: Vec<&str> = MAPPING.iter().map(|(f, _, _)| *f).collect();
        for i in 0..5_000 {
            let body: Vec<u8> = match i % 3 {
                // Documents with garbage values in the fields Cairn reads.
                0 | 1 => {
                    let mut doc = serde_json::Map::new();
                    for field in &fields {
                        if rng.below(4) > 0 {
                            doc.insert((*field).to_owned(), Value::String(garbage_text(&mut rng)));
                        }
                    }
                    Value::Object(doc).to_string().into_bytes()
                }
                // The spec example with bytes changed or cut.
                _ => {
                    let mut bytes = SPEC_EXAMPLE.as_bytes().to_vec();
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(bytes.len());
                        bytes[at] = rng.next() as u8;
                    }
                    bytes.truncate(rng.below(bytes.len() + 1));
                    bytes
                }
            };
            if let Ok(props) = parse_style(&response(200, &body)) {
                for (property, value) in &props {
                    assert!(property.starts_with("--cairn-"));
                    assert_inert(property, value);
                }
            }
        }
    }
}

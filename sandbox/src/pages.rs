//! The EHR's own HTML pages: the patient list and the chart that embeds Cairn.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::{Ehr, Fault};

/// `GET /logo.svg`: the development health system's logo, for Cairn's start page.
pub async fn logo() -> Response {
    const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\" \
                       width=\"32\" height=\"32\"><path d=\"M4 26h24L19 8l-4 7-3-4z\" \
                       fill=\"#3b6e5b\"/></svg>";
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("image/svg+xml"),
        )],
        SVG,
    )
        .into_response()
}

pub async fn ehr_home(State(ehr): State<Ehr>) -> Html<String> {
    // The links keep the mode in force (`sandbox --epic` starts in Epic mode).
    let epic = ehr.epic_mode();
    let epic_param = if epic { "&amp;epic=1" } else { "" };
    let rows: String = ehr
        .patients()
        .iter()
        .map(|p| {
            format!(
                "<tr><td><a href=\"/ehr/launch?patient={}{epic_param}\">{}</a></td><td>{}</td>\
                 <td>{}</td></tr>",
                url_encode(&p.id),
                escape(&p.name),
                escape(&p.birth_date),
                escape(&p.gender)
            )
        })
        .collect();
    let patient_options: String = ehr
        .patients()
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{}\">{}</option>",
                escape(&p.id),
                escape(&p.name)
            )
        })
        .collect();
    let fault_options: String = Fault::ALL
        .iter()
        .map(|f| format!("<option value=\"{0}\">{0}</option>", f.name()))
        .collect();
    Html(page(
        "Cairn development EHR",
        &format!(
            "<header class=\"bar\">Cairn development EHR</header><main><h1>Patients</h1>\
             <p>Open a chart to launch Cairn inside it, as an EHR's embedded browser does.</p>\
             <table><thead><tr><th>Name</th><th>Birth date</th><th>Gender</th></tr></thead>\
             <tbody>{rows}</tbody></table>\
             <h2>Open a chart with a fault</h2>\
             <p>The EHR misbehaves as chosen from now on (until another chart is opened this way).</p>\
             <form id=\"open-chart\" method=\"get\" action=\"/ehr/launch\">\
             <label>Patient <select name=\"patient\">{patient_options}</select></label> \
             <label>Fault <select name=\"fault\"><option value=\"none\" selected>none</option>\
             {fault_options}</select></label> \
             <label><input type=\"checkbox\" name=\"epic\" value=\"1\"{checked}> Epic mode</label> \
             <button>Open chart</button></form></main>",
            checked = if epic { " checked" } else { "" }
        ),
    ))
}

/// Opens one chart per `patient` parameter, each with Cairn in its own iframe (`id="app"`, then
/// `app-2`, …), as an EHR with several patients open at once does. A `fault` parameter (a
/// [`Fault::name`], or `none`) replaces the faults in force first; an `app` parameter opens
/// that registered app ([`crate::RegisteredApp::name`]) instead of Cairn. `epic=1` turns Epic
/// mode on ([`Ehr::set_epic_mode`]); a launch without it turns it off.
pub async fn ehr_launch(
    State(ehr): State<Ehr>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    ehr.set_epic_mode(params.iter().any(|(k, v)| k == "epic" && v == "1"));
    if let Some((_, name)) = params.iter().find(|(k, _)| k == "fault") {
        let fault = match name.as_str() {
            "" | "none" => None,
            name => match Fault::from_name(name) {
                Some(f) => Some(f),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Html(page("Unknown fault", "<main><h1>No such fault</h1></main>")),
                    )
                        .into_response();
                }
            },
        };
        ehr.set_fault(fault);
    }
    let app = params
        .iter()
        .find(|(k, _)| k == "app")
        .map(|(_, v)| v.as_str());
    let Some(launch_url) = ehr.config().launch_url_of(app) else {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "<main><h1>No such app</h1></main>")),
        )
            .into_response();
    };
    let ids: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "patient")
        .map(|(_, v)| v.as_str())
        .collect();
    let patients = ehr.patients();
    let mut names = Vec::new();
    let mut frames = String::new();
    for (n, id) in ids.iter().enumerate() {
        let (Some(patient), Some(launch)) =
            (patients.iter().find(|p| p.id == *id), ehr.create_launch(id))
        else {
            return (
                StatusCode::NOT_FOUND,
                Html(page("Not found", "<main><h1>No such patient</h1></main>")),
            )
                .into_response();
        };
        let src = format!(
            "{launch_url}?launch={}&iss={}",
            url_encode(&launch),
            url_encode(&ehr.fhir_base())
        );
        let frame_id = if n == 0 {
            "app".to_owned()
        } else {
            format!("app-{}", n + 1)
        };
        frames.push_str(&format!(
            "<iframe id=\"{frame_id}\" title=\"Cairn: {}\" src=\"{}\"></iframe>",
            escape(&patient.name),
            escape(&src)
        ));
        names.push(escape(&patient.name));
    }
    if names.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Html(page("Not found", "<main><h1>No patient chosen</h1></main>")),
        )
            .into_response();
    }
    Html(page(
        &format!("Chart: {}", names.join(", ")),
        &format!(
            "<header class=\"bar\"><a href=\"/\">Cairn development EHR</a> — {}</header>\
             <div class=\"frames\">{frames}</div>",
            names.join(" · ")
        ),
    ))
    .into_response()
}

pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

const STYLE: &str = "body{margin:0;font-family:system-ui,sans-serif;background:#eef1f4;color:#1b1f24;\
display:flex;flex-direction:column;height:100vh}\
.bar{background:#3b4a5a;color:#fff;padding:.5rem 1rem;font-weight:600}.bar a{color:#fff}\
main{padding:1rem 1.5rem}table{border-collapse:collapse;background:#fff}\
td,th{padding:.4rem .9rem;border-bottom:1px solid #d5dae1;text-align:left}\
.choices{list-style:none;padding:0}.choices li{margin:.4rem 0}\
button{font:inherit;padding:.35rem .9rem}fieldset{background:#fff;border:1px solid #d5dae1}\
.frames{flex:1;display:flex;gap:4px}iframe{flex:1;border:0;width:100%;background:#fff}";

/// HTML-escapes text for element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

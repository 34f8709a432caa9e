//! What a host must send with Cairn's static files, generated from the configuration and the
//! built pages (`index.html`, `launch.html`): the security headers (a CSP derived from the configuration,
//! also written into each page as a `<meta>` for hosts that send no headers,
//! `Cross-Origin-Opener-Policy`, `Referrer-Policy`, `X-Content-Type-Options`) and caching (files with a content hash in their
//! name are immutable; `index.html`, the configuration and anything else are revalidated), as a
//! `_headers` file (static hosts such as Cloudflare Pages and Netlify read it) and as an nginx
//! server block.
//!
//! Pure, like the core: no file or network I/O. `cargo xtask dist` (through the `deploy` crate)
//! writes what this returns into `dist/`; the development app host (`sandbox::apphost`) serves
//! by applying the same `_headers`, so every end-to-end test runs under what ships.

use crate::uri::Uri;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::smart::config::Config;

/// `Cache-Control` for files whose name carries a content hash: a new build has new names.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for the pages and anything else: always revalidated, so a new release (and
/// its matching CSP) is picked up on the next load.
pub const REVALIDATE: &str = "no-cache";
/// The configuration's name in a release.
pub const CONFIG_FILE: &str = "cairn.config.json";
/// `Cache-Control` for the configuration: kept for a minute, so the callback page reads the
/// copy the launch page just fetched instead of waiting a round trip to revalidate it (on a
/// phone, 150 ms on the way to the banner). A changed configuration reaches every browser
/// within the minute.
pub const CONFIG_CACHE: &str = "max-age=60";

/// One built release, as a host will serve it.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub config: &'a Config,
    /// The built pages (`index.html`, then `launch.html`), one after the other: every inline
    /// script of each is allowed by hash.
    pub index_html: &'a str,
    /// The built files, relative to the release directory (`cairn-0123456789abcdef_bg.wasm`,
    /// `index.html`, `cairn.config.json`, …).
    pub files: &'a [String],
    /// The path the release is served under: `/`, or e.g. `/cairn/` (Trunk's `--public-url`).
    pub base_path: &'a str,
}

/// A set of headers for the requests whose path matches `path` (exact, or a prefix when it
/// ends with `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error(
        "the public URL {0:?} must be a path that starts and ends with `/` (e.g. `/` or \
         `/cairn/`), made of letters, digits, `-`, `_`, `.` and `~`"
    )]
    BadBasePath(String),
    #[error(
        "`redirect_uri` {redirect_uri:?} is not under the public URL {base_path:?}: the sign-in \
         would come back to a page that is not Cairn. Set it to https://<your host>{base_path}"
    )]
    RedirectOutsideBasePath {
        redirect_uri: String,
        base_path: String,
    },
}

/// Checks that `base_path` is usable and that the configured redirect URI comes back under it.
pub fn check_base_path(config: &Config, base_path: &str) -> Result<(), DeployError> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.~/".contains(c);
    let well_formed = base_path.starts_with('/')
        && base_path.ends_with('/')
        && base_path.chars().all(safe)
        && !base_path.contains("//")
        && !base_path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    if !well_formed {
        return Err(DeployError::BadBasePath(base_path.to_owned()));
    }
    let under = Uri::parse(&config.redirect_uri)
        .map(|u| u.path().starts_with(base_path))
        .unwrap_or(false);
    if !under {
        return Err(DeployError::RedirectOutsideBasePath {
            redirect_uri: config.redirect_uri.clone(),
            base_path: base_path.to_owned(),
        });
    }
    Ok(())
}

/// The headers every response of a Cairn deployment carries. `Cross-Origin-Opener-Policy:
/// same-origin` puts a top-level Cairn in a browsing context group of its own: a page that
/// opened it (or that it opens) gets no handle on its window. It does not apply inside a frame
/// (the EHR's iframe launch) and does not affect navigations (the authorize redirect, the
/// `authorize-post` form).
pub fn security_headers(config: &Config, index_html: &str) -> Vec<(&'static str, String)> {
    let ancestors = if config.ehr_origins.is_empty() {
        "'none'".to_owned()
    } else {
        config.ehr_origins.join(" ")
    };
    let mut csp = policy(config, index_html);
    csp.push(format!("frame-ancestors {ancestors}"));
    vec![
        ("Content-Security-Policy", csp.join("; ")),
        ("Cross-Origin-Opener-Policy", "same-origin".to_owned()),
        ("Referrer-Policy", "no-referrer".to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
    ]
}

/// The CSP of [`security_headers`] without `frame-ancestors`, for a `<meta http-equiv>` in each
/// page ([`with_meta_csp`]): the fallback on a host that ignores `_headers`. A policy in a
/// `<meta>` cannot carry `frame-ancestors` (browsers ignore it there), so on such a host any
/// site may frame Cairn; only the header can forbid that.
pub fn meta_csp(config: &Config, pages_html: &str) -> String {
    policy(config, pages_html).join("; ")
}

/// `page` with `<meta http-equiv="Content-Security-Policy" content="{policy}">` early in its
/// `<head>`, before anything it governs; a policy written before is replaced.
pub fn with_meta_csp(page: &str, policy: &str) -> String {
    const META: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"";
    let page = match page.split_once(META) {
        Some((before, rest)) => match rest.split_once("\">\n") {
            Some((_, after)) => format!("{}{after}", before.strip_suffix('\n').unwrap_or(before)),
            None => page.to_owned(),
        },
        None => page.to_owned(),
    };
    let content = policy
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    // After `<meta charset>` (which must stay in the first 1 024 bytes), else first in `<head>`.
    let Some(head) = page.find("<meta charset").or_else(|| page.find("<head")) else {
        return page;
    };
    match page[head..].find('>') {
        Some(end) => {
            let at = head + end + 1;
            format!("{}\n{META}{content}\">\n{}", &page[..at], &page[at..])
        }
        None => page,
    }
}

/// The CSP directives both the header and the `<meta>` carry: every inline script of
/// `pages_html` by hash, and the configured servers.
fn policy(config: &Config, pages_html: &str) -> Vec<String> {
    let mut connect = vec!["'self'".to_owned()];
    // Forms go only to authorization servers (`authorize-post`), and come back to Cairn
    // through their redirect, which Chromium also checks against `form-action`.
    let mut form = vec!["'self'".to_owned()];
    let mut img = vec!["'self'".to_owned(), "data:".to_owned()];
    for server in &config.servers {
        add_unique(&mut connect, origin_of(&server.fhir_base));
        add_unique(&mut connect, server.auth_origins.iter().cloned());
        add_unique(&mut form, server.auth_origins.iter().cloned());
        add_unique(&mut img, server.logo.as_deref().and_then(origin_of));
    }
    // The brands bundle is read from the start page.
    add_unique(
        &mut connect,
        config.brand_bundle.as_deref().and_then(origin_of),
    );
    let mut script = vec!["'self'".to_owned(), "'wasm-unsafe-eval'".to_owned()];
    // Pages share scripts (the browser check): each hash once.
    add_unique(
        &mut script,
        inline_scripts(pages_html).map(|body| {
            format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            )
        }),
    );
    vec![
        "default-src 'none'".to_owned(),
        format!("script-src {}", script.join(" ")),
        format!("connect-src {}", connect.join(" ")),
        "style-src 'self'".to_owned(),
        format!("img-src {}", img.join(" ")),
        "base-uri 'none'".to_owned(),
        format!("form-action {}", form.join(" ")),
        "object-src 'none'".to_owned(),
    ]
}

/// True for the names Trunk gives the scripts, styles and wasm it builds:
/// `<stem>-<hash>[_bg].<js|wasm|css>`, the hash a 64-bit number in lower-case hex without
/// leading zeros (so usually 16 digits, sometimes fewer; fewer than 8 is taken as a name).
/// The nginx block's `location` regex says the same.
pub fn is_hashed(file_name: &str) -> bool {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    matches!(ext, "js" | "wasm" | "css")
        && stem.rsplit_once('-').is_some_and(|(name, hash)| {
            !name.is_empty()
                && (8..=16).contains(&hash.len())
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// [`is_hashed`] as an nginx `location` regex over the request path, after `base`.
const HASHED_REGEX: &str = r"[^/]+-[0-9a-f]{8,16}(_bg)?\.(js|wasm|css)$";

/// The rules, in order: security headers for everything under the base path, then one
/// `Cache-Control` per file (and the directory itself, which serves `index.html`). The rules
/// never overlap on a header name, because hosts join the values of every matching rule.
pub fn header_rules(release: &Release<'_>) -> Vec<Rule> {
    let base = release.base_path;
    let mut rules = vec![
        Rule {
            path: format!("{base}*"),
            headers: security_headers(release.config, release.index_html),
        },
        Rule {
            path: base.to_owned(),
            headers: vec![("Cache-Control", REVALIDATE.to_owned())],
        },
    ];
    let mut files: Vec<&String> = release.files.iter().collect();
    files.sort();
    for file in files {
        let name = file.rsplit('/').next().unwrap_or(file);
        let cache = if is_hashed(name) {
            IMMUTABLE
        } else if name == CONFIG_FILE {
            CONFIG_CACHE
        } else {
            REVALIDATE
        };
        rules.push(Rule {
            path: format!("{base}{file}"),
            headers: vec![("Cache-Control", cache.to_owned())],
        });
    }
    rules
}

/// The `_headers` file: each rule's path on a line, then its headers indented.
pub fn headers_file(release: &Release<'_>) -> String {
    let mut out = String::from(
        "# Cairn's security and caching headers, generated by `cargo xtask dist` from\n\
         # cairn.config.json and the pages (index.html, launch.html). Deploy it together with the\n\
         # files it lists: the CSP carries the hashes of the pages' inline scripts, which change\n\
         # with every build.\n",
    );
    for rule in header_rules(release) {
        out.push('\n');
        out.push_str(&rule.path);
        out.push('\n');
        for (name, value) in &rule.headers {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    out
}

/// An nginx `server` block serving the release from `/srv/www` + the base path, with
/// the same headers as [`headers_file`]. `add_header` is repeated in every `location`, because
/// nginx drops inherited `add_header`s as soon as a block has one of its own.
pub fn nginx_server(release: &Release<'_>) -> String {
    let base = release.base_path;
    let host = Uri::parse(&release.config.redirect_uri)
        .ok()
        .map(|u| u.host().to_owned())
        .unwrap_or_else(|| "apps.example.org".to_owned());
    let security = security_headers(release.config, release.index_html);
    let add_headers = |cache: &str, indent: &str| {
        let mut lines = String::new();
        for (name, value) in security
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain([("Cache-Control", cache)])
        {
            lines.push_str(&format!(
                "{indent}add_header {name} \"{}\" always;\n",
                nginx_escape(value)
            ));
        }
        lines
    };
    let redirect = match base.strip_suffix('/').filter(|b| !b.is_empty()) {
        Some(bare) => format!(
            "    # Cairn's relative URLs (its configuration) need the trailing slash.\n    \
             location = {bare} {{\n        return 301 {base};\n    }}\n\n"
        ),
        None => String::new(),
    };
    format!(
        "# Cairn: an nginx server block generated by `cargo xtask dist` from cairn.config.json and\n\
         # the pages (index.html, launch.html). Install it together with the files it serves: the\n\
         # CSP carries the hashes of the pages' inline scripts, which change with every build.\n\
         #\n\
         # Copy the contents of dist/ to /srv/www{base} (or change `root`), set the\n\
         # certificate paths, and include this file from the `http` block of nginx.conf (which\n\
         # must include mime.types, so that .wasm is served as application/wasm).\n\
         server {{\n    \
             listen 443 ssl;\n    \
             listen [::]:443 ssl;\n    \
             server_name {host};\n    \
             ssl_certificate /etc/ssl/certs/{host}.pem;\n    \
             ssl_certificate_key /etc/ssl/private/{host}.key;\n\n    \
             root /srv/www;\n    \
             index index.html;\n\n\
         {redirect}    \
             location {base} {{\n        \
                 # `cargo xtask dist` writes a gzip and a brotli copy of every script, style and\n        \
                 # wasm next to it (`.gz`, `.br`); they are sent as they are to browsers that accept\n        \
                 # them. Everything else is compressed on the fly; text/html is always included.\n        \
                 gzip_static on;\n        \
                 # With the ngx_brotli module loaded (Debian: libnginx-mod-http-brotli-static),\n        \
                 # send the `.br` copies, smaller still, by uncommenting:\n        \
                 # brotli_static on;\n        \
                 gzip on;\n        \
                 gzip_vary on;\n        \
                 gzip_types text/css text/javascript application/javascript application/json application/wasm;\n\n\
         {revalidate}\n        \
                 # Files with a content hash in their name never change.\n        \
                 location ~ \"^{base}{HASHED_REGEX}\" {{\n\
         {immutable}        \
                 }}\n\n        \
                 # The configuration is kept for a minute (docs/deploy.md).\n        \
                 location = {base}{CONFIG_FILE} {{\n\
         {config}        \
                 }}\n\n        \
                 # What generated this server's configuration is not content.\n        \
                 location ~ \"^{base}(_headers|nginx\\.conf)$\" {{\n            \
                     return 404;\n        \
                 }}\n    \
             }}\n\
         }}\n",
        revalidate = add_headers(REVALIDATE, "        "),
        immutable = add_headers(IMMUTABLE, "            "),
        config = add_headers(CONFIG_CACHE, "            "),
    )
}

/// The origins Cairn's pages connect to first: each configured FHIR server's (discovery, FHIR
/// reads) and authorization server's (authorize, token), in configuration order, each once.
pub fn preconnect_origins(config: &Config) -> Vec<String> {
    let mut origins = Vec::new();
    for server in &config.servers {
        add_unique(&mut origins, origin_of(&server.fhir_base));
        add_unique(&mut origins, server.auth_origins.iter().cloned());
    }
    origins
}

/// `page` with `<link rel="preconnect">` to each of [`preconnect_origins`] before `</head>`, so
/// DNS, TCP and TLS to the EHR overlap the page's own load. Cairn's requests carry no
/// credentials (`crossorigin`); the authorize navigation does, and the browser keeps the two
/// kinds of connection apart, so an authorization origin gets one of each. A page that already
/// has preconnects (built before) is returned as it is.
pub fn with_preconnects(config: &Config, page: &str) -> String {
    if page.contains("<link rel=\"preconnect\"") {
        return page.to_owned();
    }
    let auth: Vec<&String> = config
        .servers
        .iter()
        .flat_map(|s| &s.auth_origins)
        .collect();
    let mut links = String::new();
    for origin in preconnect_origins(config) {
        let href = origin
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;");
        if auth.contains(&&origin) {
            links.push_str(&format!("<link rel=\"preconnect\" href=\"{href}\" />\n"));
        }
        links.push_str(&format!(
            "<link rel=\"preconnect\" href=\"{href}\" crossorigin=\"anonymous\" />\n"
        ));
    }
    match page.split_once("</head>") {
        Some((head, rest)) => format!("{head}{links}</head>{rest}"),
        None => page.to_owned(),
    }
}

/// The origins a page preconnects to, as written by [`with_preconnects`].
pub fn preconnected(page: &str) -> Vec<String> {
    let mut origins = Vec::new();
    for rest in page.split("<link rel=\"preconnect\" href=\"").skip(1) {
        if let Some((href, _)) = rest.split_once('"') {
            add_unique(&mut origins, [href.to_owned()]);
        }
    }
    origins
}

/// Inside an nginx double-quoted string. The values come from validated origins, base64
/// hashes and fixed text, so `$` (a variable) cannot occur; quotes and backslashes are escaped
/// all the same.
fn nginx_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Appends the `items` not already in `list`, in order.
fn add_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (tag, after) = rest.split_once('>')?;
        if tag.contains("src=") {
            return None;
        }
        after.split_once("</script>").map(|(body, _)| body)
    })
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    Uri::parse(url).ok().map(|u| u.origin().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smart::config::parse_config;

    const INDEX: &str = "<head><script type=\"module\">import init from '/cairn/a.js';</script>\
                         <script src=\"/cairn/boot-0123456789abcdef.js\" integrity=\"x\"></script></head>";

    fn config(extra: &str) -> Config {
        let json = format!(
            r#"{{"redirect_uri":"https://apps.example.org/cairn/",
            "fhir_servers":[
              {{"name":"A","client_id":"a","fhir_base":"https://fhir.example/r4","auth_origins":["https://login.example"],
                "logo":"https://cdn.example/a.svg"}},
              {{"name":"B","client_id":"b","fhir_base":"https://fhir.example/other"}}]
            {extra}}}"#
        );
        parse_config(json.as_bytes()).unwrap()
    }

    fn files() -> Vec<String> {
        [
            "index.html",
            "cairn.config.json",
            "cairn-4408e7ba733d19f4.js",
            "cairn-4408e7ba733d19f4_bg.wasm",
            "tokens-37d0a8a42f437802.css",
            "boot-fec088a161f1a438.js",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn csp_follows_the_configuration_and_the_built_page() {
        let config = config(
            r#","ehr_origins":["https://ehr.example"],"brand_bundle":"https://brands.example/b.json""#,
        );
        let headers = security_headers(&config, INDEX);
        let csp = &headers[0].1;
        let hash = STANDARD.encode(Sha256::digest(b"import init from '/cairn/a.js';"));
        assert_eq!(
            csp,
            &format!(
                "default-src 'none'; \
                 script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}'; \
                 connect-src 'self' https://fhir.example https://login.example https://brands.example; \
                 style-src 'self'; \
                 img-src 'self' data: https://cdn.example; \
                 base-uri 'none'; \
                 form-action 'self' https://login.example https://fhir.example; \
                 object-src 'none'; \
                 frame-ancestors https://ehr.example"
            )
        );
        assert_eq!(
            headers[1..],
            [
                ("Cross-Origin-Opener-Policy", "same-origin".to_owned()),
                ("Referrer-Policy", "no-referrer".to_owned()),
                ("X-Content-Type-Options", "nosniff".to_owned()),
            ]
        );
    }

    #[test]
    fn each_page_carries_the_policy_in_a_meta_without_frame_ancestors() {
        let config = config(r#","ehr_origins":["https://ehr.example"]"#);
        let header = &security_headers(&config, INDEX)[0].1;
        let meta = meta_csp(&config, INDEX);
        assert_eq!(
            format!("{meta}; frame-ancestors https://ehr.example"),
            *header
        );
        assert!(!meta.contains("frame-ancestors"), "{meta}");
        let page = with_meta_csp(INDEX, &meta);
        // First in the head, before the scripts it governs.
        assert!(
            page.starts_with(&format!(
                "<head>\n<meta http-equiv=\"Content-Security-Policy\" content=\"{meta}\">\n<script"
            )),
            "{page}"
        );
        // Written again (a rebuilt policy), it replaces the first; the scripts are untouched.
        assert_eq!(with_meta_csp(&page, &meta), page);
        let other = with_meta_csp(&page, "default-src 'none'");
        assert_eq!(other.matches("http-equiv").count(), 1, "{other}");
        assert!(other.contains("content=\"default-src 'none'\">"), "{other}");
        assert_eq!(
            inline_scripts(&page).collect::<Vec<_>>(),
            inline_scripts(INDEX).collect::<Vec<_>>()
        );
        // A quote cannot end the attribute.
        assert!(with_meta_csp(INDEX, "a\"b<c").contains("content=\"a&quot;b&lt;c\">"));
        // No head, nothing to add to.
        assert_eq!(with_meta_csp("<p>x</p>", &meta), "<p>x</p>");
    }

    #[test]
    fn every_pages_inline_scripts_are_allowed_each_once() {
        // index.html and launch.html, one after the other, sharing the browser check.
        let pages = "<script>check()</script><script type=\"module\">import a from '/a.js';</script>\
                     <script>check()</script><script type=\"module\">import l from '/l.js';</script>";
        let csp = &security_headers(&config(""), pages)[0].1;
        let hash = |body: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(body)));
        let script = format!(
            "script-src 'self' 'wasm-unsafe-eval' {} {} {};",
            hash("check()"),
            hash("import a from '/a.js';"),
            hash("import l from '/l.js';")
        );
        assert!(csp.contains(&script), "{csp}");
    }

    #[test]
    fn pages_preconnect_to_the_configured_origins_only() {
        let config = config("");
        let origins = preconnect_origins(&config);
        assert_eq!(origins, ["https://fhir.example", "https://login.example"]);
        let page = with_preconnects(&config, INDEX);
        assert_eq!(preconnected(&page), origins);
        // The authorization origin also for the credentialed authorize navigation.
        assert!(page.contains(
            "<link rel=\"preconnect\" href=\"https://login.example\" />\n\
             <link rel=\"preconnect\" href=\"https://login.example\" crossorigin=\"anonymous\" />\n</head>"
        ));
        // Server B signs in at its FHIR origin (no `auth_origins`): both kinds there too.
        assert_eq!(page.matches("rel=\"preconnect\"").count(), 4);
        // Every origin is one the CSP already allows.
        let csp = &security_headers(&config, &page)[0].1;
        let connect = csp
            .split("; ")
            .find(|d| d.starts_with("connect-src"))
            .unwrap();
        assert!(
            origins.iter().all(|o| connect.contains(o.as_str())),
            "{csp}"
        );
        // Built once: a second pass changes nothing, and nothing is inline script.
        assert_eq!(with_preconnects(&config, &page), page);
        assert_eq!(
            inline_scripts(&page).collect::<Vec<_>>(),
            inline_scripts(INDEX).collect::<Vec<_>>()
        );
    }

    #[test]
    fn no_ehr_origins_means_no_framing() {
        let headers = security_headers(&config(""), "");
        assert!(
            headers[0].1.ends_with("frame-ancestors 'none'"),
            "{}",
            headers[0].1
        );
    }

    #[test]
    fn hashed_names_are_trunks() {
        for (name, hashed) in [
            ("cairn-4408e7ba733d19f4.js", true),
            ("cairn-4408e7ba733d19f4_bg.wasm", true),
            ("tokens-37d0a8a42f437802.css", true),
            ("index.html", false),
            ("cairn.config.json", false),
            ("cairn-4408E7BA733D19F4.js", false),
            ("-4408e7ba733d19f4.js", false),
            ("cairn-4408e7ba733d19f4", false),
            ("cairn-4408e7ba733d19f4.svg", false),
            // Trunk drops leading zeros.
            ("cairn-250bd1983720851.js", true),
            ("cairn-250bd1983720851_bg.wasm", true),
            ("cairn-250bd19.js", false),
            ("logo-2024.svg", false),
        ] {
            assert_eq!(is_hashed(name), hashed, "{name}");
        }
    }

    #[test]
    fn hashed_files_are_immutable_the_configuration_kept_a_minute_the_rest_revalidated() {
        let config = config("");
        let files = files();
        let release = Release {
            config: &config,
            index_html: INDEX,
            files: &files,
            base_path: "/cairn/",
        };
        let rules = header_rules(&release);
        assert_eq!(rules[0].path, "/cairn/*");
        assert_eq!(rules[0].headers, security_headers(&config, INDEX));
        let cache: Vec<(&str, &str)> = rules[1..]
            .iter()
            .map(|r| {
                assert_eq!(r.headers.len(), 1, "{r:?}");
                assert_eq!(r.headers[0].0, "Cache-Control");
                (r.path.as_str(), r.headers[0].1.as_str())
            })
            .collect();
        assert_eq!(
            cache,
            [
                ("/cairn/", REVALIDATE),
                ("/cairn/boot-fec088a161f1a438.js", IMMUTABLE),
                ("/cairn/cairn-4408e7ba733d19f4.js", IMMUTABLE),
                ("/cairn/cairn-4408e7ba733d19f4_bg.wasm", IMMUTABLE),
                ("/cairn/cairn.config.json", CONFIG_CACHE),
                ("/cairn/index.html", REVALIDATE),
                ("/cairn/tokens-37d0a8a42f437802.css", IMMUTABLE),
            ]
        );
        let text = headers_file(&release);
        assert!(
            text.contains("\n/cairn/index.html\n  Cache-Control: no-cache\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "\n/cairn/*\n  Content-Security-Policy: {}\n  Cross-Origin-Opener-Policy: \
                 same-origin\n  Referrer-Policy: no-referrer\n  X-Content-Type-Options: nosniff\n",
                rules[0].headers[0].1
            )),
            "{text}"
        );
        // Cloudflare Pages limits: 100 rules, 2 000 characters a line.
        assert!(rules.len() <= 100);
        assert!(text.lines().all(|l| l.len() <= 2_000));
    }

    #[test]
    fn nginx_sends_the_same_headers_in_every_location() {
        let config = config(r#","ehr_origins":["https://ehr.example"]"#);
        let files = files();
        let release = Release {
            config: &config,
            index_html: INDEX,
            files: &files,
            base_path: "/cairn/",
        };
        let conf = nginx_server(&release);
        assert!(conf.contains("server_name apps.example.org;"), "{conf}");
        assert!(conf.contains("location = /cairn {\n        return 301 /cairn/;"));
        assert!(conf.contains("location /cairn/ {"));
        // The security headers appear in the three locations that serve files, each with its
        // caching; nothing else adds headers.
        for (name, value) in security_headers(&config, INDEX) {
            let line = format!("add_header {name} \"{value}\" always;");
            assert_eq!(conf.matches(&line).count(), 3, "{line}\n{conf}");
        }
        assert_eq!(
            conf.matches("add_header Cache-Control \"no-cache\" always;")
                .count(),
            1
        );
        assert_eq!(
            conf.matches(&format!("add_header Cache-Control \"{IMMUTABLE}\" always;"))
                .count(),
            1
        );
        assert_eq!(
            conf.matches(&format!(
                "add_header Cache-Control \"{CONFIG_CACHE}\" always;"
            ))
            .count(),
            1
        );
        assert!(
            conf.contains("location = /cairn/cairn.config.json {"),
            "{conf}"
        );
        assert_eq!(conf.matches("add_header").count(), 15);
        // Precompressed copies, and the wasm compressed when there are none.
        assert!(conf.contains("\n        gzip_static on;\n"), "{conf}");
        assert!(conf.contains("\n        # brotli_static on;\n"), "{conf}");
        let types = conf
            .lines()
            .find(|l| l.trim_start().starts_with("gzip_types "))
            .unwrap();
        assert!(types.contains(" application/wasm"), "{types}");
        assert!(
            conf.contains(r#"location ~ "^/cairn/[^/]+-[0-9a-f]{8,16}(_bg)?\.(js|wasm|css)$" {"#)
        );
        // Served from the root: no redirect for a bare prefix.
        let release = Release {
            base_path: "/",
            ..release
        };
        let conf = nginx_server(&release);
        assert!(!conf.contains("return 301"), "{conf}");
        assert!(conf.contains("location / {"));
    }

    #[test]
    fn the_base_path_is_a_clean_directory_holding_the_redirect() {
        let config = config("");
        assert_eq!(check_base_path(&config, "/cairn/"), Ok(()));
        assert_eq!(check_base_path(&config, "/"), Ok(()));
        for bad in [
            "cairn/",
            "/cairn",
            "",
            "/ca irn/",
            "/cairn/../",
            "//cairn/",
            "/cairn\"/",
            "/$host/",
            "https://cdn.example/cairn/",
        ] {
            assert_eq!(
                check_base_path(&config, bad),
                Err(DeployError::BadBasePath(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            check_base_path(&config, "/other/"),
            Err(DeployError::RedirectOutsideBasePath {
                redirect_uri: "https://apps.example.org/cairn/".into(),
                base_path: "/other/".into(),
            })
        );
    }
}

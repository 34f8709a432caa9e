//! `deploy check-config FILE [--app-url URL] [--public-url PATH]`: validates a Cairn
//! configuration offline, with the same code Cairn runs at start-up, and shows the CSP it leads
//! to. With `--app-url`, also checks that `redirect_uri` leads back to that address; with
//! `--public-url`, that the release path holds it (what `headers` will check after the build).
//!
//! `deploy headers DIR [--public-url PATH]`: writes `DIR/_headers` and `DIR/nginx.conf` for the
//! release built into `DIR` (its `cairn.config.json` and its pages), to be served under
//! `PATH` (default `/`), after adding to each page its `<link rel="preconnect">` to the
//! configured servers.
//!
//! Run through `cargo xtask check-config` and `cargo xtask dist`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cairn::deploy::{self, Release};
use cairn::smart::config::{Config, parse_config};

const USAGE: &str = "\
usage: deploy check-config FILE [--app-url URL] [--public-url PATH]
       deploy headers DIR [--public-url PATH]
";

/// Shown when `ehr_origins` is empty: every configured server may launch Cairn from its EHR, and
/// Epic embeds such launches in a frame.
const EMPTY_EHR_ORIGINS_WARNING: &str = "\
WARNING: `ehr_origins` is empty, so no page may show Cairn in a frame (`frame-ancestors 'none'`).
  An EHR launch from Epic Hyperspace or Hyperdrive opens Cairn in a frame of the organisation's
  Hyperspace web server, and the browser then shows a blank or refused frame instead of Cairn.
  Put the origin of each organisation's Hyperspace web server in `ehr_origins`, e.g.
  \"ehr_origins\": [\"https://hyperspace.example.org\"] (the organisation's Epic analyst knows it;
  Epic's Hyperdrive client testing harness shows it). Leave it empty only if Cairn is never
  shown inside the EHR (standalone launches, or EHR launches that open a new browser window).";

/// Shown when Cairn is to be served under a path rather than at the root of an origin of its
/// own (docs/deploy.md, docs/security.md #42).
fn shared_origin_warning(origin: &str, path: &str) -> String {
    format!(
        "\
WARNING: Cairn is to be served under {path} on {origin}, not at the root of an origin of its own.
  Browsers do not separate paths: CSP 'self', sessionStorage and window access cover the whole
  origin. Any other app, page or script on {origin} can open Cairn in a window and read the
  sign-in code from its address, or rewrite the pending sign-in (with its PKCE verifier) in
  sessionStorage. Cairn checks the stored sign-in against this configuration, but cannot stop a
  same-origin script from reading the code. For production, serve Cairn at the root of a
  dedicated origin (e.g. https://cairn.example.org/) with nothing else on it; a path is for
  testing only. See docs/deploy.md."
    )
}

/// Files in a release directory that are instructions for the host, not content.
const HOST_FILES: &[&str] = &["_headers", "nginx.conf"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["check-config", file] => check_config(Path::new(file), None, None),
        ["check-config", file, "--app-url", url] => check_config(Path::new(file), Some(url), None),
        ["check-config", file, "--public-url", base] => {
            check_config(Path::new(file), None, Some(base))
        }
        ["check-config", file, "--app-url", url, "--public-url", base] => {
            check_config(Path::new(file), Some(url), Some(base))
        }
        ["headers", dir] => headers(Path::new(dir), "/"),
        ["headers", dir, "--public-url", base] => headers(Path::new(dir), base),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(file: &Path, app_url: Option<&str>, base_path: Option<&str>) -> Result<(), String> {
    let config = read_config(file)?;
    let shown = file.display();
    if let Some(base) = base_path {
        deploy::check_base_path(&config, base).map_err(|e| format!("{shown}: {e}"))?;
    }
    match app_url {
        Some(url) => config
            .check_redirect_uri(url)
            .map_err(|e| format!("{shown}: {e}"))?,
        None => println!(
            "note: `redirect_uri` was not compared with Cairn's own address (Cairn does that in \
             the browser at start); pass --app-url https://<host>/<path>/ to check it now"
        ),
    }
    println!("{shown}: valid");
    println!("  redirect_uri: {}", config.redirect_uri);
    println!(
        "  scope: {} (in v1 form, `.read`, for servers whose discovery does not list \
         `permission-v2`)",
        config.scope
    );
    for (i, server) in config.servers.iter().enumerate() {
        println!(
            "  fhir_servers[{i}]: {:?}, client id {:?}, {} (sign-in at {})",
            server.name,
            server.client_id,
            server.fhir_base,
            server.auth_origins.join(", ")
        );
        if let Some(scope) = &server.scope {
            println!("  fhir_servers[{i}].scope: {scope} (sent as written)");
        }
    }
    if config.ehr_origins.is_empty() {
        println!("  ehr_origins: none (no page may show Cairn in a frame)");
    } else {
        println!("  ehr_origins: {}", config.ehr_origins.join(", "));
    }
    // Without the built index.html the loader's hash is not known yet.
    let (_, csp) = &deploy::security_headers(&config, "")[0];
    println!("  Content-Security-Policy (before the build adds its script hash): {csp}");
    // A warning, not a refusal: a standalone-only deployment is right to leave it empty. On
    // standard output like the rest of the report: standard error carries refusals only.
    // Where Cairn will be served: `--public-url`, or else where its redirect URI leads.
    if let Ok(redirect) = url::Url::parse(&config.redirect_uri) {
        let path = match base_path {
            Some(base) => base.to_owned(),
            None => {
                let path = redirect.path();
                path[..path.rfind('/').map_or(0, |i| i + 1)].to_owned()
            }
        };
        if path != "/" {
            let origin = redirect.origin().ascii_serialization();
            println!("{}", shared_origin_warning(&origin, &path));
        }
    }
    if config.ehr_origins.is_empty() {
        println!("{EMPTY_EHR_ORIGINS_WARNING}");
    }
    Ok(())
}

fn headers(dir: &Path, base_path: &str) -> Result<(), String> {
    let config = read_config(&dir.join("cairn.config.json"))?;
    deploy::check_base_path(&config, base_path).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    // Every page of the release (the app's `index.html`, the launch page `launch.html`) gets
    // its preconnects to the configured servers, and one policy allows the inline scripts of
    // all of them.
    let mut names: Vec<&String> = files.iter().filter(|f| f.ends_with(".html")).collect();
    if !names.iter().any(|f| *f == "index.html") {
        return Err(format!(
            "{}: no index.html (build the release first)",
            dir.display()
        ));
    }
    names.sort_by_key(|f| *f != "index.html");
    let mut built = Vec::new();
    let mut pages = String::new();
    for name in names {
        let page = deploy::with_preconnects(&config, &read(&dir.join(name))?);
        pages.push_str(&page);
        built.push((name, page));
    }
    // The same policy in each page, for a host that ignores `_headers` (less `frame-ancestors`,
    // which a `<meta>` cannot carry). Writing it changes no inline script, so no hash.
    let meta = deploy::meta_csp(&config, &pages);
    for (name, page) in built {
        write(&dir.join(name), &deploy::with_meta_csp(&page, &meta))?;
    }
    let release = Release {
        config: &config,
        index_html: &pages,
        files: &files,
        base_path,
    };
    write(&dir.join("_headers"), &deploy::headers_file(&release))?;
    write(&dir.join("nginx.conf"), &deploy::nginx_server(&release))?;
    println!(
        "wrote {0}/_headers and {0}/nginx.conf for {1} files served under {base_path}",
        dir.display(),
        files.len()
    );
    Ok(())
}

fn read_config(file: &Path) -> Result<Config, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    parse_config(&bytes).map_err(|e| format!("{}: {e}", file.display()))
}

fn read(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))
}

fn write(file: &Path, text: &str) -> Result<(), String> {
    std::fs::write(file, text).map_err(|e| format!("{}: {e}", file.display()))
}

/// The release's files, relative to `root` with `/` separators; hidden entries (Trunk's
/// `.stage`) and the host files are left out.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Precompressed copies (`.br`, `.gz`) are served in place of their file, with its
        // headers.
        if name.starts_with('.')
            || (dir == root && HOST_FILES.contains(&name.as_str()))
            || name.ends_with(".br")
            || name.ends_with(".gz")
        {
            continue;
        }
        let path: PathBuf = entry.path();
        if path.is_dir() {
            list_files(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

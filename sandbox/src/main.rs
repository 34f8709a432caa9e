//! `sandbox [--ehr-port 9090] [--app-port 8080] [--dist PATH] [--latency-ms 0] [--epic]
//! [--synthea FILE]… [--backend-demo DIR]`: the development EHR on 127.0.0.1, and Cairn's build
//! from `--dist` on its own port; `--latency-ms` holds back every response of both, as a
//! hospital's wide-area network would; `--epic` starts the EHR in Epic mode (the EHR page's
//! launches keep it unless unticked); `--synthea` adds the patient of a Synthea bundle;
//! `--backend-demo` registers the backend client `cairn-backend-demo` with `DIR/jwks.json` and
//! prints a `cairn-backend export` command that uses `DIR/cairn-backend.toml`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sandbox::{
    BackendClient, ClientKeys, Config, Ehr, apphost, cairn_config_json, cairn_epic_config_json,
};
use tokio::net::TcpListener;

struct Args {
    ehr_port: u16,
    app_port: u16,
    dist: Option<PathBuf>,
    latency: Duration,
    epic: bool,
    synthea: Vec<PathBuf>,
    backend_demo: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        ehr_port: 9090,
        app_port: 8080,
        dist: None,
        latency: Duration::ZERO,
        epic: false,
        synthea: Vec::new(),
        backend_demo: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--ehr-port" => {
                args.ehr_port = value()?.parse().map_err(|e| format!("--ehr-port: {e}"))?
            }
            "--app-port" => {
                args.app_port = value()?.parse().map_err(|e| format!("--app-port: {e}"))?
            }
            "--epic" => args.epic = true,
            "--dist" => args.dist = Some(PathBuf::from(value()?)),
            "--synthea" => args.synthea.push(PathBuf::from(value()?)),
            "--backend-demo" => args.backend_demo = Some(PathBuf::from(value()?)),
            "--latency-ms" => {
                let ms = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?;
                args.latency = Duration::from_millis(ms);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "sandbox: {e}\nusage: sandbox [--ehr-port 9090] [--app-port 8080] [--dist PATH] \
                 [--latency-ms 0] [--epic] [--synthea FILE]... [--backend-demo DIR]"
            );
            return ExitCode::from(2);
        }
    };
    let mut bundles = Vec::new();
    for file in &args.synthea {
        match std::fs::read_to_string(file) {
            Ok(text) => bundles.push(text),
            Err(e) => {
                eprintln!("sandbox: cannot read {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let ehr = Ehr::with_bundles(Config::dev(args.ehr_port, args.app_port), &bundles);
    if let Some(dir) = &args.backend_demo
        && let Err(e) = register_backend_demo(&ehr, dir)
    {
        eprintln!("sandbox: {e}");
        return ExitCode::FAILURE;
    }
    ehr.set_latency(args.latency);
    ehr.set_epic_mode(args.epic);
    let ehr_listener = match TcpListener::bind(("127.0.0.1", args.ehr_port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sandbox: cannot listen on 127.0.0.1:{}: {e}", args.ehr_port);
            return ExitCode::FAILURE;
        }
    };
    if let Some(dist) = args.dist {
        // The release exactly as built: its configuration (`cargo xtask dist` copies
        // cairn.config.json, made for these default ports) and its `_headers`.
        let built = std::fs::read_to_string(dist.join("cairn.config.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
        let expected = [cairn_config_json(&ehr), cairn_epic_config_json(&ehr)]
            .map(|json| serde_json::from_str::<serde_json::Value>(&json).ok());
        if !expected.contains(&built) {
            eprintln!(
                "sandbox: {}/cairn.config.json is not the configuration for an EHR on port {} and \
                 Cairn on port {}; Cairn will not be able to sign in",
                dist.display(),
                args.ehr_port,
                args.app_port
            );
        }
        let site = match apphost::Site::as_built(dist, "/") {
            Ok(site) => site,
            Err(e) => {
                eprintln!("sandbox: {e} (build it with `cargo xtask dist`)");
                return ExitCode::FAILURE;
            }
        };
        let app_listener = match TcpListener::bind(("127.0.0.1", args.app_port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sandbox: cannot listen on 127.0.0.1:{}: {e}", args.app_port);
                return ExitCode::FAILURE;
            }
        };
        tokio::spawn(apphost::serve_with_latency(
            app_listener,
            site,
            args.latency,
        ));
        println!("Cairn:           http://127.0.0.1:{}/", args.app_port);
    }
    println!(
        "Development EHR: http://127.0.0.1:{}/  <- open this, then choose a patient",
        args.ehr_port
    );
    tokio::select! {
        result = ehr.serve(ehr_listener) => {
            if let Err(e) = result {
                eprintln!("sandbox: {e}");
                return ExitCode::FAILURE;
            }
        }
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}

/// Registers `cairn-backend-demo` with the JWKS in `dir` and prints the export command.
fn register_backend_demo(ehr: &Ehr, dir: &std::path::Path) -> Result<(), String> {
    let path = dir.join("jwks.json");
    let jwks = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| format!("{} is not a JWK Set", path.display()))?;
    ehr.register_backend_client(BackendClient {
        client_id: "cairn-backend-demo".into(),
        keys: ClientKeys::Jwks(jwks),
        scope: "system/Patient.rs system/Encounter.rs system/Observation.rs".into(),
    });
    let patient = ehr
        .patients()
        .into_iter()
        .next()
        .ok_or("the EHR has no patients")?;
    println!(
        "Backend services: export {}'s record (MRN {}) with\n  cargo run --quiet --package \
         cairn-backend -- export --config {} --mrn {} --out {}.ndjson",
        patient.name,
        patient.mrn,
        dir.join("cairn-backend.toml").display(),
        patient.mrn,
        patient.name.replace(' ', "-").to_lowercase()
    );
    Ok(())
}

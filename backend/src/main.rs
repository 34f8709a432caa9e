//! `cairn-backend`: see docs/backend.md.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cairn_backend::assertion::Alg;
use cairn_backend::client::{Client, write_atomic};
use cairn_backend::export::Format;
use cairn_backend::{config, keys};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "cairn-backend",
    version,
    about = "Export a patient's record by MRN from a FHIR server, as a SMART Backend Services \
             client (or with a client secret)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a key pair: DIR/private-key.pem (PKCS#8, owner-only) and DIR/jwks.json (the
    /// public key to register with the EHR or to host at a JWKS URL).
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "es384")]
        alg: KeyAlg,
    },
    /// Get a token and print the granted scope and expiry (the token only with --show-token).
    Token {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Also print the access token (it is a secret: keep it out of logs).
        #[arg(long)]
        show_token: bool,
    },
    /// Export one patient (found by MRN): the Patient, its Encounters and Observations.
    Export {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "VALUE")]
        mrn: String,
        /// Only encounters and observations from this day on (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "ndjson")]
        format: OutFormat,
        /// The file to write (replaced whole, or left as it was on failure).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlg {
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// RSA 2048 with SHA-384.
    Rs384,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Ndjson,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn-backend: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-backend: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Keygen { out, alg } => {
            let alg = match alg {
                KeyAlg::Es384 => Alg::Es384,
                KeyAlg::Rs384 => Alg::Rs384,
            };
            let written = keys::keygen(&out, alg)?;
            println!(
                "private key: {} (owner-only; never share it)",
                written.private_key.display()
            );
            println!(
                "public JWKS: {} (register it with the EHR, or host it at a JWKS URL)",
                written.jwks.display()
            );
            println!("kid:         {}", written.kid);
            println!(
                "\nIn the configuration file (`key` is relative to the file's directory, or \
                 absolute):\n[auth]\nmethod = \"private_key_jwt\"\nkey = {:?}\nkid = {:?}\nalg = {:?}",
                std::fs::canonicalize(&written.private_key)
                    .unwrap_or(written.private_key)
                    .display()
                    .to_string(),
                written.kid,
                alg.name()
            );
            Ok(())
        }
        Command::Token { config, show_token } => {
            let mut client = Client::new(config::load(&config)?)?;
            let granted = client.new_token().await?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            println!("scope:      {}", granted.scope);
            println!(
                "expires in: {} s",
                (granted.expires_at_s - now).max(0.0).round()
            );
            if show_token {
                println!("token:      {}", granted.access_token.secret());
            }
            Ok(())
        }
        Command::Export {
            config,
            mrn,
            since,
            format,
            out,
        } => {
            let started = Instant::now();
            let mut client = Client::new(config::load(&config)?)?;
            // On standard error, and only when it is a terminal (indicatif hides it otherwise).
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let mut counts: Vec<(String, usize)> = Vec::new();
            let mut progress = |label: &str, entries: usize| {
                match counts.iter_mut().find(|(l, _)| l == label) {
                    Some(entry) => entry.1 = entries,
                    None => counts.push((label.to_owned(), entries)),
                }
                let line: Vec<String> = counts.iter().map(|(l, n)| format!("{l} {n}")).collect();
                bar.set_message(line.join(" · "));
                bar.tick();
            };
            let result = client.export(&mrn, since.as_deref(), &mut progress).await;
            bar.finish_and_clear();
            let exported =
                result.map_err(|e| format!("{e}; nothing was written to {}", out.display()))?;
            let bytes = exported.collected.render(match format {
                OutFormat::Ndjson => Format::Ndjson,
                OutFormat::Csv => Format::Csv,
            });
            write_atomic(&out, &bytes)?;
            eprintln!(
                "exported patient {}: {} -> {} ({} bytes, {:.1} s)",
                exported.patient_id,
                exported.collected.counts(),
                out.display(),
                bytes.len(),
                started.elapsed().as_secs_f64()
            );
            if exported.other_patients > 0 {
                eprintln!(
                    "warning: the EHR also sent {} resources of other patients; they were left out",
                    exported.other_patients
                );
            }
            Ok(())
        }
    }
}

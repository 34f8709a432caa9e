//! `cargo xtask bloat`: where the bytes of each page's wasm go. Builds both pages' wasm as the
//! release does (profile `wasm-release`, wasm-bindgen, `wasm-opt -Oz` then the page's
//! `data-wasm-opt-params`, read from its HTML as Trunk reads them), once more with the
//! function names kept (`--keep-debug`, `wasm-opt -g`), and reads that copy with twiggy: the
//! largest functions and data, and the total per crate. The release copy's raw and brotli
//! sizes are printed too, so a change can be measured without a full `cargo xtask dist`.

use std::collections::BTreeMap;

use crate::{Result, bytes, project_root, run, step, tools};

/// twiggy, the code size profiler (crates.io), pinned like the other tools.
const TWIGGY_VERSION: &str = "0.8.0";
/// The pages' binaries (`Cargo.toml`'s `[[bin]]`s).
const BINS: &[(&str, &str, &str)] = &[
    ("launch", "launch.html", "the launch page"),
    ("cairn", "index.html", "the full app"),
];

pub fn run_bloat(args: &[String]) -> Result<()> {
    let level = match args {
        [] => "-Oz".to_owned(),
        [flag, value] if flag == "--wasm-opt" => value.clone(),
        _ => {
            return Err(format!(
                "usage: cargo xtask bloat [--wasm-opt -Oz|-Os|...]; got {args:?}"
            ));
        }
    };
    let env = tools::ensure_build_tools()?;
    if tools::version_of(&env, "twiggy").as_deref() != Some(&format!("twiggy-opt {TWIGGY_VERSION}"))
    {
        println!("installing twiggy {TWIGGY_VERSION} (cargo install, about 6 minutes once)");
        run(env.command("cargo").args([
            "install",
            "--locked",
            "twiggy",
            "--version",
            TWIGGY_VERSION,
        ]))?;
    }
    step("building both pages' wasm (profile wasm-release)");
    let mut cargo = env.command("cargo");
    cargo.args([
        "build",
        "--package",
        "cairn",
        "--bins",
        "--profile",
        "wasm-release",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    // As `cargo xtask dist` builds it: the same bytes, and no rebuild between the two.
    if let Some(commit) = crate::commit_id() {
        cargo.env("CAIRN_COMMIT", commit);
    }
    run(&mut cargo)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let built = target.join("wasm32-unknown-unknown/wasm-release");
    let out = project_root().join("target/bloat");
    for (bin, page, what) in BINS {
        let params = wasm_opt_params(&project_root().join(page))?;
        run(env
            .command("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--keep-debug"])
            .arg("--out-dir")
            .arg(&out)
            .args(["--out-name", bin])
            .arg(built.join(format!("{bin}.wasm"))))?;
        let bound = out.join(format!("{bin}_bg.wasm"));
        let release = out.join(format!("{bin}.wasm"));
        let named = out.join(format!("{bin}.names.wasm"));
        for (to, keep_names) in [(&release, false), (&named, true)] {
            let mut opt = env.command("wasm-opt");
            // Trunk's order: the level, the input, then the page's own parameters.
            opt.arg(&level)
                .args(WASM_FEATURES)
                .arg(&bound)
                .args(&params)
                .arg("-o")
                .arg(to);
            if keep_names {
                opt.arg("-g");
            }
            run(&mut opt)?;
        }
        let wasm = std::fs::read(&release).map_err(|e| format!("{}: {e}", release.display()))?;
        step(&format!(
            "{what} ({bin}): wasm {} B raw, {} B brotli (wasm-opt {level})",
            wasm.len(),
            bytes::brotli(&wasm)?.len()
        ));
        run(env.command("twiggy").args(["top", "-n", "25"]).arg(&named))?;
        let csv = tools::output(
            env.command("twiggy")
                .args(["top", "-n", "1000000", "-f", "csv"])
                .arg(&named),
        )?;
        println!("\nby crate (raw bytes, function names excluded):");
        for (crate_name, size) in by_crate(&csv).into_iter().take(25) {
            println!("{size:>10}  {crate_name}");
        }
        println!("\ngeneric functions copied most (twiggy monos):");
        run(env
            .command("twiggy")
            .args(["monos", "-m", "12", "-n", "3"])
            .arg(&named))?;
    }
    println!(
        "\nNamed copies for more questions (twiggy paths, dominators): {}",
        out.join("*.names.wasm").display()
    );
    Ok(())
}

/// The `data-wasm-opt-params` of the page's `<link data-trunk rel="rust">`, split on
/// whitespace as Trunk splits them (none when the page sets none).
fn wasm_opt_params(page: &std::path::Path) -> Result<Vec<String>> {
    let html = std::fs::read_to_string(page).map_err(|e| format!("{}: {e}", page.display()))?;
    Ok(attribute(&html, "data-wasm-opt-params")
        .map(|value| value.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default())
}

/// The value of the first `name="…"` attribute in `html`.
fn attribute<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let start = html.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

/// The wasm features Rust's wasm32 target emits, which wasm-opt must accept.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// twiggy's `top -f csv` summed by crate (the first `crate::` of each item), largest first.
/// Data segments, the name section and items without a path are grouped by kind.
fn by_crate(csv: &str) -> Vec<(String, u64)> {
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let Some((name, rest)) = csv_first_field(line) else {
            continue;
        };
        let Some(size) = rest.split(',').next().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if name.contains("function names") {
            continue;
        }
        let key = if name.starts_with("data segment") {
            "(data segments)".to_owned()
        } else {
            crate_of(&name).unwrap_or_else(|| "(other)".to_owned())
        };
        *sizes.entry(key).or_default() += size;
    }
    let mut sorted: Vec<(String, u64)> = sizes.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted
}

/// The first CSV field (unquoted) and the rest of the line after its comma.
fn csv_first_field(line: &str) -> Option<(String, &str)> {
    let Some(quoted) = line.strip_prefix('"') else {
        let (name, rest) = line.split_once(',')?;
        return Some((name.to_owned(), rest));
    };
    let mut name = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            if chars.peek().map(|(_, c)| *c) == Some('"') {
                chars.next();
                name.push('"');
                continue;
            }
            return Some((name, quoted[i + 1..].strip_prefix(',')?));
        }
        name.push(c);
    }
    None
}

/// The crate of a symbol: the identifier before its first `::` (`core[1a2b]::fmt` → `core`).
fn crate_of(symbol: &str) -> Option<String> {
    let (before, _) = symbol.split_once("::")?;
    let before = before.split('[').next().unwrap_or(before);
    let ident: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    ident
        .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        .then_some(ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pages_wasm_opt_parameters() {
        let page = r#"<link data-trunk rel="rust" data-wasm-opt="z" data-wasm-opt-params="--flatten  -Oz" />"#;
        assert_eq!(
            attribute(page, "data-wasm-opt-params"),
            Some("--flatten  -Oz")
        );
        assert_eq!(attribute(page, "data-wasm-opt"), Some("z"));
        assert_eq!(
            attribute("<link data-trunk rel=\"rust\" />", "data-wasm-opt"),
            None
        );
        for page in ["index.html", "launch.html"] {
            let params = wasm_opt_params(&project_root().join(page)).unwrap();
            assert!(
                params.contains(&"--zero-filled-memory".to_owned()),
                "{page}: {params:?}"
            );
        }
    }

    #[test]
    fn sums_twiggy_rows_by_crate() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"\"\"function names\"\" subsection\",500,40,,\n\
            \"data segment \"\".rodata.1\"\"\",30,1,,\n\
            \"<f64 as core[c593]::fmt::Display>::fmt\",20,1,,\n\
            core::fmt::write::h12,5,1,,\n\
            \"url::host::Host<alloc::borrow::Cow<str>>::parse_cow::h7\",40,1,,\n\
            <char>::escape_debug_ext,3,1,,\n";
        assert_eq!(
            by_crate(csv),
            [
                ("url".to_owned(), 40),
                ("(data segments)".to_owned(), 30),
                ("core".to_owned(), 25),
                ("(other)".to_owned(), 3),
            ]
        );
    }
}

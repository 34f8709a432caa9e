//! First-load bytes: every file the browser needs for the first paint (the page, what it names,
//! and what the app fetches as it starts), raw, gzip (level 9) and brotli (quality 11, the
//! usual settings for precompressed static files). Byte counts are deterministic, unlike
//! times, so `cargo xtask test` holds the brotli total to a budget; `cargo xtask bench`
//! reports the same table for Cairn and for the baseline.

use std::io::Write;
use std::path::Path;

use crate::Result;

/// The most brotli bytes each of Cairn's two pages may take on a first visit (1 KB = 1000
/// bytes): guards against growth, not the goals. Issue 12's targets are 60 KB for the launch
/// page and 150 KB for the callback page with the chart, which Cairn does not meet yet (see
/// docs/performance.md, "Shrinking"). Each budget is the release as measured when it was set
/// plus about 1 % (two builds of one tree differ by a few hundred bytes). Lower them whenever the app shrinks; never raise one to let growth through.
///
/// The launch page (`launch.html`: EHR launch and start page, up to the authorize redirect):
/// 121 285 bytes at the start of the third round of cuts; `wasm-opt`'s flatten and rereloop
/// passes, the chart's styles split off and ASCII case changes for Cairn's own words brought it
/// to 112 114–112 407, hence the 1 % left above that.
pub const LAUNCH_BUDGET: u64 = 113_500;
/// The callback page (`index.html`, the redirect URI) with the chart, the full app: 292 419 at
/// the start of the third round; the same cuts, the browser's `toLowerCase` for people's words
/// and a table-free decimal parser (`domain::decimal`, −12 KB) brought it to 267 050.
pub const APP_BUDGET: u64 = 269_500;

/// Cairn's pages, each with what it is and its brotli budget.
pub const CAIRN_PAGES: &[(&str, &str, u64)] = &[
    ("launch.html", "the launch page", LAUNCH_BUDGET),
    ("index.html", "the callback page and chart", APP_BUDGET),
];

/// Files Cairn fetches as it starts, named in no tag of its pages.
pub const CAIRN_FETCHED: &[&str] = &["cairn.config.json"];

/// One file's sizes in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBytes {
    pub name: String,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
}

/// The files of one first load, in the order the page names them.
#[derive(Debug, Clone)]
pub struct FirstLoad {
    pub files: Vec<FileBytes>,
}

impl FirstLoad {
    pub fn total(&self) -> FileBytes {
        let sum = |f: fn(&FileBytes) -> u64| self.files.iter().map(f).sum();
        FileBytes {
            name: "total".into(),
            raw: sum(|f| f.raw),
            gzip: sum(|f| f.gzip),
            brotli: sum(|f| f.brotli),
        }
    }

    /// A plain-text table, one file a row and the total last.
    pub fn table(&self) -> String {
        let width = self
            .files
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = format!(
            "{:<width$}  {:>10}  {:>10}  {:>10}\n",
            "file", "raw B", "gzip B", "brotli B"
        );
        for f in self.files.iter().chain([&self.total()]) {
            out.push_str(&format!(
                "{:<width$}  {:>10}  {:>10}  {:>10}\n",
                f.name, f.raw, f.gzip, f.brotli
            ));
        }
        out
    }

    /// Fails when the brotli total is over `budget` bytes.
    pub fn within(&self, budget: u64) -> Result<()> {
        let total = self.total().brotli;
        if total > budget {
            return Err(format!(
                "the first load of {} is {total} bytes brotli, over the budget of {budget} \
                 (xtask/src/bytes.rs)",
                self.files.first().map_or("the page", |f| f.name.as_str())
            ));
        }
        Ok(())
    }
}

/// `html` without its `<link rel="prefetch" …>` tags.
fn without_prefetches(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<link rel=\"prefetch\"") {
        out.push_str(&rest[..at]);
        rest = rest[at..].split_once('>').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

/// Measures the first load of the page `page` (e.g. `index.html`) of the site in `site`: the
/// page, every file of `site` that it names in a quoted string (script and style sources,
/// preloads, the module and the wasm its inline loader imports), then `fetched`. What a
/// `<link rel="prefetch">` names (the launch page's prefetch of the next page) is not counted.
pub fn first_load(site: &Path, page: &str, fetched: &[&str]) -> Result<FirstLoad> {
    let read = |name: &str| {
        std::fs::read(site.join(name)).map_err(|e| format!("{}: {e}", site.join(name).display()))
    };
    let index = read(page)?;
    let html = String::from_utf8_lossy(&index);
    let html = without_prefetches(&html);
    let mut names = vec![page.to_owned()];
    for name in named_files(&html, site)
        .into_iter()
        .chain(fetched.iter().map(|f| (*f).to_owned()))
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut files = Vec::new();
    for name in names {
        let bytes = read(&name)?;
        files.push(FileBytes {
            raw: bytes.len() as u64,
            gzip: gzip(&bytes)?.len() as u64,
            brotli: brotli(&bytes)?.len() as u64,
            name,
        });
    }
    Ok(FirstLoad { files })
}

/// The files of `site` that `html` names in a quoted path (`"/app.js"`, `'./app.css'`,
/// `"/prefix/app_bg.wasm"`), in the order it first names them. Matching the site's own file
/// names, rather than pairing quotes, keeps an apostrophe in an inline script from hiding a
/// file.
pub fn named_files(html: &str, site: &Path) -> Vec<String> {
    let mut found: Vec<(usize, String)> = std::fs::read_dir(site)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry.file_type().ok()?.is_file().then_some(())?;
            let name = entry.file_name().into_string().ok()?;
            let at = html.match_indices(name.as_str()).find_map(|(at, _)| {
                let before = html[..at].chars().next_back()?;
                let after = html[at + name.len()..].chars().next()?;
                (matches!(before, '/' | '"' | '\'') && matches!(after, '"' | '\'')).then_some(at)
            })?;
            Some((at, name))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, name)| name).collect()
}

pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).map_err(|e| format!("gzip: {e}"))?;
    encoder.finish().map_err(|e| format!("gzip: {e}"))
}

pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    // Quality 11, a 4 MiB window (lgwin 22): what static precompression uses.
    let mut writer = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
    writer
        .write_all(bytes)
        .map_err(|e| format!("brotli: {e}"))?;
    writer.flush().map_err(|e| format!("brotli: {e}"))?;
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::PathBuf;

    use super::*;

    struct TempSite(PathBuf);

    impl Drop for TempSite {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn site(files: &[(&str, Vec<u8>)]) -> TempSite {
        let dir = std::env::temp_dir().join(format!(
            "cairn-bytes-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        TempSite(dir)
    }

    #[test]
    fn measures_the_page_what_it_names_and_what_the_app_fetches() {
        // What the page prefetches for the next page is not part of its own load.
        // The inline script's apostrophe must not hide what comes after it.
        let html = "<html><head><meta charset=\"utf-8\"><script>// Cairn's check</script>\
            <script src=\"/boot.js\"></script>\
            <script type=\"module\">import init from '/app.js';\
            await init({ module_or_path: '/app_bg.wasm' });</script>\
            <link rel=\"stylesheet\" href=\"./app.css\">\
            <link rel=\"preload\" href=\"/app_bg.wasm\"><a href=\"/missing.js\">x</a>\
            <link rel=\"prefetch\" href=\"/unused.js\" crossorigin=\"anonymous\" />\
            </head></html>";
        // xorshift64: bytes without a pattern to compress.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect();
        let s = site(&[
            ("index.html", html.as_bytes().to_vec()),
            ("boot.js", b"a".repeat(10_000)),
            ("app.js", b"export default function init() {}\n".repeat(100)),
            ("app_bg.wasm", noise),
            ("app.css", b"body{margin:0}".to_vec()),
            ("app.config.json", b"{}".to_vec()),
            ("unused.js", b"never loaded".to_vec()),
        ]);
        let load = first_load(&s.0, "index.html", &["app.config.json"]).unwrap();
        let names: Vec<&str> = load.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "index.html",
                "boot.js",
                "app.js",
                "app_bg.wasm",
                "app.css",
                "app.config.json"
            ]
        );
        let raw: Vec<u64> = load.files.iter().map(|f| f.raw).collect();
        assert_eq!(raw, [html.len() as u64, 10_000, 3_400, 4_000, 14, 2]);
        // Repetitive text shrinks to almost nothing; noise does not shrink.
        let boot = &load.files[1];
        assert!(boot.gzip < 100 && boot.brotli < 100, "{boot:?}");
        let wasm = &load.files[3];
        assert!(wasm.gzip >= 4_000 && wasm.brotli >= 4_000, "{wasm:?}");
        let total = load.total();
        assert_eq!(total.raw, raw.iter().sum::<u64>());
        assert_eq!(
            total.brotli,
            load.files.iter().map(|f| f.brotli).sum::<u64>()
        );
        assert!(load.table().lines().last().unwrap().starts_with("total"));

        assert!(load.within(total.brotli).is_ok());
        let over = load.within(total.brotli - 1).unwrap_err();
        assert!(over.contains("over the budget"), "{over}");
    }

    #[test]
    fn compressed_sizes_are_of_real_streams() {
        let text = b"Observation vital-signs 8480-6 systolic blood pressure ".repeat(50);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gzip(&text).unwrap().as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let mut back = Vec::new();
        brotli::Decompressor::new(brotli(&text).unwrap().as_slice(), 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn a_missing_page_is_an_error() {
        let s = site(&[("other.html", b"x".to_vec())]);
        assert!(first_load(&s.0, "index.html", &[]).is_err());
    }
}

//! `deploy check-config` (what `cargo xtask check-config` runs): every bad configuration is
//! refused with exit status 1 and a message that names the field and the fix, exactly as
//! written below; good ones pass, including the ones this repository ships.

use std::path::PathBuf;
use std::process::Command;

const SERVER: &str = r#"{"name":"Epic sandbox","client_id":"np-id","fhir_base":"https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4"}"#;
const REDIRECT: &str = r#""redirect_uri":"https://apps.example.org/cairn/""#;

/// Runs `deploy check-config` on `json` (with `args` after the file name): the exit status,
/// standard output and standard error, with the temporary file's path replaced by `FILE`.
fn check(json: &str, args: &[&str]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!("cairn-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{:016x}.json", hash(json, args)));
    std::fs::write(&file, json).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .arg("check-config")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let shown = file.display().to_string();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&shown, "FILE");
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

fn hash(json: &str, args: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (json, args).hash(&mut h);
    h.finish()
}

fn with_server(server: &str) -> String {
    format!(r#"{{{REDIRECT},"fhir_servers":[{server}]}}"#)
}

#[test]
fn each_bad_configuration_is_refused_with_its_message() {
    let cases: Vec<(&str, String, &[&str], &str)> = vec![
        (
            "not JSON",
            format!("{{{REDIRECT},"),
            &[],
            "it is not valid JSON (EOF while parsing a value at line 1 column 50)",
        ),
        (
            "an unknown key",
            format!(r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"redirect_url":"x"}}"#),
            &[],
            "unknown field `redirect_url`, expected one of `redirect_uri`, `scope`, \
             `fhir_servers`, `ehr_origins`, `brand_bundle` at line 1 column 197: remove it or \
             correct its spelling",
        ),
        (
            "an unknown key in a server",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","logo_url":"x"}"#,
            ),
            &[],
            "unknown field `logo_url`, expected one of `name`, `client_id`, \
             `epic_client_id_header`, `fhir_base`, `auth_origins`, `logo`, `scope`, `mrn`, `issuer`, \
             `redirect_uri` at line 1 column 141: remove it or correct its spelling",
        ),
        (
            "a value of the wrong type",
            format!(
                r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":"https://ehr.example"}}"#
            ),
            &[],
            "invalid type: string \"https://ehr.example\", expected a sequence at line 1 column 218",
        ),
        (
            "the client id at the top level (the old format)",
            format!(r#"{{"client_id":"c",{REDIRECT},"fhir_servers":[{SERVER}]}}"#),
            &[],
            "`client_id` is now set per server: remove it from the top level and give each entry \
             of `fhir_servers` its own `client_id` (Epic: the non-production id for test \
             servers, the production id for production ones)",
        ),
        (
            "an empty client id",
            with_server(r#"{"name":"E","client_id":" ","fhir_base":"https://e.example/fhir"}"#),
            &[],
            "`fhir_servers[0].client_id` is missing or empty: set it to the client id this EHR \
             registered for Cairn",
        ),
        (
            "a server without a client id",
            with_server(&format!(
                r#"{SERVER},{{"name":"Example Health","fhir_base":"https://epic.example.org/FHIR/R4"}}"#
            )),
            &[],
            "`fhir_servers[1].client_id` is missing or empty: set it to the client id this EHR \
             registered for Cairn",
        ),
        (
            "a server without a name",
            with_server(r#"{"client_id":"c","fhir_base":"https://e.example/fhir"}"#),
            &[],
            "`fhir_servers[0].name` is missing or empty: set it to the name people know this \
             health system by",
        ),
        (
            "no servers",
            format!(r#"{{{REDIRECT},"fhir_servers":[]}}"#),
            &[],
            "`fhir_servers` is empty: list at least one FHIR server Cairn may be launched from",
        ),
        (
            "an http: FHIR base outside localhost",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"http://ehr.example.org/fhir"}"#,
            ),
            &[],
            "`fhir_servers[0].fhir_base` \"http://ehr.example.org/fhir\" must be an absolute \
             https: URL (http: only on localhost) without user, query or fragment",
        ),
        (
            "a FHIR base listed twice",
            with_server(&format!(
                r#"{SERVER},{{"name":"Again","client_id":"c","fhir_base":"https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/"}}"#
            )),
            &[],
            "`fhir_servers[1].fhir_base` \
             \"https://fhir.epic.com/interconnect-fhir-oauth/api/FHIR/R4/\" is listed twice: \
             keep one entry per FHIR base",
        ),
        (
            "an authorization origin with a path",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","auth_origins":["https://e.example/oauth2"]}"#,
            ),
            &[],
            "`fhir_servers[0].auth_origins` entry \"https://e.example/oauth2\" is not an origin \
             like https://host",
        ),
        (
            "a logo that is not an https URL",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","logo":"http://cdn.example/e.png"}"#,
            ),
            &[],
            "`fhir_servers[0].logo` \"http://cdn.example/e.png\" must be an absolute https: URL \
             of an image (http: only on localhost)",
        ),
        (
            "an MRN rule that names no identifier",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","mrn":{"type_text":" "}}"#,
            ),
            &[],
            "`fhir_servers[0].mrn` names no identifier: set `type_text` (the identifier's type \
             text, e.g. \"MRN\" in Epic) or `system` (its system URI), or remove `mrn`",
        ),
        (
            "an MRN system that is not a URI",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","mrn":{"system":"1.2.840.114350"}}"#,
            ),
            &[],
            "`fhir_servers[0].mrn.system` \"1.2.840.114350\" is not a URI like \
             urn:oid:1.2.840.114350… or https://…: write the system of the MRN identifier exactly \
             as the EHR sends it",
        ),
        (
            "an MRN type text with a token separator",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","mrn":{"type_text":"MRN|"}}"#,
            ),
            &[],
            "`fhir_servers[0].mrn.type_text` \"MRN|\" must not contain `|`: write the \
             identifier's type text as the EHR sends it, e.g. \"MRN\"",
        ),
        (
            "an unknown key in an MRN rule",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","mrn":{"text":"MRN"}}"#,
            ),
            &[],
            "unknown field `text`, expected `type_text` or `system` at line 1 column 144: remove \
             it or correct its spelling",
        ),
        (
            "a relative redirect URI",
            format!(r#"{{"redirect_uri":"/cairn/","fhir_servers":[{SERVER}]}}"#),
            &[],
            "`redirect_uri` \"/cairn/\" must be an absolute https: URL without a fragment \
             (http: only on localhost)",
        ),
        (
            "an http: redirect URI outside localhost",
            format!(
                r#"{{"redirect_uri":"http://apps.example.org/cairn/","fhir_servers":[{SERVER}]}}"#
            ),
            &[],
            "`redirect_uri` \"http://apps.example.org/cairn/\" must be an absolute https: URL \
             without a fragment (http: only on localhost)",
        ),
        (
            "a redirect URI on another origin than the app",
            with_server(SERVER),
            &["--app-url", "https://cairn.example.org/cairn/"],
            "`redirect_uri` \"https://apps.example.org/cairn/\" is not where Cairn is served \
             from (https://cairn.example.org/cairn/): set it to \
             \"https://cairn.example.org/cairn/\" (or a path below it) and register that exact \
             URI with every EHR",
        ),
        (
            "a redirect URI outside the app's directory",
            with_server(SERVER),
            &["--app-url", "https://apps.example.org/cairn-v2/index.html"],
            "`redirect_uri` \"https://apps.example.org/cairn/\" is not where Cairn is served \
             from (https://apps.example.org/cairn-v2/index.html): set it to \
             \"https://apps.example.org/cairn-v2/\" (or a path below it) and register that exact \
             URI with every EHR",
        ),
        (
            "a release path that does not hold the redirect URI",
            with_server(SERVER),
            &["--public-url", "/cairn-v2/"],
            "`redirect_uri` \"https://apps.example.org/cairn/\" is not under the public URL \
             \"/cairn-v2/\": the sign-in would come back to a page that is not Cairn. Set it to \
             https://<your host>/cairn-v2/",
        ),
        (
            "a release path that is not a directory",
            with_server(SERVER),
            &["--public-url", "/cairn"],
            "the public URL \"/cairn\" must be a path that starts and ends with `/` (e.g. `/` or \
             `/cairn/`), made of letters, digits, `-`, `_`, `.` and `~`",
        ),
        (
            "an EHR origin with a path",
            format!(
                r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":["https://ehr.example/hyperspace"]}}"#
            ),
            &[],
            "`ehr_origins` entry \"https://ehr.example/hyperspace\" is not an origin like \
             https://ehr.example",
        ),
        (
            "a wildcard EHR origin",
            format!(r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":["*"]}}"#),
            &[],
            "`ehr_origins` entry \"*\" is not an origin like https://ehr.example",
        ),
        (
            "an http: brands bundle",
            format!(
                r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"brand_bundle":"http://brands.example/b.json"}}"#
            ),
            &[],
            "`brand_bundle` \"http://brands.example/b.json\" is not an https address (http only \
             on this machine)",
        ),
        (
            "offline_access",
            format!(r#"{{{REDIRECT},"scope":"launch offline_access","fhir_servers":[{SERVER}]}}"#),
            &[],
            "`scope` asks for \"offline_access\", more than Cairn needs: it only reads (`.rs` or \
             `.read`), never wildcards, and never `offline_access` (use `online_access`)",
        ),
        (
            "a write scope",
            format!(
                r#"{{{REDIRECT},"scope":"launch patient/Observation.cruds","fhir_servers":[{SERVER}]}}"#
            ),
            &[],
            "`scope` asks for \"patient/Observation.cruds\", more than Cairn needs: it only \
             reads (`.rs` or `.read`), never wildcards, and never `offline_access` (use \
             `online_access`)",
        ),
        (
            "a server's own scope that writes",
            with_server(
                r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","scope":"launch user/Patient.rs patient/Observation.write"}"#,
            ),
            &[],
            "`fhir_servers[0].scope` asks for \"patient/Observation.write\", more than Cairn \
             needs: it only reads (`.rs` or `.read`), never wildcards, and never \
             `offline_access` (use `online_access`)",
        ),
        (
            "a wildcard scope",
            format!(r#"{{{REDIRECT},"scope":"launch patient/*.read","fhir_servers":[{SERVER}]}}"#),
            &[],
            "`scope` asks for \"patient/*.read\", more than Cairn needs: it only reads (`.rs` or \
             `.read`), never wildcards, and never `offline_access` (use `online_access`)",
        ),
    ];
    let mut failures = Vec::new();
    for (what, json, args, message) in &cases {
        let (status, _, stderr) = check(json, args);
        let expected = format!("FILE: {message}\n");
        if status != 1 || stderr != expected {
            failures.push(format!(
                "{what}:\n  status {status}\n  got      {stderr:?}\n  expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_good_configuration_passes_and_shows_what_it_allows() {
    let json = format!(
        r#"{{{REDIRECT},"fhir_servers":[{SERVER},
        {{"name":"Example Health","client_id":"prod-id","fhir_base":"https://epic.example.org/FHIR/R4",
          "logo":"https://example.org/logo.svg"}}],"ehr_origins":["https://ehr.example.org"]}}"#
    );
    let (status, stdout, stderr) = check(&json, &["--app-url", "https://apps.example.org/cairn/"]);
    assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
    assert!(stdout.starts_with("FILE: valid\n"), "{stdout}");
    for expected in [
        "fhir_servers[0]: \"Epic sandbox\", client id \"np-id\"",
        "fhir_servers[1]: \"Example Health\", client id \"prod-id\", https://epic.example.org/FHIR/R4",
        "connect-src 'self' https://fhir.epic.com https://epic.example.org;",
        "img-src 'self' data: https://example.org;",
        "frame-ancestors https://ehr.example.org",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    // Without the app's address the redirect URI cannot be checked offline, and it says so.
    let (status, stdout, _) = check(&json, &[]);
    assert_eq!(status, 0);
    assert!(
        stdout.starts_with("note: `redirect_uri` was not compared"),
        "{stdout}"
    );
}

#[test]
fn an_empty_ehr_origins_is_a_warning_that_says_what_to_put_there() {
    for json in [
        with_server(SERVER),
        format!(r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":[]}}"#),
    ] {
        let (status, stdout, stderr) =
            check(&json, &["--app-url", "https://apps.example.org/cairn/"]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
        assert!(stdout.contains("frame-ancestors 'none'"), "{stdout}");
        assert!(
            stdout.ends_with(
                "WARNING: `ehr_origins` is empty, so no page may show Cairn in a frame \
                 (`frame-ancestors 'none'`).\n  An EHR launch from Epic Hyperspace or Hyperdrive \
                 opens Cairn in a frame of the organisation's\n  Hyperspace web server, and the \
                 browser then shows a blank or refused frame instead of Cairn.\n  Put the origin \
                 of each organisation's Hyperspace web server in `ehr_origins`, e.g.\n  \
                 \"ehr_origins\": [\"https://hyperspace.example.org\"] (the organisation's Epic \
                 analyst knows it;\n  Epic's Hyperdrive client testing harness shows it). Leave \
                 it empty only if Cairn is never\n  shown inside the EHR (standalone launches, or \
                 EHR launches that open a new browser window).\n"
            ),
            "{stdout}"
        );
    }
    // With an EHR origin: no warning.
    let json = format!(
        r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":["https://hyperspace.example.org"]}}"#
    );
    let (status, stdout, _) = check(&json, &[]);
    assert_eq!(status, 0);
    assert!(!stdout.contains("`ehr_origins` is empty"), "{stdout}");
    assert!(
        stdout.contains("frame-ancestors https://hyperspace.example.org"),
        "{stdout}"
    );
}

#[test]
fn a_path_on_a_shared_origin_is_a_loud_warning() {
    let warning = "WARNING: Cairn is to be served under /cairn/ on https://apps.example.org, not \
                   at the root of an origin of its own.\n";
    let json = format!(
        r#"{{{REDIRECT},"fhir_servers":[{SERVER}],"ehr_origins":["https://ehr.example.org"]}}"#
    );
    // Under a path: from --public-url, or from where the redirect URI leads.
    for args in [
        &["--app-url", "https://apps.example.org/cairn/"][..],
        &["--public-url", "/cairn/"][..],
        &[][..],
    ] {
        let (status, stdout, stderr) = check(&json, args);
        assert_eq!((status, stderr.as_str()), (0, ""), "{args:?}: {stdout}");
        assert!(stdout.contains(warning), "{args:?}: {stdout}");
        for why in [
            "read the\n  sign-in code from its address",
            "serve Cairn at the root of a\n  dedicated origin",
            "See docs/deploy.md.",
        ] {
            assert!(stdout.contains(why), "{why:?} missing: {stdout}");
        }
    }
    // At the root of its own origin: no warning.
    let json = r#"{"redirect_uri":"https://cairn.example.org/","fhir_servers":[SERVER],"ehr_origins":["https://ehr.example.org"]}"#
        .replace("SERVER", SERVER);
    for args in [&["--public-url", "/"][..], &[][..]] {
        let (status, stdout, _) = check(&json, args);
        assert_eq!(status, 0);
        assert!(!stdout.contains("WARNING"), "{args:?}: {stdout}");
    }
}

#[test]
fn a_server_s_own_scope_is_shown() {
    let json = with_server(
        r#"{"name":"E","client_id":"c","fhir_base":"https://e.example/fhir","scope":"launch  patient/Patient.read"}"#,
    );
    let (status, stdout, stderr) = check(&json, &[]);
    assert_eq!((status, stderr.as_str()), (0, ""), "{stdout}");
    assert!(
        stdout
            .contains("\n  fhir_servers[0].scope: launch patient/Patient.read (sent as written)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "\n  scope: launch openid fhirUser online_access patient/Patient.rs \
             patient/Encounter.rs patient/Observation.rs (in v1 form, `.read`, for servers whose \
             discovery does not list `permission-v2`)\n"
        ),
        "{stdout}"
    );
}

#[test]
fn the_configurations_in_this_repository_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (file, app_url) in [
        ("cairn.config.json", "http://127.0.0.1:8080/"),
        (
            "tests/dist/cairn.config.json",
            "http://127.0.0.1:18080/cairn/",
        ),
        (
            "docs/cairn.config.example.json",
            "https://apps.example.org/cairn/",
        ),
    ] {
        let json = std::fs::read_to_string(root.join(file)).unwrap();
        let (status, stdout, stderr) = check(&json, &["--app-url", app_url]);
        assert_eq!((status, stderr.as_str()), (0, ""), "{file}: {stdout}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_deploy"))
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("usage: deploy check-config"));
}

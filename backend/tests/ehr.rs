//! The companion against the development EHR on loopback: keys made by `keygen`, registered,
//! an export whose counts are the EHR's, and each refusal with its message.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_backend::assertion::{self, Alg};
use cairn_backend::client::Client;
use cairn_backend::{config, grant, keys};
use sandbox::{BackendClient, ClientKeys, Ehr, Fault};
use serde_json::Value;

const SCOPE: &str = "system/Patient.rs system/Encounter.rs system/Observation.rs";
/// The system of Synthea's MRN identifier (type `MR`).
const SYNTHEA_MRN_SYSTEM: &str = "http://hospital.smarthealthit.org";
/// The system of the generated patients' MRN.
const GENERATED_MRN_SYSTEM: &str = "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.0";

/// The EHR on a free loopback port, serving in the background.
async fn start(bundles: &[String]) -> Ehr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let ehr = Ehr::with_bundles(sandbox::Config::dev(port, 1), bundles);
    tokio::spawn(ehr.clone().serve(listener));
    ehr
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-backend-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn token_endpoint(ehr: &Ehr) -> String {
    format!("{}/oauth2/token", ehr.config().origin)
}

/// A configuration file in `dir` for `client_id` with `auth` (a TOML `[auth]` body).
fn write_config(
    ehr: &Ehr,
    dir: &Path,
    client_id: &str,
    mrn_system: &str,
    extra: &str,
    auth: &str,
) -> PathBuf {
    let path = dir.join("cairn-backend.toml");
    std::fs::write(
        &path,
        format!(
            "fhir_base = \"{}\"\nclient_id = \"{client_id}\"\nmrn_system = \"{mrn_system}\"\n{extra}\n[auth]\n{auth}\n",
            ehr.fhir_base()
        ),
    )
    .unwrap();
    path
}

/// A new key pair in `dir` registered inline for `client_id` with `scope`; the `[auth]` body.
fn register_key(ehr: &Ehr, dir: &Path, client_id: &str, alg: Alg, scope: &str) -> String {
    let written = keys::keygen(dir, alg).unwrap();
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(&written.jwks).unwrap()).unwrap();
    ehr.register_backend_client(BackendClient {
        client_id: client_id.into(),
        keys: ClientKeys::Jwks(jwks),
        scope: scope.into(),
    });
    key_auth(&written.kid, alg)
}

/// The `[auth]` body for the key `keygen` wrote, `kid`, of `alg`.
fn key_auth(kid: &str, alg: Alg) -> String {
    format!(
        "method = \"private_key_jwt\"\nkey = \"{}\"\nkid = \"{kid}\"\nalg = \"{}\"",
        keys::PRIVATE_KEY_FILE,
        alg.name()
    )
}

/// A scratch directory `name` with a new ES384 key registered for the client `svc` (all of
/// [`SCOPE`]) and its configuration, which finds patients by `mrn_system` and adds the lines
/// `extra`: the directory and the configuration's path.
fn svc_config(ehr: &Ehr, name: &str, mrn_system: &str, extra: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let auth = register_key(ehr, &dir, "svc", Alg::Es384, SCOPE);
    let config = write_config(ehr, &dir, "svc", mrn_system, extra, &auth);
    (dir, config)
}

/// Runs the `cairn-backend` binary.
async fn run(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_cairn-backend"))
            .args(&args)
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn client(path: &Path) -> Client {
    Client::new(config::load(path).unwrap()).unwrap()
}

/// The Synthea patient Alfreda Wyman: (id, MRN).
fn alfreda(ehr: &Ehr) -> (String, String) {
    let p = ehr
        .patients()
        .into_iter()
        .find(|p| p.name.starts_with("Alfreda"))
        .unwrap();
    (p.id, p.mrn)
}

/// How many of the patient's observations have one of `categories`.
fn observations_in(ehr: &Ehr, patient: &str, categories: &[&str]) -> usize {
    ehr.resources_of("Observation", patient)
        .iter()
        .filter(|o| {
            o["category"].as_array().into_iter().flatten().any(|c| {
                c["coding"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| categories.contains(&c["code"].as_str().unwrap_or_default()))
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn keygen_register_export_gives_what_the_ehr_holds() {
    let ehr = start(&[]).await;
    let dir = scratch("export");
    let keygen = run(
        vec!["keygen".into(), "--out".into(), dir.display().to_string()],
        vec![],
    )
    .await;
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("jwks.json")).unwrap()).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert!(text(&keygen.stdout).contains(&kid));
    ehr.register_backend_client(BackendClient {
        client_id: "exporter".into(),
        keys: ClientKeys::Jwks(jwks),
        scope: SCOPE.into(),
    });
    // No token endpoint: found by discovery.
    let config = write_config(
        &ehr,
        &dir,
        "exporter",
        SYNTHEA_MRN_SYSTEM,
        "",
        &format!(
            "method = \"private_key_jwt\"\nkey = \"private-key.pem\"\nkid = \"{kid}\"\nalg = \"ES384\""
        ),
    );
    let (id, mrn) = alfreda(&ehr);
    let out = dir.join("alfreda.ndjson");
    let export = run(
        vec![
            "export".into(),
            "--config".into(),
            config.display().to_string(),
            "--mrn".into(),
            mrn.clone(),
            "--out".into(),
            out.display().to_string(),
        ],
        vec![],
    )
    .await;
    let stderr = text(&export.stderr);
    assert!(export.status.success(), "{stderr}");
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |ty: &str| lines.iter().filter(|r| r["resourceType"] == ty).count();
    let categories = cairn::fhir::search::all_categories();
    let encounters = ehr.resources_of("Encounter", &id).len();
    let observations = observations_in(&ehr, &id, &categories);
    assert_eq!(count("Patient"), 1);
    assert_eq!(lines[0]["id"], id.as_str());
    assert_eq!(count("Encounter"), encounters);
    assert_eq!(count("Observation"), observations);
    assert!(observations > 50 && encounters > 5, "a real record");
    assert!(
        stderr.contains(&format!(
            "Patient 1, Encounter {encounters}, Observation {observations}"
        )),
        "{stderr}"
    );

    // The same as CSV: one row per observation.
    let csv_out = dir.join("alfreda.csv");
    let export = run(
        vec![
            "export".into(),
            "--config".into(),
            config.display().to_string(),
            "--mrn".into(),
            mrn,
            "--format".into(),
            "csv".into(),
            "--out".into(),
            csv_out.display().to_string(),
        ],
        vec![],
    )
    .await;
    assert!(export.status.success(), "{}", text(&export.stderr));
    let csv = std::fs::read_to_string(&csv_out).unwrap();
    assert!(csv.starts_with("date,code,display,value,unit,flag,encounter\r\n"));
    assert_eq!(csv.matches("\r\n").count(), observations + 1);

    // `token` shows the grant, never the token.
    let token = run(
        vec![
            "token".into(),
            "--config".into(),
            config.display().to_string(),
        ],
        vec![],
    )
    .await;
    let shown = text(&token.stdout);
    assert!(token.status.success(), "{}", text(&token.stderr));
    assert!(shown.contains(&format!("scope:      {SCOPE}")), "{shown}");
    assert!(shown.contains("expires in: 3600 s"), "{shown}");
    assert!(!shown.contains("AT-CANARY"), "{shown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A JWKS URL: a one-route HTTP server on loopback that serves `jwks` to every request.
async fn host_jwks(jwks: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let body = jwks.to_string();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rs384_key_registered_by_jwks_url() {
    let ehr = start(&[]).await;
    let dir = scratch("jwks-url");
    let written = keys::keygen(&dir, Alg::Rs384).unwrap();
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(&written.jwks).unwrap()).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    ehr.register_backend_client(BackendClient {
        client_id: "by-url".into(),
        keys: ClientKeys::JwksUrl(host_jwks(jwks).await),
        scope: SCOPE.into(),
    });
    let auth = key_auth(&written.kid, Alg::Rs384);
    let config = write_config(&ehr, &dir, "by-url", SYNTHEA_MRN_SYSTEM, "", &auth);
    let granted = client(&config).new_token().await.unwrap();
    assert_eq!(granted.scope, SCOPE);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Posts `assertion` to the token endpoint; the refusal as the companion words it.
async fn post_assertion(ehr: &Ehr, jwt: &str) -> Result<grant::Granted, String> {
    let req = grant::token_request(
        &token_endpoint(ehr),
        "svc",
        SCOPE,
        &grant::Credential::Assertion(jwt),
    );
    let resp = reqwest::Client::new()
        .post(&req.url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(req.body.clone().unwrap())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap().to_vec();
    grant::parse_token_response(
        &cairn::http::HttpResponse {
            status,
            content_type: Some("application/json".into()),
            body,
        },
        SCOPE,
        0.0,
    )
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn assertions_are_refused_with_their_reason() {
    let ehr = start(&[]).await;
    let dir = scratch("assertions");
    let auth = register_key(&ehr, &dir, "svc", Alg::Es384, SCOPE);
    let kid = auth
        .split("kid = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let key = keys::load(&dir.join(keys::PRIVATE_KEY_FILE), Alg::Es384).unwrap();
    let endpoint = token_endpoint(&ehr);
    let sign = |client: &str, aud: &str, now: u64, jti: &str| {
        assertion::assertion(&key, &kid, client, aud, now, jti)
    };
    let now = now_s();

    let good = sign("svc", &endpoint, now, "jti-1");
    assert!(post_assertion(&ehr, &good).await.is_ok());
    let reused = post_assertion(&ehr, &good).await.unwrap_err();
    assert!(
        reused.contains("invalid_client: the client assertion's jti was already used"),
        "{reused}"
    );

    let expired = post_assertion(&ehr, &sign("svc", &endpoint, now - 600, "jti-2"))
        .await
        .unwrap_err();
    assert!(
        expired.contains("invalid_client: the client assertion has expired"),
        "{expired}"
    );

    let far = post_assertion(&ehr, &sign("svc", &endpoint, now + 120, "jti-3"))
        .await
        .unwrap_err();
    assert!(far.contains("exp is more than five minutes ahead"), "{far}");

    let aud = post_assertion(&ehr, &sign("svc", &ehr.fhir_base(), now, "jti-4"))
        .await
        .unwrap_err();
    assert!(
        aud.contains(&format!("aud must be the token endpoint, {endpoint}")),
        "{aud}"
    );

    let unknown = post_assertion(&ehr, &sign("nobody", &endpoint, now, "jti-5"))
        .await
        .unwrap_err();
    assert!(
        unknown.contains("invalid_client: unknown client \"nobody\""),
        "{unknown}"
    );

    // Another key under the registered kid.
    let (_, other) = keys::generate(Alg::Es384).unwrap();
    let forged = assertion::assertion(&other, &kid, "svc", &endpoint, now, "jti-6");
    let wrong_key = post_assertion(&ehr, &forged).await.unwrap_err();
    assert!(
        wrong_key
            .contains("the client assertion's signature does not verify with the registered key"),
        "{wrong_key}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_clients_and_missing_scopes_are_refused() {
    let ehr = start(&[]).await;
    let dir = scratch("scopes");
    let auth = register_key(
        &ehr,
        &dir,
        "narrow",
        Alg::Es384,
        "system/Patient.rs system/Encounter.rs",
    );
    let config = write_config(&ehr, &dir, "narrow", SYNTHEA_MRN_SYSTEM, "", &auth);
    let missing = client(&config).new_token().await.unwrap_err();
    assert_eq!(
        missing,
        "the token endpoint refused: invalid_scope: this client is not registered for the \
         scope system/Observation.rs (ask the EHR to grant this scope, or ask for less)"
    );
    let config = write_config(&ehr, &dir, "unregistered", SYNTHEA_MRN_SYSTEM, "", &auth);
    let unknown = client(&config).new_token().await.unwrap_err();
    assert!(
        unknown.starts_with(
            "the token endpoint refused: invalid_client: unknown client \"unregistered\""
        ),
        "{unknown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mrn_must_name_exactly_one_patient() {
    // A second record with Alfreda's MRN, as a duplicate registration leaves.
    let bundle = serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "id": "alfreda-duplicate",
            "identifier": [{"type": {"coding": [{"code": "MR"}]},
                "system": SYNTHEA_MRN_SYSTEM,
                "value": "3287b938-4670-47eb-91e5-e0ce3df71405"}]}}]});
    let ehr = start(&[bundle.to_string()]).await;
    let (dir, config) = svc_config(&ehr, "mrn", SYNTHEA_MRN_SYSTEM, "");
    let mut client = client(&config);
    let two = client
        .export("3287b938-4670-47eb-91e5-e0ce3df71405", None, &mut |_, _| {})
        .await
        .err()
        .unwrap();
    let (id, _) = alfreda(&ehr);
    assert!(
        two.starts_with(&format!(
            "2 patients have the MRN \"3287b938-4670-47eb-91e5-e0ce3df71405\" (ids {id}, \
             alfreda-duplicate): an MRN must name one patient, so nothing was exported"
        )),
        "{two}"
    );
    let none = client
        .export("NO-SUCH-MRN", None, &mut |_, _| {})
        .await
        .err()
        .unwrap();
    assert!(
        none.starts_with("no patient has the MRN \"NO-SUCH-MRN\""),
        "{none}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_page_writes_nothing_and_all_pages_are_read_after() {
    let ehr = start(&[]).await;
    let (dir, config) = svc_config(
        &ehr,
        "page3",
        GENERATED_MRN_SYSTEM,
        "categories = [\"vital-signs\", \"laboratory\"]",
    );
    let out = dir.join("scale.ndjson");
    std::fs::write(&out, "the previous export\n").unwrap();
    ehr.inject(Fault::FhirFailOnPage3);
    let args = vec![
        "export".to_owned(),
        "--config".into(),
        config.display().to_string(),
        "--mrn".into(),
        "SCALE-0001".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let failed = run(args.clone(), vec![]).await;
    let stderr = text(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains("Observation (vital-signs) search, page 3: the EHR answered HTTP 500 (Page 3 is unavailable right now; try again.); nothing was written to"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "the previous export\n"
    );
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 4, "no temporary file left: {files:?}");

    // Page 3 works the second time: every page of 10 000 observations.
    let done = run(args, vec![]).await;
    assert!(done.status.success(), "{}", text(&done.stderr));
    let id = Ehr::scale_patient_id();
    let expected = observations_in(&ehr, id, &["vital-signs", "laboratory"]);
    let written = std::fs::read_to_string(&out).unwrap();
    let observations = written
        .lines()
        .filter(|l| l.contains("\"resourceType\":\"Observation\""))
        .count();
    assert_eq!(observations, expected);
    assert!(expected > 2 * 200, "more than two pages");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_as_retry_after_says_and_renews_a_token_after_a_401() {
    let ehr = start(&[]).await;
    let (dir, config) = svc_config(&ehr, "retry", SYNTHEA_MRN_SYSTEM, "");
    let (_, mrn) = alfreda(&ehr);
    let mut client = client(&config);

    ehr.inject(Fault::FhirTooManyRequests);
    let started = Instant::now();
    let exported = client.export(&mrn, None, &mut |_, _| {}).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two waits of Retry-After: 1"
    );
    assert_eq!(exported.collected.encounters.len(), 8);
    let patient_searches = ehr
        .requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/fhir/Patient?"))
        .count();
    assert_eq!(patient_searches, 3, "two 429s, then the answer");
    assert_eq!(client.token_requests, 1, "the token is kept");

    // Every token dies: the next read gets a 401, one new token and one retry.
    ehr.set_fault(None);
    ehr.expire_access_tokens();
    let exported = client.export(&mrn, None, &mut |_, _| {}).await.unwrap();
    assert_eq!(exported.collected.encounters.len(), 8);
    assert_eq!(client.token_requests, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_secret_comes_from_the_environment() {
    let ehr = start(&[]).await;
    let dir = scratch("secret");
    ehr.register_backend_client(BackendClient {
        client_id: "gateway".into(),
        keys: ClientKeys::Secret("s3cret:with+odd&chars".into()),
        scope: SCOPE.into(),
    });
    for method in ["client_secret_basic", "client_secret_post"] {
        let config = write_config(
            &ehr,
            &dir,
            "gateway",
            SYNTHEA_MRN_SYSTEM,
            &format!("token_endpoint = \"{}\"", token_endpoint(&ehr)),
            &format!("method = \"{method}\"\nsecret_env = \"GATEWAY_SECRET\""),
        );
        let args = vec![
            "token".to_owned(),
            "--config".into(),
            config.display().to_string(),
        ];
        let ok = run(
            args.clone(),
            vec![("GATEWAY_SECRET".into(), "s3cret:with+odd&chars".into())],
        )
        .await;
        assert!(ok.status.success(), "{method}: {}", text(&ok.stderr));
        assert!(text(&ok.stdout).contains(SCOPE));

        let shown = run(
            vec![
                "token".to_owned(),
                "--config".into(),
                config.display().to_string(),
                "--show-token".into(),
            ],
            vec![("GATEWAY_SECRET".into(), "s3cret:with+odd&chars".into())],
        )
        .await;
        assert!(text(&shown.stdout).contains("token:      AT-CANARY-"));

        let wrong = run(
            args.clone(),
            vec![("GATEWAY_SECRET".into(), "guess".into())],
        )
        .await;
        assert!(!wrong.status.success());
        assert!(
            text(&wrong.stderr).contains("invalid_client: the client secret is wrong"),
            "{method}: {}",
            text(&wrong.stderr)
        );

        let unset = run(args, vec![]).await;
        assert!(
            text(&unset.stderr)
                .contains("the environment variable GATEWAY_SECRET (`auth.secret_env`) is not set"),
            "{}",
            text(&unset.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_cannot_obtain_a_system_scope() {
    let ehr = start(&[]).await;
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id=cairn-dev&redirect_uri={}&scope=system/Patient.rs&state=s&aud={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        ehr.config().origin,
        sandbox::url_encode(&ehr.config().redirect_uri),
        sandbox::url_encode(&ehr.fhir_base()),
    );
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("error=invalid_scope"), "{location}");
}

#[tokio::test(flavor = "multi_thread")]
async fn since_keeps_the_records_from_that_day_on() {
    let ehr = start(&[]).await;
    let (dir, config) = svc_config(&ehr, "since", SYNTHEA_MRN_SYSTEM, "");
    let (_, mrn) = alfreda(&ehr);
    let mut client = client(&config);
    let all = client.export(&mrn, None, &mut |_, _| {}).await.unwrap();
    let dates: Vec<&str> = all
        .collected
        .observations
        .iter()
        .filter_map(|o| o["effectiveDateTime"].as_str())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    // A day in the middle of the record.
    let since = &sorted[sorted.len() / 2][..10];
    let recent = client
        .export(&mrn, Some(since), &mut |_, _| {})
        .await
        .unwrap();
    let expected = dates.iter().filter(|d| d[..10] >= *since).count();
    assert_eq!(recent.collected.observations.len(), expected);
    assert!(expected > 0 && expected < dates.len(), "{since}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_from_the_ehr_in_epic_mode() {
    let ehr = start(&[]).await;
    ehr.set_epic_mode(true);
    // Epic's MRN: type text "MRN", an OID system.
    let (dir, config) = svc_config(
        &ehr,
        "epic",
        "urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14",
        "",
    );
    let (id, mrn) = alfreda(&ehr);
    let exported = client(&config)
        .export(&mrn, None, &mut |_, _| {})
        .await
        .unwrap();
    let categories = cairn::fhir::search::all_categories();
    assert_eq!(exported.patient_id, id);
    assert_eq!(
        exported.collected.encounters.len(),
        ehr.resources_of("Encounter", &id).len()
    );
    assert_eq!(
        exported.collected.observations.len(),
        observations_in(&ehr, &id, &categories)
    );
    assert!(exported.collected.observations.len() > 50);
    assert_eq!(exported.other_patients, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

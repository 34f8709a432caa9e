//! How the page was opened, read from its query string.

use crate::domain::problem::{NextStep, Problem};

/// The three ways into Cairn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Opened by an EHR with `iss` (its FHIR base) and an opaque `launch`.
    EhrLaunch { iss: String, launch: String },
    /// Back from the authorization server.
    Callback(CallbackParams),
    /// An instance that had signed in was loaded again (reload, Back). Its token lived only in
    /// that page's memory, so it is gone: the user must relaunch. Never another instance's data.
    Reloaded { instance: String },
    /// Opened directly, without launch parameters.
    Standalone,
}

/// The callback's parameters, as received. `iss` here is RFC 9207's authorization-server
/// issuer, never the FHIR base.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("the launch link has `{0}` more than once")]
    Duplicated(&'static str),
    #[error("the launch link has no `{0}`")]
    Missing(&'static str),
}

impl LaunchError {
    pub fn problem(&self) -> Problem {
        Problem::new(
            "This launch link is not valid",
            format!("Cairn cannot start from it: {self}."),
            NextStep::Relaunch,
        )
    }
}

/// The query parameter naming a signed-in instance, e.g. `?instance=…`.
pub const INSTANCE_PARAM: &str = "instance";

const NAMES: [&str; 7] = [
    "iss",
    "launch",
    "code",
    "state",
    "error",
    "error_description",
    INSTANCE_PARAM,
];

pub fn parse_entry(query: &str) -> Result<Entry, LaunchError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut found: [Option<String>; 7] = Default::default();
    for (name, value) in crate::uri::parse_form(query) {
        let Some(slot) = NAMES.iter().position(|n| *n == name) else {
            continue;
        };
        if found[slot].is_some() {
            return Err(LaunchError::Duplicated(NAMES[slot]));
        }
        found[slot] = Some(value);
    }
    let [iss, launch, code, state, error, error_description, instance] = found;
    if code.is_some() || state.is_some() || error.is_some() {
        return Ok(Entry::Callback(CallbackParams {
            state,
            code,
            error,
            error_description,
            iss,
        }));
    }
    match (
        iss.filter(|s| !s.is_empty()),
        launch.filter(|s| !s.is_empty()),
    ) {
        (Some(iss), Some(launch)) => Ok(Entry::EhrLaunch { iss, launch }),
        (Some(_), None) => Err(LaunchError::Missing("launch")),
        (None, Some(_)) => Err(LaunchError::Missing("iss")),
        (None, None) => Ok(match instance.filter(|s| !s.is_empty()) {
            Some(instance) => Entry::Reloaded { instance },
            None => Entry::Standalone,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehr(iss: &str, launch: &str) -> Entry {
        Entry::EhrLaunch {
            iss: iss.into(),
            launch: launch.into(),
        }
    }

    #[test]
    fn entries() {
        let cases: &[(&str, Result<Entry, LaunchError>)] = &[
            ("", Ok(Entry::Standalone)),
            ("?", Ok(Entry::Standalone)),
            ("?utm=x", Ok(Entry::Standalone)),
            (
                "?launch=abc&iss=https%3A%2F%2Fehr.example%2Ffhir",
                Ok(ehr("https://ehr.example/fhir", "abc")),
            ),
            (
                "iss=https://e/fhir&launch=x",
                Ok(ehr("https://e/fhir", "x")),
            ),
            ("?iss=https://e/fhir", Err(LaunchError::Missing("launch"))),
            (
                "?iss=https://e/fhir&launch=",
                Err(LaunchError::Missing("launch")),
            ),
            ("?launch=x", Err(LaunchError::Missing("iss"))),
            ("?iss=a&iss=b&launch=x", Err(LaunchError::Duplicated("iss"))),
            (
                "?iss=a&launch=x&launch=y",
                Err(LaunchError::Duplicated("launch")),
            ),
            (
                "?code=1&code=2&state=s",
                Err(LaunchError::Duplicated("code")),
            ),
            (
                "?code=1&state=s&state=t",
                Err(LaunchError::Duplicated("state")),
            ),
            (
                "?instance=abc",
                Ok(Entry::Reloaded {
                    instance: "abc".into(),
                }),
            ),
            ("?instance=", Ok(Entry::Standalone)),
            (
                "?instance=a&instance=b",
                Err(LaunchError::Duplicated("instance")),
            ),
            (
                "?instance=a&launch=x&iss=https://e/fhir",
                Ok(ehr("https://e/fhir", "x")),
            ),
            (
                "?code=c1&state=s1",
                Ok(Entry::Callback(CallbackParams {
                    state: Some("s1".into()),
                    code: Some("c1".into()),
                    ..Default::default()
                })),
            ),
            (
                "?error=access_denied&error_description=No+thanks&state=s&iss=https%3A%2F%2Fas",
                Ok(Entry::Callback(CallbackParams {
                    state: Some("s".into()),
                    error: Some("access_denied".into()),
                    error_description: Some("No thanks".into()),
                    iss: Some("https://as".into()),
                    ..Default::default()
                })),
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(&parse_entry(query), expected, "query {query:?}");
        }
    }

    #[test]
    fn long_launch_tokens_are_kept_whole() {
        let jwt = "eyJ".to_owned() + &"a".repeat(3000);
        let query = format!("?iss=https://e/fhir&launch={jwt}");
        assert_eq!(parse_entry(&query), Ok(ehr("https://e/fhir", &jwt)));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = crate::testing::SplitMix(7);
        for _ in 0..5000 {
            let len = (rng.next() % 64) as usize;
            let alphabet = b"?&=%iscodelaunchstate\xff\x00";
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse_entry(&String::from_utf8_lossy(&bytes));
        }
    }
}

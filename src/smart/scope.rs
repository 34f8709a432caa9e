//! Scopes: what Cairn asks for in each kind of launch, and what the granted scope allows.
//!
//! The token response's `scope` is the truth: a server may grant less than asked, in SMART v1
//! (`patient/Observation.read`) or v2 (`patient/Observation.rs`, with `?category=` filters)
//! form. Each view of the chart is enabled only when the granted scope lets Cairn read what
//! it shows; a missing permission disables that view with a message instead of failing later.

use serde::{Deserialize, Serialize};

/// How Cairn was opened, which decides the context scopes it asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaunchKind {
    /// Opened by the EHR with `launch` and `iss`: `launch` scope, patient-level data.
    Ehr,
    /// A patient opened Cairn and picked their health system: `launch/patient`.
    StandalonePatient,
    /// A clinician opened Cairn outside the EHR: no patient in context, user-level data, and
    /// Cairn searches for the patient.
    StandaloneProvider,
}

/// The scope to request for `kind`, from the configured scope (written for an EHR launch:
/// `launch … patient/X.rs`). Context scopes are replaced to fit the launch; for a clinician's
/// standalone launch, `patient/` data scopes become `user/` ones.
pub fn requested_scope(configured: &str, kind: LaunchKind) -> String {
    let mut out: Vec<String> = Vec::new();
    let context = match kind {
        LaunchKind::Ehr => Some("launch"),
        LaunchKind::StandalonePatient => Some("launch/patient"),
        LaunchKind::StandaloneProvider => None,
    };
    out.extend(context.map(str::to_owned));
    for s in configured.split_whitespace() {
        if s == "launch" || s.starts_with("launch/") {
            continue;
        }
        let s = match (kind, s.strip_prefix("patient/")) {
            (LaunchKind::StandaloneProvider, Some(rest)) => format!("user/{rest}"),
            _ => s.to_owned(),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(" ")
}

/// The granted scope, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    scopes: Vec<String>,
}

/// Whose data a resource scope covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `patient/…`: the patient in context.
    Patient,
    /// `user/…`: whatever the signed-in user may see.
    User,
}

impl Grants {
    pub fn parse(scope: &str) -> Grants {
        Grants {
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
        }
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// True when some granted scope lets Cairn read (and search) `resource_type` at `level`.
    /// A v2 scope with a query filter (`?category=laboratory`) still counts: the server
    /// filters, and Cairn shows what it is given.
    pub fn can_read(&self, level: Level, resource_type: &str) -> bool {
        let prefixes: &[&str] = match level {
            Level::Patient => &["patient/"],
            // A user-level scope reaches the patient in context too, but not the reverse.
            Level::User => &["user/"],
        };
        self.scopes.iter().any(|scope| {
            let Some(rest) = prefixes.iter().find_map(|p| scope.strip_prefix(p)) else {
                return false;
            };
            let rest = rest.split('?').next().unwrap_or(rest);
            let Some((ty, perms)) = rest.split_once('.') else {
                return false;
            };
            (ty == resource_type || ty == "*") && permits_read(perms)
        })
    }

    /// Read access to the patient in context, from a patient- or user-level scope.
    pub fn can_read_in_context(&self, resource_type: &str) -> bool {
        self.can_read(Level::Patient, resource_type) || self.can_read(Level::User, resource_type)
    }
}

/// v1 `read`/`*`, or v2 permissions (`cruds` order) that include both `r` and `s`.
fn permits_read(perms: &str) -> bool {
    match perms {
        "read" | "*" => true,
        v2 => {
            let valid = !v2.is_empty() && v2.bytes().all(|b| b"cruds".contains(&b));
            valid && v2.contains('r') && v2.contains('s')
        }
    }
}

/// The parts of the chart, each needing its own read permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Banner,
    Encounters,
    Observations,
    PatientSearch,
}

impl View {
    pub fn resource_type(self) -> &'static str {
        match self {
            View::Banner | View::PatientSearch => "Patient",
            View::Encounters => "Encounter",
            View::Observations => "Observation",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            View::Banner => "patient details",
            View::Encounters => "encounters",
            View::Observations => "observations (vital signs and results)",
            View::PatientSearch => "patient search",
        }
    }

    /// Whether `grants` allows this view.
    pub fn allowed(self, grants: &Grants) -> bool {
        match self {
            View::PatientSearch => grants.can_read(Level::User, "Patient"),
            other => grants.can_read_in_context(other.resource_type()),
        }
    }

    /// The message shown in place of a view the granted scope does not allow.
    pub fn not_granted_message(self) -> String {
        format!(
            "Your EHR did not give Cairn permission to read {}. Ask your administrator to \
             allow it, or sign in again and grant it.",
            self.label()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIGURED: &str = "launch openid fhirUser online_access patient/Patient.rs patient/Encounter.rs patient/Observation.rs";

    #[test]
    fn each_launch_asks_for_its_own_context() {
        assert_eq!(requested_scope(CONFIGURED, LaunchKind::Ehr), CONFIGURED);
        assert_eq!(
            requested_scope(CONFIGURED, LaunchKind::StandalonePatient),
            "launch/patient openid fhirUser online_access patient/Patient.rs patient/Encounter.rs patient/Observation.rs"
        );
        assert_eq!(
            requested_scope(CONFIGURED, LaunchKind::StandaloneProvider),
            "openid fhirUser online_access user/Patient.rs user/Encounter.rs user/Observation.rs"
        );
        // A configuration without `launch` still gets it for an EHR launch, once.
        assert_eq!(
            requested_scope("patient/Patient.rs launch/patient", LaunchKind::Ehr),
            "launch patient/Patient.rs"
        );
        // Nothing Cairn does not ask for appears, whatever the kind.
        for kind in [
            LaunchKind::Ehr,
            LaunchKind::StandalonePatient,
            LaunchKind::StandaloneProvider,
        ] {
            assert!(!requested_scope(CONFIGURED, kind).contains("offline_access"));
            assert!(!requested_scope(CONFIGURED, kind).contains("*"));
        }
    }

    #[test]
    fn read_permission_in_v1_and_v2() {
        let cases: &[(&str, Level, &str, bool)] = &[
            (
                "patient/Observation.rs",
                Level::Patient,
                "Observation",
                true,
            ),
            (
                "patient/Observation.read",
                Level::Patient,
                "Observation",
                true,
            ),
            ("patient/*.read", Level::Patient, "Observation", true),
            ("patient/*.*", Level::Patient, "Encounter", true),
            (
                "patient/Observation.cruds",
                Level::Patient,
                "Observation",
                true,
            ),
            (
                "patient/Observation.rs?category=laboratory",
                Level::Patient,
                "Observation",
                true,
            ),
            // Read without search cannot list observations.
            (
                "patient/Observation.r",
                Level::Patient,
                "Observation",
                false,
            ),
            (
                "patient/Observation.write",
                Level::Patient,
                "Observation",
                false,
            ),
            (
                "patient/Observation.xyz",
                Level::Patient,
                "Observation",
                false,
            ),
            ("patient/Observation.", Level::Patient, "Observation", false),
            ("patient/Encounter.rs", Level::Patient, "Observation", false),
            ("user/Patient.rs", Level::Patient, "Patient", false),
            ("user/Patient.rs", Level::User, "Patient", true),
            ("patient/Patient.rs", Level::User, "Patient", false),
            ("Patient.rs", Level::Patient, "Patient", false),
            ("", Level::Patient, "Patient", false),
        ];
        for (scope, level, ty, want) in cases {
            assert_eq!(
                Grants::parse(scope).can_read(*level, ty),
                *want,
                "{scope} {level:?} {ty}"
            );
        }
    }

    #[test]
    fn views_follow_the_granted_scope() {
        let granted = Grants::parse("launch openid patient/Patient.rs patient/Observation.read");
        assert!(View::Banner.allowed(&granted));
        assert!(View::Observations.allowed(&granted));
        assert!(!View::Encounters.allowed(&granted));
        assert!(!View::PatientSearch.allowed(&granted));
        assert!(
            View::Encounters
                .not_granted_message()
                .contains("encounters")
        );
        let clinician = Grants::parse("openid user/Patient.rs user/Encounter.rs");
        assert!(View::PatientSearch.allowed(&clinician));
        assert!(View::Banner.allowed(&clinician));
        assert!(View::Encounters.allowed(&clinician));
        assert!(!View::Observations.allowed(&clinician));
    }
}

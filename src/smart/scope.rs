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

/// The scope syntax a server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSyntax {
    /// SMART v1: `patient/Observation.read`. What a server speaks unless discovery lists
    /// `permission-v2` (Epic before August 2024 refuses v2 scopes with `invalid_scope`).
    V1,
    /// SMART v2: `patient/Observation.rs`, with `?category=` filters.
    V2,
    /// A per-server `scope` from the configuration: the deployer wrote it for that server, so it
    /// is sent as written, never translated.
    AsWritten,
}

/// The scope to request for `kind`, from the configured scope (written for an EHR launch in v2
/// form: `launch … patient/X.rs`). Context scopes are replaced to fit the launch; for a
/// clinician's standalone launch, `patient/` data scopes become `user/` ones; for a v1 server,
/// v2 permissions become v1 ones (`.rs` → `.read`).
pub fn requested_scope(configured: &str, kind: LaunchKind, syntax: ScopeSyntax) -> String {
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
        let translated = match syntax {
            ScopeSyntax::V1 => to_v1(&s),
            ScopeSyntax::V2 | ScopeSyntax::AsWritten => vec![s],
        };
        for s in translated {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out.join(" ")
}

/// A v2 resource scope in v1 form: `r`/`s` → `read`, `c`/`u`/`d` → `write`. v1 has no query
/// filters, so `?category=laboratory` is dropped: on Epic, which categories are granted is
/// decided by the Observation APIs registered on the app. Anything else is kept as it is.
fn to_v1(scope: &str) -> Vec<String> {
    let Some((prefix, rest)) = scope.split_once('/') else {
        return vec![scope.to_owned()];
    };
    if !matches!(prefix, "patient" | "user" | "system") {
        return vec![scope.to_owned()];
    }
    let rest = rest.split('?').next().unwrap_or(rest);
    let Some((ty, perms)) = rest.split_once('.') else {
        return vec![scope.to_owned()];
    };
    if perms.is_empty() || !perms.bytes().all(|b| b"cruds".contains(&b)) {
        return vec![scope.to_owned()];
    }
    let mut out = Vec::new();
    if perms.contains(['r', 's']) {
        out.push(format!("{prefix}/{ty}.read"));
    }
    if perms.contains(['c', 'u', 'd']) {
        out.push(format!("{prefix}/{ty}.write"));
    }
    out
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

/// What Cairn does with a resource type: read one by id, or search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `GET [base]/Type/id`: v2 `r`.
    Read,
    /// `GET [base]/Type?…`: v2 `s`.
    Search,
}

/// What one granted resource scope says.
struct ResourceScope<'a> {
    /// `None` for Epic's unprefixed form (`Patient.read`).
    level: Option<Level>,
    resource_type: &'a str,
    read: bool,
    search: bool,
}

/// Reads one granted scope, in any form a server sends:
/// - v1 `patient/Observation.read`, with the permission in any case (`user/Observation.Read`)
///   and the level too (`User/…`); `*` and `write` as v1 defines them;
/// - v2 `patient/Observation.rs`, `.r` and `.s` alone, `.cruds`, with `?…` filters (the server
///   filters, and Cairn shows what it is given);
/// - Epic's unprefixed form from its specification's sample, `Patient.read Patient.search`:
///   the names of the APIs registered on the app, with `search` meaning search only;
/// - `*` as the resource type.
///
/// Anything else (`launch`, `openid`, an unknown permission) is not a resource scope.
fn resource_scope(scope: &str) -> Option<ResourceScope<'_>> {
    let (level, rest) = match scope.split_once('/') {
        None => (None, scope),
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case("patient") => {
            (Some(Level::Patient), rest)
        }
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case("user") => (Some(Level::User), rest),
        Some(_) => return None,
    };
    let rest = rest.split('?').next().unwrap_or(rest);
    let (resource_type, perms) = rest.split_once('.')?;
    let is_type = resource_type == "*"
        || (resource_type.starts_with(|c: char| c.is_ascii_uppercase())
            && resource_type.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !is_type {
        return None;
    }
    let perms = perms.to_ascii_lowercase();
    let (read, search) = match perms.as_str() {
        "read" | "*" => (true, true),
        "write" => (false, false),
        "search" => (false, true),
        v2 if !v2.is_empty() && v2.bytes().all(|b| b"cruds".contains(&b)) => {
            (v2.contains('r'), v2.contains('s'))
        }
        _ => return None,
    };
    Some(ResourceScope {
        level,
        resource_type,
        read,
        search,
    })
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

    /// True when the granted scopes, taken together, allow `access` to `resource_type` at
    /// `level`: v2 `.r` and `.s` may come as separate scopes. A user-level scope reaches the
    /// patient in context too ([`Grants::can_read_in_context`]), but not the reverse.
    ///
    /// Epic's unprefixed scopes (`Patient.read`) name the APIs registered on the app, not a
    /// level: whose data they reach is decided by who signed in (a clinician's access, or a
    /// patient's own record), and the server enforces it. They count at every level, so they
    /// serve whichever launch was made.
    pub fn allows(&self, level: Level, resource_type: &str, access: Access) -> bool {
        self.scopes
            .iter()
            .filter_map(|s| resource_scope(s))
            .any(|s| {
                s.level.is_none_or(|l| l == level)
                    && (s.resource_type == resource_type || s.resource_type == "*")
                    && match access {
                        Access::Read => s.read,
                        Access::Search => s.search,
                    }
            })
    }

    /// True when Cairn may both read and search `resource_type` at `level`.
    pub fn can_read(&self, level: Level, resource_type: &str) -> bool {
        self.allows(level, resource_type, Access::Read)
            && self.allows(level, resource_type, Access::Search)
    }

    /// Read and search access to the patient in context, from patient- or user-level scopes
    /// (`patient/Observation.r` with `user/Observation.s` will do).
    pub fn can_read_in_context(&self, resource_type: &str) -> bool {
        self.allows_in_context(resource_type, Access::Read)
            && self.allows_in_context(resource_type, Access::Search)
    }

    /// `access` to the patient in context, from a patient- or user-level scope.
    pub fn allows_in_context(&self, resource_type: &str, access: Access) -> bool {
        self.allows(Level::Patient, resource_type, access)
            || self.allows(Level::User, resource_type, access)
    }
}

/// Resource types a signed-in user's own resource (`fhirUser`) may be read as, to show a name.
const USER_TYPES: [&str; 4] = ["Practitioner", "Patient", "RelatedPerson", "Person"];

impl Grants {
    /// Whether Cairn may read the signed-in user's own resource, `resource_type/id` (their
    /// `fhirUser`), to show their name: with a user-level read of its type (v2
    /// `user/Practitioner.r`, v1 `user/Practitioner.read`, Epic's `Practitioner.read`), or a
    /// patient-level one when the user is the patient in context or a RelatedPerson (in the
    /// patient's compartment). Other types (PractitionerRole has no name) are never read.
    pub fn may_read_user(
        &self,
        resource_type: &str,
        id: &str,
        patient_in_context: Option<&str>,
    ) -> bool {
        if !USER_TYPES.contains(&resource_type) {
            return false;
        }
        let in_compartment = match resource_type {
            "Patient" => patient_in_context == Some(id),
            "RelatedPerson" => true,
            _ => false,
        };
        self.allows(Level::User, resource_type, Access::Read)
            || (in_compartment && self.allows(Level::Patient, resource_type, Access::Read))
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

    /// Whether `grants` allows this view. The banner only reads the patient by id (v2 `r`);
    /// the other views search, and read what they find, so they need `r` and `s`.
    pub fn allowed(self, grants: &Grants) -> bool {
        match self {
            View::Banner => grants.allows_in_context("Patient", Access::Read),
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

    #[test]
    fn the_signed_in_users_own_resource_is_read_only_when_the_scope_allows_it() {
        let cases: &[(&str, &str, &str, bool)] = &[
            // v2, v1 in any case, Epic's unprefixed form.
            (
                "openid fhirUser user/Practitioner.rs",
                "Practitioner",
                "p1",
                true,
            ),
            (
                "openid fhirUser user/Practitioner.r",
                "Practitioner",
                "p1",
                true,
            ),
            ("user/Practitioner.s", "Practitioner", "p1", false),
            ("user/Practitioner.read", "Practitioner", "p1", true),
            ("user/Practitioner.Read", "Practitioner", "p1", true),
            ("Practitioner.read", "Practitioner", "p1", true),
            ("Practitioner.search", "Practitioner", "p1", false),
            ("user/*.read", "Practitioner", "p1", true),
            // The fhirUser scope alone, or other resources' scopes, allow nothing.
            ("openid fhirUser", "Practitioner", "p1", false),
            (
                "launch openid fhirUser patient/Patient.rs patient/Encounter.rs patient/Observation.rs",
                "Practitioner",
                "p1",
                false,
            ),
            // A patient-level scope reaches only what is in the patient's compartment.
            ("patient/Practitioner.rs", "Practitioner", "p1", false),
            ("patient/Patient.rs", "Patient", "pat", true),
            ("patient/Patient.rs", "Patient", "other", false),
            ("user/Patient.rs", "Patient", "other", true),
            ("patient/RelatedPerson.read", "RelatedPerson", "r1", true),
            ("user/Person.rs", "Person", "x", true),
            // PractitionerRole has no name of its own.
            ("user/PractitionerRole.rs", "PractitionerRole", "r", false),
            ("user/*.rs", "PractitionerRole", "r", false),
        ];
        for &(scope, ty, id, allowed) in cases {
            assert_eq!(
                Grants::parse(scope).may_read_user(ty, id, Some("pat")),
                allowed,
                "{scope} → {ty}/{id}"
            );
        }
        assert!(!Grants::parse("patient/Patient.rs").may_read_user("Patient", "pat", None));
    }

    const CONFIGURED: &str = "launch openid fhirUser online_access patient/Patient.rs patient/Encounter.rs patient/Observation.rs";

    #[test]
    fn each_launch_asks_for_its_own_context() {
        let v2 = |kind| requested_scope(CONFIGURED, kind, ScopeSyntax::V2);
        assert_eq!(v2(LaunchKind::Ehr), CONFIGURED);
        assert_eq!(
            v2(LaunchKind::StandalonePatient),
            "launch/patient openid fhirUser online_access patient/Patient.rs patient/Encounter.rs patient/Observation.rs"
        );
        assert_eq!(
            v2(LaunchKind::StandaloneProvider),
            "openid fhirUser online_access user/Patient.rs user/Encounter.rs user/Observation.rs"
        );
        // A configuration without `launch` still gets it for an EHR launch, once.
        assert_eq!(
            requested_scope(
                "patient/Patient.rs launch/patient",
                LaunchKind::Ehr,
                ScopeSyntax::V2
            ),
            "launch patient/Patient.rs"
        );
        // Nothing Cairn does not ask for appears, whatever the kind and the syntax.
        for kind in [
            LaunchKind::Ehr,
            LaunchKind::StandalonePatient,
            LaunchKind::StandaloneProvider,
        ] {
            for syntax in [ScopeSyntax::V1, ScopeSyntax::V2, ScopeSyntax::AsWritten] {
                let scope = requested_scope(CONFIGURED, kind, syntax);
                assert!(!scope.contains("offline_access"), "{scope}");
                assert!(!scope.contains('*'), "{scope}");
                assert!(!scope.contains("write"), "{scope}");
            }
        }
    }

    #[test]
    fn v1_servers_are_asked_in_v1_form() {
        let cases: &[(&str, LaunchKind, &str)] = &[
            (
                CONFIGURED,
                LaunchKind::Ehr,
                "launch openid fhirUser online_access patient/Patient.read patient/Encounter.read patient/Observation.read",
            ),
            (
                CONFIGURED,
                LaunchKind::StandalonePatient,
                "launch/patient openid fhirUser online_access patient/Patient.read patient/Encounter.read patient/Observation.read",
            ),
            (
                CONFIGURED,
                LaunchKind::StandaloneProvider,
                "openid fhirUser online_access user/Patient.read user/Encounter.read user/Observation.read",
            ),
            // `.r` and `.s` alone, and a filter v1 cannot express: one `.read` each.
            (
                "launch patient/Patient.r patient/Patient.s patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs",
                LaunchKind::Ehr,
                "launch patient/Patient.read patient/Observation.read",
            ),
            // Already v1: unchanged.
            (
                "launch patient/Patient.read",
                LaunchKind::Ehr,
                "launch patient/Patient.read",
            ),
            // Not resource scopes: unchanged.
            (
                "launch openid fhirUser profile",
                LaunchKind::Ehr,
                "launch openid fhirUser profile",
            ),
        ];
        for (configured, kind, want) in cases {
            assert_eq!(
                requested_scope(configured, *kind, ScopeSyntax::V1),
                *want,
                "{configured} {kind:?}"
            );
        }
        assert_eq!(
            to_v1("user/Observation.cruds"),
            ["user/Observation.read", "user/Observation.write"]
        );
        assert_eq!(to_v1("user/Observation.c"), ["user/Observation.write"]);
        assert_eq!(to_v1("other/Observation.rs"), ["other/Observation.rs"]);
        assert_eq!(
            to_v1("patient/Observation.xyz"),
            ["patient/Observation.xyz"]
        );
    }

    #[test]
    fn a_per_server_scope_is_sent_as_written() {
        let written = "launch patient/Patient.rs patient/Observation.read";
        assert_eq!(
            requested_scope(written, LaunchKind::Ehr, ScopeSyntax::AsWritten),
            written
        );
        // The launch still decides the context and the level.
        assert_eq!(
            requested_scope(
                written,
                LaunchKind::StandaloneProvider,
                ScopeSyntax::AsWritten
            ),
            "user/Patient.rs user/Observation.read"
        );
    }

    #[test]
    fn every_granted_form_is_read() {
        use Access::{Read, Search};
        use Level::{Patient, User};
        // (granted scope, level, type, read allowed, search allowed)
        let cases: &[(&str, Level, &str, bool, bool)] = &[
            // v2
            ("patient/Observation.rs", Patient, "Observation", true, true),
            (
                "patient/Observation.cruds",
                Patient,
                "Observation",
                true,
                true,
            ),
            (
                "patient/Observation.rs?category=laboratory",
                Patient,
                "Observation",
                true,
                true,
            ),
            ("patient/Observation.r", Patient, "Observation", true, false),
            ("patient/Observation.s", Patient, "Observation", false, true),
            // `.r` and `.s` granted as separate scopes add up.
            (
                "patient/Observation.r patient/Observation.s",
                Patient,
                "Observation",
                true,
                true,
            ),
            ("user/Patient.s user/Patient.r", User, "Patient", true, true),
            (
                "patient/Observation.r patient/Encounter.s",
                Patient,
                "Observation",
                true,
                false,
            ),
            (
                "patient/Observation.r user/Observation.s",
                Patient,
                "Observation",
                true,
                false,
            ),
            (
                "patient/Observation.cud",
                Patient,
                "Observation",
                false,
                false,
            ),
            // v1, in any case
            (
                "patient/Observation.read",
                Patient,
                "Observation",
                true,
                true,
            ),
            ("user/Observation.Read", User, "Observation", true, true),
            ("user/Observation.READ", User, "Observation", true, true),
            ("User/Observation.read", User, "Observation", true, true),
            (
                "PATIENT/Observation.read",
                Patient,
                "Observation",
                true,
                true,
            ),
            (
                "patient/Observation.write",
                Patient,
                "Observation",
                false,
                false,
            ),
            // wildcards
            ("patient/*.read", Patient, "Observation", true, true),
            ("patient/*.*", Patient, "Encounter", true, true),
            ("user/*.rs", User, "Encounter", true, true),
            ("user/Observation.*", User, "Observation", true, true),
            // Epic's unprefixed form: at whichever level the launch is.
            (
                "Patient.read Patient.search",
                Patient,
                "Patient",
                true,
                true,
            ),
            ("Patient.read Patient.search", User, "Patient", true, true),
            ("Patient.Read Patient.Search", User, "Patient", true, true),
            ("Patient.read", User, "Patient", true, true),
            ("Patient.search", User, "Patient", false, true),
            ("Observation.read", Patient, "Observation", true, true),
            ("Observation.read", Patient, "Encounter", false, false),
            // Not permissions.
            (
                "patient/Observation.xyz",
                Patient,
                "Observation",
                false,
                false,
            ),
            ("patient/Observation.", Patient, "Observation", false, false),
            ("patient/Observation", Patient, "Observation", false, false),
            ("patient/Encounter.rs", Patient, "Observation", false, false),
            ("user/Patient.rs", Patient, "Patient", false, false),
            ("patient/Patient.rs", User, "Patient", false, false),
            ("system/Patient.rs", User, "Patient", false, false),
            (
                "launch openid fhirUser online_access",
                Patient,
                "Patient",
                false,
                false,
            ),
            ("patient.read", Patient, "patient", false, false),
            ("openid.read", Patient, "openid", false, false),
            ("", Patient, "Patient", false, false),
        ];
        for (scope, level, ty, read, search) in cases {
            let grants = Grants::parse(scope);
            assert_eq!(
                (
                    grants.allows(*level, ty, Read),
                    grants.allows(*level, ty, Search)
                ),
                (*read, *search),
                "{scope} {level:?} {ty}"
            );
            assert_eq!(grants.can_read(*level, ty), *read && *search, "{scope}");
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
        // The banner reads; the lists search too.
        let read_only =
            Grants::parse("patient/Patient.r patient/Encounter.r patient/Observation.r");
        assert!(View::Banner.allowed(&read_only));
        assert!(!View::Encounters.allowed(&read_only));
        assert!(!View::Observations.allowed(&read_only));
        let split = Grants::parse(
            "patient/Patient.r patient/Encounter.r patient/Encounter.s patient/Observation.s patient/Observation.r",
        );
        for view in [View::Banner, View::Encounters, View::Observations] {
            assert!(view.allowed(&split), "{view:?}");
        }
        // A user-level scope reaches the patient in context: the two levels add up there.
        let mixed = Grants::parse("patient/Observation.r user/Observation.s");
        assert!(View::Observations.allowed(&mixed));
        assert!(!mixed.can_read(Level::Patient, "Observation"));
        assert!(!mixed.can_read(Level::User, "Observation"));
        // Epic's sample grant, for a clinician who searches and for a patient's own chart.
        let epic = Grants::parse(
            "Patient.read Patient.search Encounter.read Encounter.search Observation.read Observation.search",
        );
        for view in [
            View::Banner,
            View::Encounters,
            View::Observations,
            View::PatientSearch,
        ] {
            assert!(view.allowed(&epic), "{view:?}");
        }
        let epic_v1 = Grants::parse("user/Patient.Read user/Encounter.Read user/Observation.Read");
        for view in [
            View::Banner,
            View::Encounters,
            View::Observations,
            View::PatientSearch,
        ] {
            assert!(view.allowed(&epic_v1), "{view:?}");
        }
    }
}

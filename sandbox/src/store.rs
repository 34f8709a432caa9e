//! The patients, compiled in from Synthea bundles, indexed by resource type and id.

use std::collections::HashMap;

use serde_json::Value;

use crate::generated::{self, SCALE, SCALE_PATIENT_ID};

const BUNDLES: [&str; 3] = [
    include_str!("../data/Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json"),
    include_str!("../data/Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json"),
    include_str!("../data/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"),
];

/// One patient as the EHR page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSummary {
    pub id: String,
    /// "Given Family" from the official name.
    pub name: String,
    pub birth_date: String,
    pub gender: String,
    /// The medical record number: the value of the identifier whose type is `MR`.
    pub mrn: String,
}

/// The id of the development EHR's one clinician user, a Practitioner in the store.
pub const PRACTITIONER_ID: &str = "dev-practitioner";
/// That clinician's display name.
pub const PRACTITIONER_NAME: &str = "Dr. Ada Clinician";

pub struct Store {
    resources: HashMap<(String, String), Value>,
    patients: Vec<PatientSummary>,
    /// Each patient's encounters as (`period.start`, id), most recent first.
    encounters: HashMap<String, Vec<(String, String)>>,
    /// The ids of each patient's resources, by (resource type, patient id), for search. The
    /// scale patient's are in [`generated::SCALE`] instead.
    compartments: HashMap<(String, String), Vec<String>>,
}

/// Rewrites every `reference` of the form `urn:uuid:<id>` to `<Type>/<id>` where the bundle
/// holds that resource.
fn resolve_references(value: &mut Value, types: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "reference"
                    && let Some(id) = field.as_str().and_then(|r| r.strip_prefix("urn:uuid:"))
                    && let Some(ty) = types.get(id)
                {
                    *field = Value::String(format!("{ty}/{id}"));
                } else {
                    resolve_references(field, types);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_references(v, types)),
        _ => {}
    }
}

/// The resources of a Synthea bundle, references resolved. A bundle that is not JSON has none.
fn bundle_resources(bundle: &str) -> Vec<Value> {
    let bundle: Value = serde_json::from_str(bundle).unwrap_or_default();
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    // Synthea writes a transaction bundle whose references are `urn:uuid:<id>`; a FHIR
    // server stores them as `<Type>/<id>`, and so does this one (a client that only
    // understood the bundle's form would fail at every hospital).
    let types: HashMap<String, String> = entries
        .iter()
        .filter_map(|e| {
            let r = &e["resource"];
            Some((
                r["id"].as_str()?.to_owned(),
                r["resourceType"].as_str()?.to_owned(),
            ))
        })
        .collect();
    entries
        .into_iter()
        .map(|entry| {
            let mut resource = entry["resource"].clone();
            resolve_references(&mut resource, &types);
            resource
        })
        .collect()
}

impl Store {
    /// The bundled patients, then those of `extra` Synthea bundles (JSON text).
    pub fn load(extra: &[String]) -> Store {
        let mut resources = HashMap::new();
        let mut patients = Vec::new();
        let mut encounters: HashMap<String, Vec<(String, String)>> = HashMap::new();
        let mut compartments: HashMap<(String, String), Vec<String>> = HashMap::new();
        let synthea = BUNDLES.into_iter().flat_map(bundle_resources);
        // The generated patients come after the Synthea ones, and extra bundles after them, so
        // that indexes stay stable.
        let generated = std::iter::once(generated::scale_patient()).chain(generated::hostile());
        let extra = extra.iter().flat_map(|bundle| bundle_resources(bundle));
        for resource in synthea.chain(generated).chain(extra) {
            let (Some(ty), Some(id)) = (resource["resourceType"].as_str(), resource["id"].as_str())
            else {
                continue;
            };
            if ty == "Patient" {
                patients.push(summary(&resource));
            }
            let subject = resource["subject"]["reference"].as_str().unwrap_or("");
            let patient = subject
                .strip_prefix("urn:uuid:")
                .or(subject.strip_prefix("Patient/"))
                .unwrap_or(subject);
            if !patient.is_empty() {
                compartments
                    .entry((ty.to_owned(), patient.to_owned()))
                    .or_default()
                    .push(id.to_owned());
            }
            if ty == "Encounter" {
                let start = resource["period"]["start"].as_str().unwrap_or("");
                encounters
                    .entry(patient.to_owned())
                    .or_default()
                    .push((start.to_owned(), id.to_owned()));
            }
            resources.insert((ty.to_owned(), id.to_owned()), resource);
        }
        for list in encounters.values_mut() {
            list.sort_by(|a, b| b.cmp(a));
        }
        let practitioner = serde_json::json!({
            "resourceType": "Practitioner",
            "id": PRACTITIONER_ID,
            "active": true,
            "name": [{"use": "official", "text": PRACTITIONER_NAME, "family": "Clinician",
                "given": ["Ada"], "prefix": ["Dr."]}],
        });
        resources.insert(
            ("Practitioner".to_owned(), PRACTITIONER_ID.to_owned()),
            practitioner,
        );
        Store {
            resources,
            patients,
            encounters,
            compartments,
        }
    }

    pub fn get(&self, resource_type: &str, id: &str) -> Option<&Value> {
        let key = (resource_type.to_owned(), id.to_owned());
        self.resources.get(&key).or_else(|| {
            (resource_type != "Patient" && id.starts_with("scale-"))
                .then(|| SCALE.resources.get(&key))
                .flatten()
        })
    }

    /// Every `resource_type` resource whose subject is the patient `patient_id`, in no
    /// particular order.
    pub fn compartment(&self, resource_type: &str, patient_id: &str) -> Vec<&Value> {
        if patient_id == SCALE_PATIENT_ID {
            let ids = match resource_type {
                "Encounter" => &SCALE.encounters,
                "Observation" => &SCALE.observations,
                _ => return Vec::new(),
            };
            return ids
                .iter()
                .filter_map(|id| SCALE.resources.get(&(resource_type.to_owned(), id.clone())))
                .collect();
        }
        self.compartments
            .get(&(resource_type.to_owned(), patient_id.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.get(resource_type, id))
            .collect()
    }

    pub fn patients(&self) -> &[PatientSummary] {
        &self.patients
    }

    /// The ids of a patient's encounters, most recent first (by `period.start`).
    pub fn encounters_of(&self, patient_id: &str) -> Vec<String> {
        if patient_id == SCALE_PATIENT_ID {
            return SCALE.encounters.iter().rev().cloned().collect();
        }
        self.encounters
            .get(patient_id)
            .map(|list| list.iter().map(|(_, id)| id.clone()).collect())
            .unwrap_or_default()
    }

    /// Every Patient resource, in the order of [`Store::patients`].
    pub fn patient_resources(&self) -> impl Iterator<Item = &Value> {
        self.patients
            .iter()
            .filter_map(|p| self.get("Patient", &p.id))
    }
}

fn summary(patient: &Value) -> PatientSummary {
    let names = patient["name"].as_array().cloned().unwrap_or_default();
    let name = names
        .iter()
        .find(|n| n["use"] == "official")
        .or(names.first())
        .map(|n| {
            let mut parts: Vec<&str> = n["given"]
                .as_array()
                .map(|g| g.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.extend(n["family"].as_str());
            parts.join(" ")
        })
        .unwrap_or_default();
    PatientSummary {
        id: patient["id"].as_str().unwrap_or_default().to_owned(),
        name,
        birth_date: patient["birthDate"].as_str().unwrap_or_default().to_owned(),
        gender: patient["gender"].as_str().unwrap_or_default().to_owned(),
        mrn: mrn_of(patient).unwrap_or_default(),
    }
}

/// The value of the patient's identifier whose type is `MR` (medical record number).
pub fn mrn_of(patient: &Value) -> Option<String> {
    patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| {
            i["type"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["code"] == "MR"))
        })
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned)
}

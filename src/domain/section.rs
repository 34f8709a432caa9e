//! The chart's sections, and how each is named in the address bar's fragment (`#vitals`). The
//! fragment names a section only: never a patient, an id or a token. Pure.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    #[default]
    Summary,
    Vitals,
    Results,
    Encounters,
    Patient,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Summary,
        Section::Vitals,
        Section::Results,
        Section::Encounters,
        Section::Patient,
    ];

    /// The fragment, without `#`.
    pub fn id(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Vitals => "vitals",
            Section::Results => "results",
            Section::Encounters => "encounters",
            Section::Patient => "patient",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Section::Summary => "Summary",
            Section::Vitals => "Vital signs",
            Section::Results => "Results",
            Section::Encounters => "Encounters",
            Section::Patient => "Patient",
        }
    }

    /// The access key (Alt+key in Chromium on Windows and Linux, Control+Option+key on macOS).
    pub fn key(self) -> &'static str {
        match self {
            Section::Summary => "s",
            Section::Vitals => "v",
            Section::Results => "r",
            // Alt+E opens the browser's menu.
            Section::Encounters => "n",
            Section::Patient => "p",
        }
    }

    /// The section a fragment (`#vitals` or `vitals`) names; `None` for anything else.
    pub fn from_fragment(fragment: &str) -> Option<Section> {
        let id = fragment.strip_prefix('#').unwrap_or(fragment);
        Section::ALL.into_iter().find(|s| s.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_name_sections_only() {
        for s in Section::ALL {
            assert_eq!(Section::from_fragment(&format!("#{}", s.id())), Some(s));
            assert_eq!(Section::from_fragment(s.id()), Some(s));
        }
        for other in [
            "",
            "#",
            "#Vitals",
            "#vitals?x",
            "#patient/123",
            "#access_token=x",
        ] {
            assert_eq!(Section::from_fragment(other), None, "{other}");
        }
        assert_eq!(Section::default(), Section::Summary);
    }
}

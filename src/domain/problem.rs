//! What the user is told when something fails, and what they can do about it.

/// The way forward offered with a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Start again from the EHR (the launch cannot continue).
    Relaunch,
    /// The same action may work in a moment (network, server busy).
    TryAgain,
    /// Nothing the user can do: configuration or EHR set-up must change.
    ContactSupport,
}

/// A failure in plain words. Never carries a token or code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub title: String,
    pub detail: String,
    pub next_step: NextStep,
}

impl Problem {
    pub fn new(title: impl Into<String>, detail: impl Into<String>, next_step: NextStep) -> Self {
        Problem {
            title: title.into(),
            detail: detail.into(),
            next_step,
        }
    }
}

/// Shortens untrusted text for display, on a character boundary, marking the cut.
pub fn truncate_for_display(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_character_safe() {
        assert_eq!(truncate_for_display("héllo wörld", 5), "héllo…");
        assert_eq!(truncate_for_display("short", 10), "short");
        assert_eq!(truncate_for_display("🙂🙂🙂", 2), "🙂🙂…");
    }
}

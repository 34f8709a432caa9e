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
    /// A problem whose title and detail start with a capital letter, whatever the text they
    /// were made from (error messages are written to follow other words, in lower case).
    pub fn new(title: impl Into<String>, detail: impl Into<String>, next_step: NextStep) -> Self {
        Problem {
            title: sentence(&title.into()),
            detail: sentence(&detail.into()),
            next_step,
        }
    }
}

/// `text` with its first letter in upper case, as a sentence shown on its own starts.
pub fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text.to_owned(),
    }
}

/// For the tests of every module with problems: both texts start with a capital letter (or a
/// quotation mark, digit or symbol, never a lower-case letter) and are not empty.
#[cfg(test)]
pub fn assert_capitalised(problem: &Problem) {
    for text in [&problem.title, &problem.detail] {
        let first = text.chars().next();
        assert!(
            first.is_some_and(|c| !c.is_lowercase()),
            "a problem text starts in lower case: {problem:?}"
        );
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
    fn problems_start_with_a_capital() {
        assert_eq!(sentence("the EHR refused"), "The EHR refused");
        assert_eq!(sentence("éclair"), "Éclair");
        assert_eq!(sentence("“quoted”"), "“quoted”");
        assert_eq!(sentence(""), "");
        let p = Problem::new(
            "lower",
            "the EHR refused the sign-in code.",
            NextStep::Relaunch,
        );
        assert_eq!(p.detail, "The EHR refused the sign-in code.");
        assert_capitalised(&p);
    }

    #[test]
    fn truncation_is_character_safe() {
        assert_eq!(truncate_for_display("héllo wörld", 5), "héllo…");
        assert_eq!(truncate_for_display("short", 10), "short");
        assert_eq!(truncate_for_display("🙂🙂🙂", 2), "🙂🙂…");
    }
}

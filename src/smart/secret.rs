//! Secrets as types: a redacted `Debug`, no `Display`, no `PartialEq` (no timing-sensitive
//! comparisons by accident), read only through `.secret()`.

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                Self(value)
            }

            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// The bearer token for FHIR requests. Lives in memory only.
    AccessToken
);
secret_type!(
    /// A refresh token, when the server grants one.
    RefreshToken
);
secret_type!(
    /// The authorization code from the callback; exchanged once.
    AuthCode
);
secret_type!(
    /// An OpenID Connect id_token (a JWT).
    IdToken
);
secret_type!(
    /// A confidential client's secret (the backend companion's `client_secret_basic` and
    /// `client_secret_post`). The browser app is a public client and never has one.
    ClientSecret
);
secret_type!(
    /// The PKCE code verifier. Kept in sessionStorage across the authorize redirect, deleted at
    /// the callback.
    #[derive(serde::Serialize, serde::Deserialize)]
    CodeVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let token = AccessToken::new("AT-CANARY-123".into());
        let verifier = CodeVerifier::new("verifier-xyz".into());
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{verifier:?}"), "CodeVerifier([redacted])");
        assert_eq!(token.secret(), "AT-CANARY-123");
    }
}

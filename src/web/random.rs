//! Random bytes from `crypto.getRandomValues`, via `getrandom`.

/// The browser has no cryptographic random source; Cairn refuses to sign in without one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("this browser has no secure random number generator")]
pub struct NoSecureRandom;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoSecureRandom> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|_| NoSecureRandom)?;
    Ok(bytes)
}

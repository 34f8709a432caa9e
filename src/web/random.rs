//! Random bytes from `crypto.getRandomValues`, called through `web_sys` (the `getrandom` crate's
//! browser back end also looks for Node.js and IE's `msCrypto`, glue the app never uses).

/// The browser has no cryptographic random source; Cairn refuses to sign in without one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("this browser has no secure random number generator")]
pub struct NoSecureRandom;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoSecureRandom> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .ok_or(NoSecureRandom)?
        .crypto()
        .map_err(|_| NoSecureRandom)?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| NoSecureRandom)?;
    Ok(bytes)
}

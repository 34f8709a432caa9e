//! `sessionStorage`, which survives the authorize redirect but not the tab.

/// sessionStorage is missing or refused (a blocked or partitioned embedded browser).
#[derive(Debug, Clone, thiserror::Error)]
#[error("this browser does not allow Cairn to keep data for the session")]
pub struct StorageUnavailable;

pub struct SessionStore(web_sys::Storage);

impl SessionStore {
    pub fn open() -> Result<SessionStore, StorageUnavailable> {
        web_sys::window()
            .and_then(|w| w.session_storage().ok().flatten())
            .map(SessionStore)
            .ok_or(StorageUnavailable)
    }

    pub fn put(&self, key: &str, value: &str) -> Result<(), StorageUnavailable> {
        self.0.set_item(key, value).map_err(|_| StorageUnavailable)
    }

    /// Reads and deletes `key` in one step, so a value can be used only once.
    pub fn take(&self, key: &str) -> Option<String> {
        let value = self.0.get_item(key).ok().flatten()?;
        let _ = self.0.remove_item(key);
        Some(value)
    }
}

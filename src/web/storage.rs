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

    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get_item(key).ok().flatten()
    }

    pub fn remove(&self, key: &str) {
        let _ = self.0.remove_item(key);
    }

    /// Every key that starts with `prefix`.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        let count = self.0.length().unwrap_or(0);
        (0..count)
            .filter_map(|i| self.0.key(i).ok().flatten())
            .filter(|k| k.starts_with(prefix))
            .collect()
    }

    /// Reads and deletes `key` in one step, so a value can be used only once.
    pub fn take(&self, key: &str) -> Option<String> {
        let value = self.0.get_item(key).ok().flatten()?;
        let _ = self.0.remove_item(key);
        Some(value)
    }
}

//! Record ids: 128 random bits, shown as lowercase base32.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;

/// The id of one record (one Automerge document).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId([u8; 16]);

/// Characters of the short form of an id shown in lists.
pub const SHORT_ID_LEN: usize = 8;

/// Why a record id could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocIdError {
    /// Not 26 base32 characters.
    #[error("mã hồ sơ không hợp lệ: {0:?} (cần 26 ký tự a–z, 2–7)")]
    Invalid(String),
}

impl DocId {
    /// An id from 16 random bytes supplied by the caller.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocId(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The short code shown in lists.
    pub fn short(&self) -> String {
        self.to_string()[..SHORT_ID_LEN].to_string()
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE32_NOPAD.encode(&self.0).to_ascii_lowercase())
    }
}

debug_as_short!(DocId);

impl FromStr for DocId {
    type Err = DocIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let bytes = BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| DocIdError::Invalid(s.to_string()))?;
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| DocIdError::Invalid(s.to_string()))?;
        Ok(DocId(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_id_round_trips() {
        let id = DocId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(text.parse::<DocId>().unwrap(), id);
        assert!("xyz".parse::<DocId>().is_err());
    }
}

//! The service API under every interface: the CLI and the web app parse
//! their input into the drafts and calls here and render what comes back.
//! Every decision about records, scopes and sync is made in this crate,
//! below them, once.

use std::path::Path;

use crate::access::AUTHORITY_KEY_FILE;
use crate::node::Node;

impl Node {
    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.store().dir()
    }

    /// Whether this data directory holds the town's authority key (the
    /// town office, which signs the roster).
    pub fn is_authority(&self) -> bool {
        self.dir().join(AUTHORITY_KEY_FILE).exists()
    }
}

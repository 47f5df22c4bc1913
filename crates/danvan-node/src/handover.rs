//! Hubs above hubs: the town's roster handed over to a successor authority
//! (the province's), the successor adopting the town's members, and the
//! authority key off the hub (rosters signed on an offline machine and
//! carried to the hub as a file).
//!
//! Every roster that arrives here — from a file or adopted — goes through
//! `Store::install_roster`, the same check as a roster from a peer.

use std::path::Path;
use std::sync::Arc;

use danvan_model::{Member, NodeId, ROSTER_BYTES_MAX, Role, SignedRoster, UnitTree};

use crate::access::AUTHORITY_KEY_FILE;
use crate::error::NodeError;
use crate::node::{Node, now_ms};

/// Store meta: set on the data directory of an authority made offline.
const META_OFFLINE_AUTHORITY: &str = "offline_authority";

/// What the town office's work (the roster, invites) looks like on this
/// machine: the interfaces offer what it can do, and nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TownDesk {
    /// The authority key is in this online hub's data directory (it still
    /// works, with a warning): rosters are signed here.
    SignsOnline,
    /// The offline authority (`init --authority --offline`): rosters are
    /// signed here and carried to the hub as a file; it makes no invites
    /// and never syncs.
    SignsOffline,
    /// A hub that holds only rosters: shows them, applies signed roster
    /// files (`roster apply`), makes invites; it has no key to sign with.
    AppliesFiles,
}

/// What `roster adopt` did.
#[derive(Clone, Debug)]
pub struct Adopted {
    /// The new roster, signed here.
    pub roster: Arc<SignedRoster>,
    /// The authority that handed over.
    pub from: NodeId,
    /// Members of the town's roster added (those already listed here keep
    /// their entry).
    pub members_added: usize,
    /// Whether the town's unit tree replaced the one held (it extended it).
    pub units_taken: bool,
}

impl Node {
    /// The town authority hands the town over to `successor` (another
    /// authority's node id): signs a roster naming it, which re-pins this
    /// store at once and every node that receives it. `successor_hub`, the
    /// successor's hub, is listed as a hub so this town's nodes may sync
    /// with it before the successor's own roster reaches them. After this
    /// the key here signs nothing the nodes accept.
    pub fn roster_handover(
        &mut self,
        successor: &NodeId,
        successor_hub: Option<&NodeId>,
    ) -> Result<Arc<SignedRoster>, NodeError> {
        let (key, mut roster) = self.next_roster()?;
        if *successor == key.id() {
            return Err(NodeError::HandoverInput(
                "khóa kế nhiệm trùng khóa thẩm quyền của thị xã".into(),
            ));
        }
        roster.successor = Some(successor.to_string());
        if let Some(hub) = successor_hub {
            let text = hub.to_string();
            if !roster.members.iter().any(|m| m.node == text) {
                roster.members.push(Member {
                    node: text,
                    name: Some("Trạm của cơ quan kế nhiệm".into()),
                    role: Role::Hub,
                    units: vec![roster.town.clone()],
                    project: None,
                    added_at: now_ms(),
                    revoked_at: None,
                    kept: String::new(),
                });
            }
        }
        self.install_signed(&key, &roster)
    }

    /// The successor authority takes in a town's handover roster (`bytes`,
    /// from `roster sign` or `roster handover --out` on the town office):
    /// the town's members join this roster (a node listed here already
    /// keeps its entry), the unit tree is the one that extends the other,
    /// and the handover roster is carried inside, so the town's nodes
    /// accept this roster through it. The new version is newer than both.
    pub fn roster_adopt(&mut self, bytes: &[u8]) -> Result<Adopted, NodeError> {
        let (key, mut roster) = self.next_roster()?;
        let town = SignedRoster::decode(bytes)?;
        if town.successor() != Some(key.id()) {
            return Err(NodeError::HandoverInput(format!(
                "danh sách thành viên này (khóa {}, phiên bản {}) không chuyển giao cho khóa thẩm quyền {} của nút này; văn phòng thị xã chạy `danvan roster handover --to {}` trước",
                town.authority().short(),
                town.version(),
                key.id().short(),
                key.id()
            )));
        }
        let mine = UnitTree::from_toml(&roster.units)?;
        let units_taken = if mine.check_extends(town.units()).is_ok() {
            false
        } else if town.units().check_extends(&mine).is_ok() {
            roster.units = town.roster().units.clone();
            true
        } else {
            return Err(NodeError::HandoverInput(format!(
                "cây đơn vị của thị xã {} và cây đơn vị đang giữ không cái nào chứa cái kia; nạp danh mục đơn vị chung trước bằng `danvan roster unit-change load TỆP`",
                town.roster().town
            )));
        };
        let mut members_added = 0;
        for member in &town.roster().members {
            if !roster.members.iter().any(|m| m.node == member.node) {
                roster.members.push(member.clone());
                members_added += 1;
            }
        }
        roster.carry_handover(&town)?;
        roster.version = roster.version.max(town.version() + 1);
        let signed = self.install_signed(&key, &roster)?;
        Ok(Adopted {
            roster: signed,
            from: town.authority(),
            members_added,
            units_taken,
        })
    }

    /// The roster held, signed, as a file to carry to the hub (`roster
    /// apply`) or to a successor (`roster adopt`).
    pub fn roster_sign(&self, out: &Path, force: bool) -> Result<Arc<SignedRoster>, NodeError> {
        let roster = self.roster()?.ok_or(NodeError::NoRoster)?;
        crate::transfer::check_out_path(out, force)?;
        crate::transfer::write_atomic(out, roster.bytes())?;
        Ok(roster)
    }

    /// Installs a roster file signed elsewhere (the offline authority):
    /// checked exactly as a roster from a peer — signature, pinned
    /// authority or handover, newer version, unit history — and a refused
    /// one is audited, nothing changed. A store pinned to no authority yet
    /// pins `pin`, which must be the file's signer.
    pub fn roster_apply(
        &mut self,
        path: &Path,
        pin: Option<&NodeId>,
    ) -> Result<Arc<SignedRoster>, NodeError> {
        let bytes = read_roster_file(path)?;
        if self.store().authority()?.is_none() {
            let Some(pin) = pin else {
                return Err(NodeError::HandoverInput(
                    "kho này chưa ghi nhận khóa thẩm quyền nào: lần đầu chạy `danvan roster apply TỆP --authority MÃ_KHÓA` (mã in khi `init --authority --offline`)".into(),
                ));
            };
            let signer = SignedRoster::decode(&bytes)?.authority();
            if signer != *pin {
                return Err(NodeError::HandoverInput(format!(
                    "tệp do khóa {} ký, không phải khóa {} đã cho",
                    signer.short(),
                    pin.short()
                )));
            }
            self.store_mut().set_authority(pin)?;
        }
        let installed = self.store_mut().install_roster(&bytes, None)?;
        self.set_units(installed.units().clone());
        Ok(installed)
    }

    /// The authority this store is pinned to now (after a handover, the
    /// successor, while the roster held may still be the old key's).
    pub fn pinned_authority(&self) -> Result<Option<NodeId>, NodeError> {
        Ok(self.store().authority()?)
    }

    /// Marks a new authority data directory as offline (`init --authority
    /// --offline`): it signs rosters and never serves or syncs.
    pub(crate) fn mark_offline_authority(&mut self) -> Result<(), NodeError> {
        Ok(self.store_mut().set_meta(META_OFFLINE_AUTHORITY, b"1")?)
    }

    /// Whether this is the offline authority's data directory.
    pub fn is_offline_authority(&self) -> Result<bool, NodeError> {
        Ok(self.store().meta(META_OFFLINE_AUTHORITY)?.is_some())
    }

    /// The town office's work this machine does, `None` on a machine that
    /// neither holds the authority key nor is an active hub of the roster.
    pub fn town_desk(&self) -> Result<Option<TownDesk>, NodeError> {
        if self.is_offline_authority()? {
            return Ok(Some(TownDesk::SignsOffline));
        }
        if self.is_authority() {
            return Ok(Some(TownDesk::SignsOnline));
        }
        let hub = self
            .roster()?
            .is_some_and(|r| r.check_peer(&self.id()).is_ok_and(|m| m.role == Role::Hub));
        Ok(hub.then_some(TownDesk::AppliesFiles))
    }

    /// Refuses to serve or sync from the offline authority's directory.
    pub fn check_may_go_online(&self) -> Result<(), NodeError> {
        if self.is_offline_authority()? {
            return Err(NodeError::OfflineAuthority);
        }
        Ok(())
    }

    /// The warning a hub gives when the authority key sits in its data
    /// directory (reachable by whoever breaks into the network-facing
    /// machine), `None` otherwise.
    pub fn authority_key_warning(&self) -> Option<String> {
        let path = self.dir().join(AUTHORITY_KEY_FILE);
        (path.exists() && !self.is_offline_authority().unwrap_or(false)).then(|| {
            format!(
                "cảnh báo: khóa thẩm quyền {} nằm trên máy trạm nối mạng; ai chiếm được máy này ký được danh sách thành viên. Nên giữ khóa trên một máy không nối mạng (`danvan init --authority --offline`), ký ở đó và mang tệp sang trạm (`danvan roster sign`, `danvan roster apply`) — xem deploy/README.md",
                path.display()
            )
        })
    }
}

/// Reads a roster file: a regular file of at most [`ROSTER_BYTES_MAX`].
pub fn read_roster_file(path: &Path) -> Result<Vec<u8>, NodeError> {
    use std::io::Read;
    let not_roster = || {
        NodeError::HandoverInput(format!(
            "{} không phải tệp danh sách thành viên (tệp thường, tối đa {ROSTER_BYTES_MAX} byte)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(crate::error::io(path))?;
    let meta = file.metadata().map_err(crate::error::io(path))?;
    if !meta.is_file() || meta.len() > ROSTER_BYTES_MAX as u64 {
        return Err(not_roster());
    }
    let mut bytes = Vec::new();
    file.take(ROSTER_BYTES_MAX as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(crate::error::io(path))?;
    if bytes.len() > ROSTER_BYTES_MAX {
        return Err(not_roster());
    }
    Ok(bytes)
}

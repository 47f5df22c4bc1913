//! The town's roster on a node: the authority's side (`init --authority`,
//! `roster add/revoke`, `invite`), the joining side (`join`), the write
//! check for local records, and the audit log.

use std::path::Path;
use std::sync::Arc;

use danvan_model::{
    DocScope, Invite, Member, NodeId, NodeKey, Record, Role, Roster, SignedRoster, encode_kept,
};

use crate::error::NodeError;
use crate::node::{Node, now_ms, random_bytes};
use danvan_net::PeerAddr;

/// The town authority's private key, only in the town office's data directory.
pub const AUTHORITY_KEY_FILE: &str = "authority.key";
const META_HUB_ADDR: &str = "hub_addr";

/// What to set for a node in the roster.
#[derive(Clone, Debug)]
pub struct MemberSpec {
    /// The role.
    pub role: Role,
    /// The units (a field team may have several).
    pub units: Vec<String>,
    /// The project of a field team.
    pub project: Option<String>,
    /// A name for people.
    pub name: Option<String>,
}

impl Node {
    /// Creates the town office's data directory: a hub node, the town's
    /// authority key beside it, and the first roster listing the hub.
    ///
    /// `offline`: the authority alone, on a machine that never serves — the
    /// first roster lists no hub; the hub is added with `roster add` and
    /// gets the roster as a file (`roster sign`, `roster apply`).
    pub fn init_authority(
        dir: &Path,
        town: &str,
        name: Option<&str>,
        units_file: Option<&Path>,
        offline: bool,
    ) -> Result<Node, NodeError> {
        let mut node = Node::init(dir, town, name, units_file)?;
        if offline {
            node.mark_offline_authority()?;
        }
        let authority = NodeKey::from_secret(random_bytes());
        crate::key_files::create(dir, &dir.join(AUTHORITY_KEY_FILE), &authority)?;
        node.store_mut().set_authority(&authority.id())?;
        let units_path = dir.join(crate::node::UNITS_FILE);
        let units = std::fs::read_to_string(&units_path).map_err(crate::error::io(&units_path))?;
        let roster = Roster {
            version: 1,
            town: town.to_string(),
            issued_at: now_ms(),
            units,
            members: if offline {
                Vec::new()
            } else {
                vec![Member {
                    node: node.id().to_string(),
                    name: Some(name.unwrap_or("Trạm văn phòng thị xã").to_string()),
                    role: Role::Hub,
                    units: vec![town.to_string()],
                    project: None,
                    added_at: now_ms(),
                    revoked_at: None,
                    kept: String::new(),
                }]
            },
            successor: None,
            handovers: Vec::new(),
        };
        node.install_signed(&authority, &roster)?;
        Ok(node)
    }

    fn authority_key(&self) -> Result<NodeKey, NodeError> {
        let path = self.store().dir().join(AUTHORITY_KEY_FILE);
        if !path.exists() {
            return Err(NodeError::NotAuthority);
        }
        let key = crate::key_files::read_key(self.store().dir(), &path)?;
        let pinned = self.store().authority()?;
        if pinned != Some(key.id()) {
            // After a handover this key signs nothing the nodes accept.
            if let (Some(pinned), Some(held)) = (pinned, self.roster()?)
                && (held.authority() == key.id()
                    || held.handovers().iter().any(|h| h.authority() == key.id()))
            {
                return Err(NodeError::HandedOver(pinned.to_string()));
            }
            return Err(NodeError::AuthorityMismatch(path));
        }
        Ok(key)
    }

    pub(crate) fn install_signed(
        &mut self,
        authority: &NodeKey,
        roster: &Roster,
    ) -> Result<Arc<SignedRoster>, NodeError> {
        let signed = SignedRoster::sign(authority, roster)?;
        let installed = self.store_mut().install_roster(signed.bytes(), None)?;
        self.set_units(installed.units().clone());
        Ok(installed)
    }

    /// The roster held, if this node belongs to a town.
    pub fn roster(&self) -> Result<Option<Arc<SignedRoster>>, NodeError> {
        Ok(self.store().roster()?)
    }

    pub(crate) fn next_roster(&self) -> Result<(NodeKey, Roster), NodeError> {
        let key = self.authority_key()?;
        let held = self.roster()?.ok_or(NodeError::NoRoster)?;
        let mut roster = held.roster().clone();
        roster.version += 1;
        roster.issued_at = now_ms();
        Ok((key, roster))
    }

    /// Adds a node to the roster, or changes its role, units or project.
    pub fn roster_add(
        &mut self,
        node: &NodeId,
        spec: MemberSpec,
    ) -> Result<Arc<SignedRoster>, NodeError> {
        let (key, mut roster) = self.next_roster()?;
        if spec.units.is_empty() {
            return Err(NodeError::NoUnit);
        }
        for unit in &spec.units {
            self.units().require(unit)?;
        }
        if spec.role == Role::Field && spec.project.is_none() {
            return Err(NodeError::FieldWithoutProject);
        }
        if let Some(project) = &spec.project
            && !danvan_model::vocab::PROJECTS
                .iter()
                .any(|(c, _)| c == project)
        {
            return Err(NodeError::UnknownProject {
                project: project.clone(),
                known: danvan_model::vocab::codes(danvan_model::vocab::PROJECTS),
            });
        }
        if spec.role != Role::Field && spec.project.is_some() {
            return Err(NodeError::ProjectWithoutField);
        }
        let text = node.to_string();
        match roster.members.iter_mut().find(|m| m.node == text) {
            Some(m) if m.is_revoked() => {
                return Err(NodeError::Revoked(node.short()));
            }
            Some(m) => {
                m.role = spec.role;
                m.units = spec.units;
                m.project = spec.project;
                if spec.name.is_some() {
                    m.name = spec.name;
                }
            }
            None => roster.members.push(Member {
                node: text,
                name: spec.name,
                role: spec.role,
                units: spec.units,
                project: spec.project,
                added_at: now_ms(),
                revoked_at: None,
                kept: String::new(),
            }),
        }
        self.install_signed(&key, &roster)
    }

    /// Revokes a node: every node that gets this roster refuses it at the
    /// handshake and refuses any change it signed that the town did not
    /// hold now. What it wrote before and the town holds stays valid.
    pub fn roster_revoke(
        &mut self,
        node: &NodeId,
    ) -> Result<(Arc<SignedRoster>, usize), NodeError> {
        let (key, mut roster) = self.next_roster()?;
        if *node == self.id() {
            return Err(NodeError::RevokeHub);
        }
        let kept = self.store().hashes_by(node)?;
        let text = node.to_string();
        let member = roster
            .members
            .iter_mut()
            .find(|m| m.node == text)
            .ok_or_else(|| NodeError::NotMember(node.short()))?;
        if member.is_revoked() {
            return Err(NodeError::AlreadyRevoked(node.short()));
        }
        member.revoked_at = Some(now_ms());
        member.kept = encode_kept(&kept);
        let signed = self.install_signed(&key, &roster)?;
        Ok((signed, kept.len()))
    }

    /// The invite string for a node of the roster. `addr` (the hub's
    /// address as nodes reach it) is remembered for later invites.
    pub fn invite(&mut self, node: &NodeId, addr: Option<&str>) -> Result<String, NodeError> {
        // Invites carry public keys only: a hub of the roster makes them
        // with the authority it is pinned to, the authority key may be on
        // an offline machine.
        let roster = self.roster()?.ok_or(NodeError::NoRoster)?;
        let is_hub = roster
            .check_peer(&self.id())
            .is_ok_and(|m| m.role == Role::Hub);
        let authority = match self.store().authority()? {
            Some(pinned) if is_hub => pinned,
            _ if self.is_offline_authority()? => {
                return Err(NodeError::HandoverInput(
                    "lời mời do trạm làm (`danvan invite` trên trạm, sau khi trạm nhận danh sách thành viên)".into(),
                ));
            }
            _ => self.authority_key()?.id(),
        };
        roster.check_peer(node).map_err(NodeError::InviteRefused)?;
        if let Some(addr) = addr {
            let addr = addr
                .parse::<PeerAddr>()
                .map_err(|_| NodeError::BadAddress(addr.to_string()))?;
            self.store_mut()
                .set_meta(META_HUB_ADDR, addr.as_str().as_bytes())?;
        }
        let hub_addr = self
            .store()
            .meta(META_HUB_ADDR)?
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or(NodeError::NoHubAddress)?;
        Ok(Invite {
            hub_addr,
            hub: self.id(),
            authority,
            node: *node,
        }
        .encode())
    }

    /// Remembers the address `serve` listens on, for invites (only a
    /// concrete address: 0.0.0.0 or port 0 says nothing to another machine).
    pub fn note_listen_addr(&mut self, addr: std::net::SocketAddr) -> Result<(), NodeError> {
        if addr.ip().is_unspecified()
            || addr.port() == 0
            || self.store().meta(META_HUB_ADDR)?.is_some()
        {
            return Ok(());
        }
        self.store_mut()
            .set_meta(META_HUB_ADDR, addr.to_string().as_bytes())?;
        Ok(())
    }

    /// Stores an invite: pins the town's authority and trusts the hub at its
    /// address. The roster itself arrives with the first sync.
    pub fn join(&mut self, invite: &Invite) -> Result<(), NodeError> {
        if invite.node != self.id() {
            return Err(NodeError::InviteForOther {
                invited: invite.node.short(),
                me: self.id().short(),
            });
        }
        invite
            .hub_addr
            .parse::<PeerAddr>()
            .map_err(|_| NodeError::InviteBadAddress(invite.hub_addr.clone()))?;
        self.store_mut().set_authority(&invite.authority)?;
        self.store_mut().trust(
            &invite.hub,
            Some(&invite.hub_addr),
            Some("Trạm văn phòng thị xã"),
            now_ms(),
        )?;
        Ok(())
    }

    /// The hub's address stored by `join`, if any (`IP:PORT` or `HOST:PORT`).
    pub fn hub_addr(&self) -> Result<Option<PeerAddr>, NodeError> {
        Ok(self
            .store()
            .trusted()?
            .into_iter()
            .filter_map(|t| t.addr.and_then(|a| a.parse().ok()))
            .next())
    }

    /// Refuses, before anything is made, a record this node may not write
    /// under the roster, its units as they stand today (the peers would
    /// refuse it anyway).
    pub fn check_write(
        &self,
        kind: &str,
        unit: &str,
        project: Option<&str>,
    ) -> Result<(), NodeError> {
        let Some(roster) = self.roster()? else {
            return Ok(());
        };
        roster
            .check_write_on(
                &self.id(),
                &[0; 32],
                &DocScope {
                    kind,
                    unit,
                    project,
                },
                danvan_store::today(),
            )
            .map_err(NodeError::Denied)
    }

    /// Checks [`Node::check_write`] for a record.
    pub fn check_record_write(&self, record: &Record) -> Result<(), NodeError> {
        let header = record.header();
        self.check_write(&header.kind, &header.unit, header.project.as_deref())
    }
}

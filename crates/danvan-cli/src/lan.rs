//! `danvan peers --lan`: find danvan machines on the LAN (mDNS), show each
//! by its roster name, and sync with one after the officer confirms it. The
//! node decides who may be synced with (`danvan_node::lan`); this only asks.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use danvan_model::NodeId;
use danvan_node::{LanPeer, Node, NodeError};

use crate::output::print_json;

/// `peers --lan` options.
#[derive(clap::Args)]
pub(crate) struct LanArgs {
    /// Tìm các máy danvan trong mạng nội bộ (mDNS, ví dụ cùng điểm phát Wi-Fi)
    /// rồi đồng bộ với máy được xác nhận
    #[arg(long)]
    pub(crate) lan: bool,
    /// Thời gian tìm, tính bằng giây (tối đa 60)
    #[arg(long, requires = "lan", default_value_t = 3, value_name = "GIÂY")]
    pub(crate) timeout: u64,
    /// Đồng bộ với máy có mã nút này mà không hỏi lại (dùng trong kịch bản);
    /// máy đó phải có trong danh sách thành viên
    #[arg(long, requires = "lan", value_name = "MÃ_NÚT")]
    pub(crate) sync_with: Option<String>,
}

fn describe(peer: &LanPeer) -> String {
    let who = if peer.known {
        peer.name.as_deref().unwrap_or("(chưa đặt tên)").to_string()
    } else {
        "không có trong danh sách thành viên — sẽ không đồng bộ".to_string()
    };
    let addrs: Vec<String> = peer.addrs.iter().map(|a| a.to_string()).collect();
    format!("{who}\n     mã nút {}  tại {}", peer.id, addrs.join(", "))
}

/// Asks which machine to sync with, then to confirm its name and id;
/// `None` if the officer declines.
fn ask(peers: &[LanPeer]) -> Result<Option<usize>> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    print!("Nhập số thứ tự máy muốn đồng bộ (Enter để thôi): ");
    std::io::stdout().flush()?;
    stdin.lock().read_line(&mut line)?;
    let Ok(n) = line.trim().parse::<usize>() else {
        return Ok(None);
    };
    let Some(peer) = n.checked_sub(1).and_then(|i| peers.get(i)) else {
        println!("Không có máy số {n}.");
        return Ok(None);
    };
    if !peer.known {
        return Err(NodeError::LanUnknown(peer.id.clone()).into());
    }
    print!(
        "Đồng bộ với «{}», mã nút {}? Đối chiếu tên và mã với máy kia rồi gõ c để đồng ý: ",
        peer.name.as_deref().unwrap_or("(chưa đặt tên)"),
        peer.id
    );
    std::io::stdout().flush()?;
    line.clear();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "c" | "C" | "có" | "Có").then_some(n - 1))
}

/// Browses, lists, and syncs with the one confirmed.
pub(crate) fn run(
    node: Node,
    args: &LanArgs,
    json: bool,
    net: danvan_node::NetConfig,
) -> Result<()> {
    let timeout = Duration::from_secs(args.timeout).min(danvan_node::LAN_BROWSE_MAX);
    let wanted: Option<NodeId> = match &args.sync_with {
        Some(text) => Some(
            text.parse()
                .map_err(|e| anyhow::anyhow!("mã nút {text:?}: {e}"))?,
        ),
        None => None,
    };
    if !json {
        eprintln!(
            "Đang tìm máy danvan trong mạng nội bộ ({} giây)…",
            timeout.as_secs()
        );
    }
    let found = danvan_node::lan_browse(&node.id(), timeout)?;
    let peers = node.lan_peers(found)?;
    if json && wanted.is_none() {
        print_json(&serde_json::to_value(&peers)?);
        return Ok(());
    }
    if !json {
        if peers.is_empty() {
            println!(
                "Không thấy máy danvan nào (máy kia có đang chạy `danvan serve`, cùng mạng?)."
            );
        }
        for (i, peer) in peers.iter().enumerate() {
            println!("{:>2}. {}", i + 1, describe(peer));
        }
    }
    let chosen = match &wanted {
        Some(id) => {
            let text = id.to_string();
            let i = peers
                .iter()
                .position(|p| p.id == text)
                .ok_or_else(|| NodeError::LanNotFound(id.short()))?;
            if !peers[i].known {
                return Err(NodeError::LanUnknown(id.short()).into());
            }
            Some(i)
        }
        None if !peers.is_empty() && std::io::stdin().is_terminal() => ask(&peers)?,
        None => None,
    };
    let Some(i) = chosen else {
        return Ok(());
    };
    let peer = peers[i].clone();
    let runtime = crate::runtime()?;
    let summary = runtime.block_on(async move {
        let shared = danvan_node::SharedNode::new(node, false)?.with_net_config(net);
        let endpoint = shared.bind("0.0.0.0:0".parse()?)?;
        let mut progress = crate::sync_progress(json);
        let summary = shared.sync_lan(&endpoint, &peer, &mut progress).await;
        endpoint.close();
        anyhow::Ok(summary?)
    })?;
    crate::print_summary(&summary, json)
}

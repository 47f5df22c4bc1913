//! `danvan-relay`: a lossy-link UDP relay between a QUIC client and its
//! upstream on loopback, for testing sync over bad links by hand.

use std::net::SocketAddr;

use clap::Parser;
use danvan_relay::{LinkProfile, Outages, PROFILE_NAMES, Relay};

/// Chuyển tiếp UDP qua một đường truyền xấu giả lập (trễ, mất gói theo đợt,
/// giới hạn băng thông, mất sóng theo lịch).
#[derive(Parser, Debug)]
#[command(name = "danvan-relay", version)]
struct Args {
    /// Địa chỉ để máy khách quay số tới (mặc định cổng ngẫu nhiên trên loopback)
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Địa chỉ thật của nút/trạm phía sau
    #[arg(long)]
    upstream: SocketAddr,
    /// clean, edge, 3g hoặc flaky
    #[arg(long, default_value = "edge")]
    profile: String,
    /// Hạt giống ngẫu nhiên (mặc định: lấy từ đồng hồ, được in ra để chạy lại)
    #[arg(long)]
    seed: Option<u64>,
    /// Thời gian có sóng trước mỗi lần mất sóng, ms
    #[arg(long, requires = "outage_down_ms")]
    outage_up_ms: Option<u64>,
    /// Thời gian mất sóng mỗi lần, ms
    #[arg(long, requires = "outage_up_ms")]
    outage_down_ms: Option<u64>,
    /// Số lần mất sóng, sau đó có sóng mãi (mặc định: không dừng)
    #[arg(long)]
    outages: Option<u32>,
    /// Tự dừng sau chừng này ms (mặc định: chạy tới Ctrl+C)
    #[arg(long)]
    exit_after_ms: Option<u64>,
    /// In số liệu ra stderr sau mỗi chừng này ms
    #[arg(long, default_value_t = 10_000)]
    stats_every_ms: u64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("lỗi: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(mut profile) = LinkProfile::named(&args.profile) else {
        return Err(format!(
            "không có hồ sơ đường truyền {:?}; chọn một trong {}",
            args.profile,
            PROFILE_NAMES.join(", ")
        )
        .into());
    };
    if let (Some(up_ms), Some(down_ms)) = (args.outage_up_ms, args.outage_down_ms) {
        profile.outages = Some(Outages {
            up_ms,
            down_ms,
            count: args.outages.unwrap_or(u32::MAX),
        });
    } else if let (Some(o), Some(count)) = (profile.outages.as_mut(), args.outages) {
        o.count = count;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let relay = Relay::start(args.listen, args.upstream, profile, seed).await?;
        println!(
            "danvan-relay đang chuyển tiếp {} -> {}, hồ sơ {}, hạt giống {seed}",
            relay.local_addr(),
            args.upstream,
            args.profile
        );
        let deadline = args
            .exit_after_ms
            .map(|ms| tokio::time::Instant::now() + std::time::Duration::from_millis(ms));
        let mut report =
            tokio::time::interval(std::time::Duration::from_millis(args.stats_every_ms.max(100)));
        report.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => break,
                _ = report.tick() => eprintln!("{}", relay.figures()),
            }
        }
        println!("{}", relay.figures());
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

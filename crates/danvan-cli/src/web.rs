//! `danvan web` and `danvan serve --web`: the officers' web app on this node.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use danvan_node::{Node, SharedNode};

use crate::{WebCommand, WebUserCommand};

/// Runs `danvan web`: an account command, or the app until Ctrl+C.
pub(crate) fn run(
    node: Node,
    dir: &Path,
    command: Option<WebCommand>,
    listen: SocketAddr,
) -> Result<()> {
    match command {
        Some(WebCommand::User {
            command: WebUserCommand::Add { name },
        }) => {
            let password = read_password(&name)?;
            danvan_web::add_user(dir, &name, &password)?;
            println!("Đã lưu tài khoản {name}.");
            Ok(())
        }
        None => {
            // The offline authority's machine may show its town pages (to
            // sign rosters and hand out the file), but only to itself.
            if !listen.ip().is_loopback() && node.is_offline_authority()? {
                anyhow::bail!(
                    "đây là máy giữ khóa thẩm quyền ngoại tuyến: trang web chỉ mở tại 127.0.0.1 (không mở cho mạng), ví dụ `danvan web --listen 127.0.0.1:8420`"
                );
            }
            let runtime = crate::runtime()?;
            runtime.block_on(async move {
                let shared = SharedNode::new(node, true)?;
                let config = danvan_web::WebConfig {
                    listen,
                    data_dir: dir.to_path_buf(),
                };
                danvan_web::serve(shared, config, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
                println!("Đã dừng trang web.");
                anyhow::Ok(())
            })
        }
    }
}

/// The web app running beside `serve`; dropping it stops the app.
pub(crate) struct WebTask(tokio::task::JoinHandle<()>);

impl Drop for WebTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the web app beside `serve`.
pub(crate) async fn spawn(shared: SharedNode, dir: &Path, listen: SocketAddr) -> Result<WebTask> {
    let config = danvan_web::WebConfig {
        listen,
        data_dir: dir.to_path_buf(),
    };
    if !listen.ip().is_loopback() && !danvan_web::has_users(dir) {
        return Err(danvan_web::WebError::NoAccounts(listen).into());
    }
    Ok(WebTask(tokio::spawn(async move {
        if let Err(e) = danvan_web::serve(shared, config, std::future::pending()).await {
            tracing::error!("trang web dừng vì lỗi: {e}");
        }
    })))
}

fn read_password(name: &str) -> Result<String> {
    if let Ok(p) = std::env::var("DANVAN_WEB_PASSWORD") {
        return Ok(p);
    }
    eprint!("Mật khẩu cho {name}: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("không đọc được mật khẩu")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// How many ports after the asked one the demo tries when it is taken.
const DEMO_PORT_TRIES_MAX: u16 = 50;

/// Binds `addr`, or the next free port after it.
async fn bind_free(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    let mut last = None;
    for step in 0..DEMO_PORT_TRIES_MAX {
        let Some(port) = addr.port().checked_add(step) else {
            break;
        };
        let mut at = addr;
        at.set_port(port);
        match tokio::net::TcpListener::bind(at).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
        if addr.port() == 0 {
            break;
        }
    }
    let e = last.map(|e| e.to_string()).unwrap_or_default();
    anyhow::bail!(
        "không mở được trang web tại {addr} hay {DEMO_PORT_TRIES_MAX} cổng kế tiếp: {e}. Hãy chọn địa chỉ khác bằng --web"
    )
}

/// `danvan demo`: the scripted run, then the town left running with the web
/// app of the hub and of Phường Phổ Minh, until Ctrl+C.
pub(crate) async fn demo(keep: Option<&Path>, listen: SocketAddr) -> Result<()> {
    let town = danvan_node::demo::DemoTown::start(keep).await?;
    print!("{}", town.summary);
    let hub_listener = bind_free(listen).await?;
    let hub_addr = hub_listener.local_addr()?;
    let mut next = hub_addr;
    next.set_port(if listen.port() == 0 {
        0
    } else {
        hub_addr.port() + 1
    });
    let commune_listener = bind_free(next).await?;
    let commune_addr = commune_listener.local_addr()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut apps = tokio::task::JoinSet::new();
    for (node, listener, dir) in [
        (town.hub.clone(), hub_listener, town.base.join("hub")),
        (
            town.commune.clone(),
            commune_listener,
            town.base.join("pho-minh"),
        ),
    ] {
        let config = danvan_web::WebConfig {
            listen: listener.local_addr()?,
            data_dir: dir,
        };
        let mut stopped = stopped.clone();
        apps.spawn(danvan_web::serve_on(node, config, listener, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    println!();
    println!("Thị xã chạy thử đang hoạt động. Mở trình duyệt:");
    println!("  Văn phòng thị xã (trạm):   http://{hub_addr}/");
    println!("  Phường Phổ Minh (cán bộ):  http://{commune_addr}/");
    println!("Trạm nhận đồng bộ tại {}.", town.hub_sync_addr);
    match keep {
        Some(dir) => println!("Dữ liệu giữ lại tại {}.", dir.display()),
        None => println!(
            "Dữ liệu tạm tại {} sẽ bị xóa khi dừng.",
            town.base.display()
        ),
    }
    println!("Nhấn Ctrl+C để dừng.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(done) = apps.join_next() => {
            // An app ended on its own: that is an error worth showing.
            let _ = stop.send(true);
            town.stop().await?;
            done??;
            anyhow::bail!("trang web dừng bất ngờ");
        }
    }
    let _ = stop.send(true);
    while let Some(done) = apps.join_next().await {
        done??;
    }
    town.stop().await?;
    println!("Đã dừng thị xã chạy thử.");
    Ok(())
}

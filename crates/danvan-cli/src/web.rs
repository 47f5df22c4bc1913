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

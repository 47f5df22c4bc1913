//! The HTTP server: state shared by the handlers, the router, and the
//! listening loop on the node's tokio runtime.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use danvan_node::{Node, NodeError, SharedNode, TownDesk};

use crate::auth::Auth;
use crate::error::WebError;

/// Where `danvan web` listens unless told otherwise: loopback, so only
/// this machine's own browser reaches it and no login is needed.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";

/// Largest request body the app accepts: a USB bundle upload is the
/// largest thing posted (bundles of a commune's year are a few MB).
pub(crate) const BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// How the app is served.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The listening address.
    pub listen: SocketAddr,
    /// The data directory (for the accounts file).
    pub data_dir: std::path::PathBuf,
}

impl WebConfig {
    /// Whether every page needs an officer's login. On a loopback address
    /// only this machine's own users reach the app, and the operating
    /// system's account is the boundary; any other address is reachable
    /// from the office LAN.
    pub fn needs_login(&self) -> bool {
        !self.listen.ip().is_loopback()
    }
}

/// What the pages show of this machine, read once at start.
#[derive(Debug)]
pub(crate) struct NodeInfo {
    /// The machine's display name (or its short id).
    pub(crate) name: String,
    /// This node's unit id.
    pub(crate) unit: String,
    /// Its Vietnamese name.
    pub(crate) unit_name: String,
    /// The town office's work on this machine (`None`: not the town
    /// office): signing rosters where the authority key is, applying
    /// signed roster files on a hub that holds only rosters.
    pub(crate) town_office: Option<TownDesk>,
}

impl NodeInfo {
    fn read(node: &Node) -> NodeInfo {
        NodeInfo {
            name: node
                .name()
                .unwrap_or_else(|| format!("Nút {}", node.id().short())),
            unit: node.unit().to_string(),
            unit_name: node.units().name(node.unit()).to_string(),
            // Read at start, like the name: a hub that gets its first
            // roster while the app runs shows the town pages after a restart.
            town_office: node.town_desk().unwrap_or(None),
        }
    }

    /// What the header says of this machine: its name, and its unit when the
    /// name does not already say it.
    pub(crate) fn label(&self) -> String {
        if self.name == self.unit_name {
            self.name.clone()
        } else {
            format!("{} · {}", self.name, self.unit_name)
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) node: SharedNode,
    pub(crate) auth: Arc<Auth>,
    pub(crate) info: Arc<NodeInfo>,
    /// The sync started from the Đồng bộ page, one at a time.
    pub(crate) sync: Arc<crate::sync_runner::SyncRunner>,
}

impl AppState {
    /// Runs `f` on the node with the data directory held. Blocking store
    /// work runs in place on the multi-threaded runtime.
    pub(crate) fn call<R>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<R, NodeError>,
    ) -> Result<R, WebError> {
        Ok(self.node.with(f)??)
    }

    /// Like [`AppState::call`] for a write: afterwards live sync sessions of
    /// this process learn of the new changes and push them.
    pub(crate) fn write<R>(
        &self,
        f: impl FnOnce(&mut Node) -> Result<R, NodeError>,
    ) -> Result<R, WebError> {
        let out = self.call(f)?;
        self.node.refresh()?;
        Ok(out)
    }

    /// [`AppState::write`] with unusual dates (far ahead, decades back)
    /// let through when the person ticked the confirmation box — the web
    /// app's `--yes`; the node forgets the confirmation afterwards.
    pub(crate) fn write_confirmed<R>(
        &self,
        confirmed: bool,
        f: impl FnOnce(&mut Node) -> Result<R, NodeError>,
    ) -> Result<R, WebError> {
        self.write(|n| {
            n.confirm_unusual_dates(confirmed);
            let out = f(n);
            n.confirm_unusual_dates(false);
            out
        })
    }
}

pub(crate) fn router(state: AppState) -> Router {
    crate::pages::routes()
        .merge(crate::assets::routes())
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(state)
}

/// Serves the app for `node` until `shutdown` completes. Refuses to start
/// on a non-loopback address while no officer account exists.
pub async fn serve(
    node: SharedNode,
    config: WebConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    // Refused before binding, so no address is printed for an app that
    // will not start.
    if config.needs_login() && !crate::auth::has_users(&config.data_dir) {
        return Err(WebError::NoAccounts(config.listen));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| WebError::Listen {
            addr: config.listen,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| WebError::Listen {
        addr: config.listen,
        error,
    })?;
    println!("Trang web danvan: http://{addr}/");
    serve_on(node, config, listener, shutdown).await
}

/// Serves the app for `node` on a listener already bound (the demo picks
/// free ports itself) until `shutdown` completes. `config.listen` decides
/// whether logins are needed, as in [`serve`].
pub async fn serve_on(
    node: SharedNode,
    config: WebConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let auth = if config.needs_login() {
        if !crate::auth::has_users(&config.data_dir) {
            return Err(WebError::NoAccounts(config.listen));
        }
        Auth::accounts(&config.data_dir)?
    } else {
        Auth::local()
    };
    let info = node.with(|n| NodeInfo::read(n))?;
    let state = AppState {
        node,
        auth: Arc::new(auth),
        info: Arc::new(info),
        sync: Arc::new(crate::sync_runner::SyncRunner::default()),
    };
    tracing::info!("trang web tại http://{}/", config.listen);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|error| WebError::Listen {
            addr: config.listen,
            error,
        })
}

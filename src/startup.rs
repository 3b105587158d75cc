//! Building and running the service: the HTTP server (and, beside it, the background workers).

use crate::app::{AppContext, StartError};
use crate::web;
use actix_web::dev::Server;
use actix_web::{web::Data, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

pub struct Application {
    port: u16,
    server: Server,
    ctx: Arc<AppContext>,
}

impl Application {
    /// Bind the configured address (port 0 picks a free one) and prepare the server.
    pub fn build(ctx: Arc<AppContext>) -> Result<Application, StartError> {
        let addr = ctx.config.server.bind.clone();
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Listen { addr: addr.clone(), source })?;
        Application::with_listener(ctx, listener)
    }

    pub fn with_listener(ctx: Arc<AppContext>, listener: TcpListener) -> Result<Application, StartError> {
        // A page template that does not compile stops the start, not the first visit.
        web::pages::check().map_err(|e| StartError::Templates(e.to_string()))?;
        let addr = format!("{:?}", listener.local_addr().ok());
        let port = listener.local_addr().map_err(|source| StartError::Listen { addr: addr.clone(), source })?.port();
        let data = Data::new(Arc::clone(&ctx));
        // One count of sign-ins for all the server's workers.
        let exchanges = Data::new(web::oauth::ExchangeLimit::default());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(web::security_headers())
                .app_data(data.clone())
                .app_data(exchanges.clone())
                .configure(web::routes)
        })
        .workers(2)
        // Pages and /healthz use a few blocking threads each; callbacks have threads of their
        // own (`AppContext::look_threads`, the store's writer). Dozens of idle threads
        // would each keep allocator caches.
        .worker_max_blocking_threads(4)
        // Slow or idle clients (slowloris) are cut off instead of holding a connection.
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartError::Listen { addr, source })?
        .run();
        Ok(Application { port, server, ctx })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn context(&self) -> Arc<AppContext> {
        Arc::clone(&self.ctx)
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serve until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

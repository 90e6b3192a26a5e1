//! `cargo run -p custom-transport`: the hub on WebSocket/SSE/long polling at `http://127.0.0.1:7000/realtime` and on
//! newline-delimited JSON at `127.0.0.1:7001` (`TIDINGS_HTTP_ADDR`, `TIDINGS_TCP_ADDR` to change them). Try
//! `nc 127.0.0.1 7001` and type `{"type":"subscribe","id":1,"topic":"news:demo"}`, then publish from another one
//! with `{"type":"publish","topic":"news:demo","data":"hello"}`.

use actix_web::{App, HttpServer};

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the addresses are the program's output")]
async fn main() -> std::io::Result<()> {
    let http_addr = std::env::var("TIDINGS_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:7000".into());
    let tcp_addr = std::env::var("TIDINGS_TCP_ADDR").unwrap_or_else(|_| "127.0.0.1:7001".into());
    let hub = custom_transport::hub();
    let listener = tokio::net::TcpListener::bind(&tcp_addr).await?;
    println!("lines on tcp://{}", listener.local_addr()?);
    actix_web::rt::spawn(custom_transport::accept_loop(hub.clone(), listener));
    let server = HttpServer::new(move || App::new().service(tidings::scope("/realtime", &hub)))
        .tcp_nodelay(true)
        .bind(&http_addr)?;
    println!("websocket on ws://{}/realtime/ws", server.addrs()[0]);
    server.run().await
}

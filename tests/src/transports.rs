//! Running one scenario over every transport.

/// Runs each scenario, an `async fn(tidings_client::TransportKind)`, as one test per transport:
/// `websocket::NAME`, `sse::NAME`, `long_poll::NAME`, each bounded by `timeout` seconds.
///
/// ```ignore
/// on_every_transport!(timeout = 60; subscribe_and_publish, presence_join_and_leave);
/// ```
#[macro_export]
macro_rules! on_every_transport {
    (timeout = $secs:expr; $($scenario:ident),* $(,)?) => {
        $crate::on_every_transport!(@module $secs, websocket, WebSocket; $($scenario),*);
        $crate::on_every_transport!(@module $secs, sse, Sse; $($scenario),*);
        $crate::on_every_transport!(@module $secs, long_poll, LongPoll; $($scenario),*);
    };
    (@module $secs:expr, $module:ident, $kind:ident; $($scenario:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    let run = super::$scenario(tidings_client::TransportKind::$kind);
                    let limit = std::time::Duration::from_secs($secs);
                    tokio::time::timeout(limit, run).await.expect("scenario timed out");
                }
            )*
        }
    };
}

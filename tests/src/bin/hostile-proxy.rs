//! A hostile HTTP proxy in front of a Tidings server, for tests and measurements in other languages (the browser
//! and Node client tests, the connect-time comparison).
//!
//! Usage: `hostile-proxy --backend 127.0.0.1:PORT [SETTING...]`, settings as `Profile::parse` reads them
//! (`corporate`, `upgrades=hang`, `buffer=262144`, `stall-after=2048`, `idle-cut=5`...). It prints
//! `listening on http://127.0.0.1:PORT` once it accepts connections; each line on its standard input is more
//! settings, applied to the connections accepted from then on, and answered with `ok` (or `error: ...`). It exits
//! when its standard input closes.

use std::io::{BufRead, Write};

use tidings_tests::hostile_proxy::{HostileProxy, Profile};

#[expect(
    clippy::print_stdout,
    reason = "the address and the answers are this program's output, for the test that started it"
)]
fn main() {
    let mut args = std::env::args().skip(1);
    let mut backend = None;
    let mut settings = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--backend" {
            backend = args.next();
        } else {
            settings.push(arg);
        }
    }
    let Some(backend) = backend.and_then(|addr| addr.parse().ok()) else {
        eprintln!("usage: hostile-proxy --backend 127.0.0.1:PORT [upgrades=allow|refuse|hang] [buffer=BYTES] ...");
        std::process::exit(2);
    };
    let mut profile = match Profile::parse(&settings.join(" ")) {
        Ok(profile) => profile,
        Err(error) => {
            eprintln!("hostile-proxy: {error}");
            std::process::exit(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let proxy = runtime.block_on(HostileProxy::start(backend, profile.clone())).expect("bind a loopback port");
    println!("listening on {}", proxy.url());
    let _ = std::io::stdout().flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut next = profile.clone();
        let answer = line.split_whitespace().try_for_each(|word| next.apply(word));
        match answer {
            Ok(()) => {
                profile = next;
                proxy.set_profile(profile.clone());
                println!("ok");
            }
            Err(error) => println!("error: {error}"),
        }
        let _ = std::io::stdout().flush();
    }
    drop(proxy);
}

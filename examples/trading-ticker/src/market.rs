//! The simulated market: fifty symbols whose prices follow a random walk, with trades and a five-level order book,
//! and a one-second price series per symbol for the chart's history.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// The symbols and their names, in watchlist order.
pub const SYMBOLS: [(&str, &str); 50] = [
    ("AAPL", "Apple"),
    ("MSFT", "Microsoft"),
    ("GOOG", "Alphabet"),
    ("AMZN", "Amazon"),
    ("NVDA", "Nvidia"),
    ("META", "Meta Platforms"),
    ("TSLA", "Tesla"),
    ("BRK", "Berkshire Hathaway"),
    ("JPM", "JPMorgan Chase"),
    ("V", "Visa"),
    ("JNJ", "Johnson & Johnson"),
    ("WMT", "Walmart"),
    ("PG", "Procter & Gamble"),
    ("MA", "Mastercard"),
    ("UNH", "UnitedHealth"),
    ("HD", "Home Depot"),
    ("XOM", "Exxon Mobil"),
    ("CVX", "Chevron"),
    ("KO", "Coca-Cola"),
    ("PEP", "PepsiCo"),
    ("ABBV", "AbbVie"),
    ("MRK", "Merck"),
    ("AVGO", "Broadcom"),
    ("COST", "Costco"),
    ("ADBE", "Adobe"),
    ("CRM", "Salesforce"),
    ("NFLX", "Netflix"),
    ("AMD", "AMD"),
    ("INTC", "Intel"),
    ("CSCO", "Cisco"),
    ("ORCL", "Oracle"),
    ("QCOM", "Qualcomm"),
    ("TXN", "Texas Instruments"),
    ("IBM", "IBM"),
    ("NKE", "Nike"),
    ("MCD", "McDonald's"),
    ("DIS", "Disney"),
    ("BA", "Boeing"),
    ("CAT", "Caterpillar"),
    ("GS", "Goldman Sachs"),
    ("MS", "Morgan Stanley"),
    ("BAC", "Bank of America"),
    ("C", "Citigroup"),
    ("PFE", "Pfizer"),
    ("T", "AT&T"),
    ("VZ", "Verizon"),
    ("SBUX", "Starbucks"),
    ("UBER", "Uber"),
    ("SHOP", "Shopify"),
    ("PYPL", "PayPal"),
];

/// Book levels on each side.
const LEVELS: usize = 5;
/// Seconds of price series kept per symbol for the chart.
pub const SERIES_SECONDS: usize = 600;

/// One symbol's quote, as its topic publishes it.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    /// The symbol.
    pub symbol: &'static str,
    /// Last price.
    pub price: f64,
    /// The session's opening price (the change is measured from it).
    pub open: f64,
    /// Best bid.
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Shares traded since the open.
    pub volume: u64,
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The trade that moved the price, if one did.
    pub trade: Option<Trade>,
    /// Five levels each side, best first: `[price, size]`.
    pub book: Book,
}

/// A trade.
#[derive(Debug, Clone, Serialize)]
pub struct Trade {
    /// Price.
    pub price: f64,
    /// Shares.
    pub size: u64,
    /// `"buy"` (at the ask) or `"sell"` (at the bid).
    pub side: &'static str,
}

/// An order book snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Book {
    /// Bids, best (highest) first.
    pub bids: Vec<(f64, u64)>,
    /// Asks, best (lowest) first.
    pub asks: Vec<(f64, u64)>,
}

struct Instrument {
    symbol: &'static str,
    price: f64,
    open: f64,
    volume: u64,
    /// One point per second: (second since the epoch, last price in it).
    series: VecDeque<(u64, f64)>,
}

/// The whole market. Deterministic for a seed (the tests use that); `step` moves it on.
pub struct Market {
    rng: SmallRng,
    instruments: Vec<Instrument>,
}

impl Market {
    /// A market with every symbol at a plausible starting price.
    pub fn new(seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let instruments = SYMBOLS
            .iter()
            .map(|(symbol, _)| {
                let price = round_cents(rng.random_range(20.0..600.0));
                Instrument { symbol, price, open: price, volume: 0, series: VecDeque::new() }
            })
            .collect();
        Market { rng, instruments }
    }

    /// Moves each symbol with probability `activity` (0 to 1) and returns the new quotes, at time `now_ms`.
    pub fn step(&mut self, now_ms: u64, activity: f64) -> Vec<Quote> {
        let mut quotes = Vec::new();
        for i in 0..self.instruments.len() {
            if self.rng.random_bool(activity.clamp(0.0, 1.0)) {
                quotes.push(self.tick(i, now_ms));
            }
        }
        quotes
    }

    fn tick(&mut self, i: usize, now_ms: u64) -> Quote {
        let rng = &mut self.rng;
        let instrument = &mut self.instruments[i];
        // A small random walk (about 0.05% per tick), pulled gently back toward the open so prices stay plausible.
        let drift = (instrument.open - instrument.price) / instrument.open * 0.001;
        let step = rng.random_range(-1.0..1.0) * 0.0005 + drift;
        let price = round_cents((instrument.price * (1.0 + step)).max(0.01));
        // In whole cents, so that the bid is always below the ask: a spread of about 2 basis points, one cent at least.
        let cents = (price * 100.0).round() as i64;
        let spread = ((cents as f64 * 0.0002).round() as i64).max(1);
        let bid_cents = cents - spread / 2;
        let (bid, ask) = (bid_cents as f64 / 100.0, (bid_cents + spread) as f64 / 100.0);
        let trade = rng.random_bool(0.3).then(|| {
            let size = rng.random_range(1..50) * 100;
            let side = if price >= instrument.price { "buy" } else { "sell" };
            Trade { price: if side == "buy" { ask } else { bid }, size, side }
        });
        if let Some(trade) = &trade {
            instrument.volume += trade.size;
        }
        instrument.price = price;
        let level = |n: usize, rng: &mut SmallRng| rng.random_range(1..40) * 100 * (n as u64 + 1);
        let book = Book {
            bids: (0..LEVELS).map(|n| ((bid_cents - spread * n as i64) as f64 / 100.0, level(n, rng))).collect(),
            asks: (0..LEVELS).map(|n| ((bid_cents + spread * (n as i64 + 1)) as f64 / 100.0, level(n, rng))).collect(),
        };
        let second = now_ms / 1000;
        match instrument.series.back_mut() {
            // The same second (or the clock stepped back): the last point takes the price.
            Some((last, value)) if *last >= second => *value = price,
            _ => {
                instrument.series.push_back((second, price));
                if instrument.series.len() > SERIES_SECONDS {
                    instrument.series.pop_front();
                }
            }
        }
        Quote {
            symbol: instrument.symbol,
            price,
            open: instrument.open,
            bid,
            ask,
            volume: instrument.volume,
            time: now_ms,
            trade,
            book,
        }
    }

    /// The symbol's price series: `(milliseconds since the epoch, price)`, one per second with a tick, oldest
    /// first; `None` for an unknown symbol.
    pub fn series(&self, symbol: &str) -> Option<Vec<(u64, f64)>> {
        let instrument = self.instruments.iter().find(|i| i.symbol == symbol)?;
        Some(instrument.series.iter().map(|(second, price)| (second * 1000, *price)).collect())
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_walk_books_are_ordered_and_the_series_has_one_point_per_second() {
        let mut market = Market::new(7);
        let mut quotes = 0;
        for step in 0..3000u64 {
            for quote in market.step(1_000_000 + step * 20, 0.8) {
                quotes += 1;
                assert!(quote.price > 0.0 && quote.bid < quote.ask, "{quote:?}");
                assert!(quote.book.bids.windows(2).all(|w| w[0].0 > w[1].0), "bids best first");
                assert!(quote.book.asks.windows(2).all(|w| w[0].0 < w[1].0), "asks best first");
                assert!((quote.price / quote.open - 1.0).abs() < 0.5, "prices stay plausible: {quote:?}");
            }
        }
        // 3000 steps of 20 ms at 80% activity: about 2,400 quotes per symbol, 60 seconds.
        assert!((100_000..140_000).contains(&quotes), "{quotes}");
        let series = market.series("AAPL").unwrap();
        assert_eq!(series.len(), 60);
        assert!(series.windows(2).all(|w| w[1].0 == w[0].0 + 1000));
        assert!(market.series("NOPE").is_none());
    }
}

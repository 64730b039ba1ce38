//! Arguments of the tracing commands: `trace`, `screen` and `batch`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Ledger a command works on.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainArg {
    Btc,
    Eth,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionArg {
    /// Where did the funds go.
    Forward,
    /// Where did the funds come from (exposure).
    Backward,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyArg {
    /// Every output touched by taint is fully tainted (an upper bound; not conserving).
    Poison,
    /// Taint is shared in proportion to value.
    Haircut,
    /// First in, first out (Bitcoin Redux): inputs' coins fill outputs in order.
    Fifo,
    /// Last in, first out.
    Lifo,
    /// Tainted coins first, into the highest-value outputs.
    Tiho,
    /// Clean coins first, into the smallest outputs.
    Ciso,
    /// Accounts only: tainted coins leave first (taint-first-out).
    Seniority,
    /// Accounts only: tainted coins leave last (taint-last-out).
    ReversedSeniority,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeModeArg {
    /// The fee is the last coins of the input stream (default for ordered policies).
    Tail,
    /// Every input pays its proportional share of the fee (default for haircut/poison).
    Proportional,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyArg {
    All,
    DirtyFirst,
    PureDirtyFirst,
}

/// How taint crosses a detected CoinJoin.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThroughCoinjoinArg {
    /// Stop in front of it and report the funds as having reached a mixer.
    Stop,
    /// Spread the participant's mixed amount equally over the outputs of its denomination and
    /// give its change back to it (falls back to haircut, flagged uncertain, when ambiguous).
    EqualSplit,
    /// Proportional over every output.
    Haircut,
    /// Every output possibly tainted (upper bound).
    Poison,
    /// The trace's own policy, as for any transaction (an artefact at a CoinJoin).
    AsPolicy,
}

impl From<ThroughCoinjoinArg> for chaintrace_trace::mixer::ThroughCoinjoin {
    fn from(a: ThroughCoinjoinArg) -> Self {
        use chaintrace_trace::mixer::ThroughCoinjoin as T;
        match a {
            ThroughCoinjoinArg::Stop => T::Stop,
            ThroughCoinjoinArg::EqualSplit => T::EqualSplit,
            ThroughCoinjoinArg::Haircut => T::Haircut,
            ThroughCoinjoinArg::Poison => T::Poison,
            ThroughCoinjoinArg::AsPolicy => T::AsPolicy,
        }
    }
}

/// How taint crosses a Tornado Cash pool.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThroughTornadoArg {
    /// End at the pool, reported as reaching a mixer.
    Stop,
    /// Every later withdrawal gets the deposits' taint by its probability of spending them
    /// (the pool-wide share, sharpened where a heuristic links it).
    AnonymitySet,
    /// Only withdrawals a heuristic links to a tainted deposit.
    LinkedOnly,
}

impl From<ThroughTornadoArg> for chaintrace_trace::account::tornado::ThroughTornado {
    fn from(a: ThroughTornadoArg) -> Self {
        use chaintrace_trace::account::tornado::ThroughTornado as T;
        match a {
            ThroughTornadoArg::Stop => T::Stop,
            ThroughTornadoArg::AnonymitySet => T::AnonymitySet,
            ThroughTornadoArg::LinkedOnly => T::LinkedOnly,
        }
    }
}

/// Tornado Cash linking (Ethereum): the heuristics' parameters.
#[derive(Args, Debug, Clone, Default)]
pub struct TornadoArgs {
    /// H1 and H2 link only within one pool.
    #[arg(long)]
    pub tornado_by_pool: bool,

    /// H3: direct transactions needed between a depositor and a withdrawal's recipient.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub tornado_min_interactions: u32,

    /// H4: the window in which a portfolio of deposits (and of withdrawals) is gathered.
    #[arg(long, default_value_t = 24, value_name = "HOURS")]
    pub tornado_window_hours: u64,

    /// Heuristics to run, e.g. `H1,H2` (default: all five).
    #[arg(long, value_name = "LIST")]
    pub tornado_heuristics: Option<String>,

    /// Anonymity-points claims for H5, CSV `address,block,ap` with a header.
    #[arg(long, value_name = "FILE")]
    pub ap_claims: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    Table,
    Json,
    Csv,
    Dot,
}

/// Trace stolen funds: where did they go (forward), or where did they come from (backward).
///
/// Examples:
///   chaintrace trace --chain btc --from 0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9:0
///   chaintrace trace --chain btc --from 'label:Bitvault Exchange hack' --policy fifo --format json
///   chaintrace trace --chain btc --from bc1q... --direction backward --max-hops 6
///   chaintrace trace --chain eth --from 0x7e1f000000000000000000000000000000000001 --policy fifo
///   chaintrace trace --chain eth --from 0x<theft tx hash> --format json
#[derive(Args, Debug)]
pub struct TraceArgs {
    #[arg(long, value_enum, default_value_t = ChainArg::Btc)]
    pub chain: ChainArg,

    /// Where the traced coins are. Bitcoin: an address (every output it received), `txid:vout`,
    /// a txid (all its outputs). Ethereum: a 0x address (everything it sends, of every asset,
    /// is tainted) or a 0x transaction hash (what its sender sends in it). Both: `label:NAME`
    /// (everything carrying that label). Repeat for several sources; `CASE=REF` names the
    /// taint label of that source (default: `stolen`).
    #[arg(long = "from", required = true, value_name = "REF")]
    pub from: Vec<String>,

    #[arg(long, value_enum, default_value_t = DirectionArg::Forward)]
    pub direction: DirectionArg,

    /// Taint policy. Backward traces support haircut and fifo.
    #[arg(long, value_enum, default_value_t = PolicyArg::Haircut)]
    pub policy: PolicyArg,

    /// How fees take taint (default: tail for ordered policies, proportional otherwise).
    #[arg(long, value_enum)]
    pub fee_mode: Option<FeeModeArg>,

    /// Let taint paid as fees flow into the miners' coinbases (otherwise fees are a sink).
    #[arg(long)]
    pub taint_fee: bool,

    /// Stop following after this many transactions (default: 100 forward, 6 backward).
    #[arg(long, value_name = "N")]
    pub max_hops: Option<u32>,

    /// Do not follow outputs whose tainted amount is below this (sats, or e.g. `0.001btc`;
    /// on Ethereum wei, or e.g. `0.01eth`).
    #[arg(long, default_value = "0", value_name = "AMOUNT")]
    pub min_amount: String,

    /// Categories where the trace stops: a comma list (exchange,bridge,mixer,...), `services`
    /// (any service: the forward default), `any` (any label: the backward default) or `none`.
    #[arg(long, value_name = "CATEGORIES")]
    pub stop_at: Option<String>,

    /// Ignore spends after this block height.
    #[arg(long, value_name = "HEIGHT")]
    pub until_height: Option<u32>,

    /// Expansion strategy (dirty-first strategies stop where clean coins mix in).
    #[arg(long, value_enum, default_value_t = StrategyArg::All)]
    pub strategy: StrategyArg,

    /// Tainted outputs followed per transaction; the smallest beyond are reported, not followed.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_fanout: usize,

    /// How taint crosses a CoinJoin (Wasabi, Whirlpool, JoinMarket, generic equal-output).
    /// Every crossing is reported with its detector and confidence.
    #[arg(long, value_enum, default_value_t = ThroughCoinjoinArg::EqualSplit)]
    pub through_coinjoin: ThroughCoinjoinArg,

    /// How taint crosses a Tornado Cash pool (Ethereum). Pools are the mainnet instances and
    /// any address an imported registry labels `Tornado Cash pool …`. What comes out is
    /// reported apart, with the heuristic, confidence and anonymity set of each withdrawal.
    #[arg(long, value_enum, default_value_t = ThroughTornadoArg::AnonymitySet)]
    pub through_tornado: ThroughTornadoArg,

    #[command(flatten)]
    pub tornado: TornadoArgs,

    /// Transactions a trace may process before the rest is reported as truncated.
    #[arg(long, default_value_t = 5_000_000, value_name = "N")]
    pub max_txs: usize,

    /// Outputs taken from one source address (hub addresses have millions).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_source_outputs: usize,

    #[arg(long, value_enum, default_value_t = TraceFormat::Table)]
    pub format: TraceFormat,

    /// Worker threads for fetching (results are identical for any count; default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Screen a deposit: where did its funds come from, and how risky is that?
///
/// Reports exposure per category (direct = the sender's counterparty, indirect = further
/// away), the entities reached, and a risk level. Stops at any labelled address.
///
///   chaintrace screen --chain btc 3f1c...:0
///   chaintrace screen --chain btc bc1q... --severity gambling=high@1 --fail-on high
///   chaintrace screen --chain eth 0x<deposit tx hash>
#[derive(Args, Debug)]
pub struct ScreenArgs {
    #[arg(long, value_enum, default_value_t = ChainArg::Btc)]
    pub chain: ChainArg,

    /// The deposit: `txid:vout`, a txid, or an address (all the outputs it received); on
    /// Ethereum a 0x transaction hash (its first value transfer) or a 0x address (its balance
    /// of every asset).
    #[arg(value_name = "REF")]
    pub reference: String,

    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_hops: u32,

    /// Backward allocation: haircut (proportional) or fifo (exact ancestry).
    #[arg(long, value_enum, default_value_t = PolicyArg::Haircut)]
    pub policy: PolicyArg,

    /// Where the walk stops (default `any`: any labelled address); see `trace --stop-at`.
    #[arg(long, value_name = "CATEGORIES")]
    pub stop_at: Option<String>,

    /// At a CoinJoin: `stop` counts what came through it as coinjoin exposure; any other mode
    /// walks on through its inputs, by the screening policy, as through any transaction.
    #[arg(long, value_enum, default_value_t = ThroughCoinjoinArg::Stop)]
    pub through_coinjoin: ThroughCoinjoinArg,

    /// Override a category's severity: `CATEGORY=LEVEL[@MIN_PERCENT]`, e.g. `gambling=high@1`.
    #[arg(long, value_name = "RULE")]
    pub severity: Vec<String>,

    /// Severity table as CSV lines `category,severity,min_share_percent` (replaces the default).
    #[arg(long, value_name = "FILE")]
    pub severity_file: Option<PathBuf>,

    /// Exit with status 1 when the risk level is at least this (for scripts).
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<String>,

    #[arg(long, value_enum, default_value_t = crate::args::Format::Table)]
    pub format: crate::args::Format,

    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Run many traces from a CSV file, in parallel, resumably.
///
/// CASES.csv has a header and the columns `case_id,chain,ref,direction,policy,max_hops,min_amount`
/// (direction, policy, max_hops and min_amount may be empty for the defaults). Each case writes
/// `OUT/<case_id>.json`; `OUT/summary.csv` lists every case. Rerunning skips finished cases;
/// a bad row fails only its own case.
///
///   chaintrace batch cases.csv --out results --jobs 2
#[derive(Args, Debug)]
pub struct BatchArgs {
    #[arg(value_name = "CASES.csv")]
    pub cases: PathBuf,

    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Cases run at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: usize,

    /// Recompute cases that already have a result.
    #[arg(long)]
    pub force: bool,
}

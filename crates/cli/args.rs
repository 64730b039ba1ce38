//! Command-line arguments. Every flag's help says what it is for, not only what it is.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Follow stolen cryptocurrency: index Bitcoin into an embedded RocksDB, then trace it.
///
/// Start with `chaintrace demo` to see it work on bundled data, or index your own node:
///
///   chaintrace ingest btc --blocks-dir ~/.bitcoin/blocks
///   chaintrace status
#[derive(Parser, Debug)]
#[command(name = "chaintrace", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Index directory (created on first ingest).
    #[arg(
        long,
        global = true,
        default_value = "./chaintrace-db",
        env = "CHAINTRACE_DB"
    )]
    pub db: PathBuf,

    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Add chain data to the index.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Show what the index holds: tip, counts, size on disk.
    Status(StatusArgs),
    /// Trace funds forward (where did they go) or backward (where did they come from).
    Trace(crate::trace_args::TraceArgs),
    /// Screen a deposit: exposure per category and a risk level.
    Screen(crate::trace_args::ScreenArgs),
    /// Run many traces from a CSV file, in parallel and resumably.
    Batch(crate::trace_args::BatchArgs),
    /// Import and look up attributions: exchanges, mixers, thefts, sanctioned addresses.
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// Look up one block, transaction or address in the index.
    #[command(subcommand)]
    Show(ShowCommand),
    /// Address clusters (common-input ownership): who else holds an address's coins, and why.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run chaintrace end to end on the bundled fixtures, in a temporary index.
    Demo(DemoArgs),
    /// Write deterministic regtest test chains (for tests and benchmarks).
    #[command(hide = true, subcommand)]
    Gen(GenCommand),
}

#[derive(Subcommand, Debug)]
pub enum IngestCommand {
    /// Index Bitcoin blocks, from Bitcoin Core's block files or from a running node.
    ///
    /// From block files (fast bulk load; Bitcoin Core may keep running):
    ///   chaintrace ingest btc --blocks-dir ~/.bitcoin/blocks
    ///
    /// From a node's REST interface (start bitcoind with -rest), following its tip:
    ///   chaintrace ingest btc --rest http://127.0.0.1:8332
    ///
    /// Rerunning continues where the index stopped; an interrupted run loses nothing.
    ///
    /// Address clusters are kept as blocks arrive (see --clustering):
    ///   chaintrace ingest btc --blocks-dir ~/.bitcoin/blocks --clustering inputs+change
    Btc(BtcIngestArgs),
    /// Index Ethereum from any JSON-RPC node: ether, internal transfers, ERC-20, gas.
    ///
    /// Needs eth_getBlockByNumber, eth_getBlockReceipts (or per-transaction receipts) and
    /// either debug_traceBlockByNumber (callTracer) or trace_block for internal transfers:
    ///   chaintrace ingest eth --rpc http://127.0.0.1:8545
    ///   chaintrace ingest eth --rpc http://127.0.0.1:8545 --from 19000000 --to 19001000
    ///   chaintrace ingest eth --rpc http://127.0.0.1:8545 --follow --confirmations 2
    ///
    /// Rerunning continues where the index stopped; an interrupted run loses nothing. When the
    /// node switches to another branch, the index rolls back to the fork and follows it.
    Eth(EthIngestArgs),
}

#[derive(Args, Debug)]
pub struct EthIngestArgs {
    /// JSON-RPC URL of an Ethereum node (geth, erigon, reth, nethermind, besu, anvil).
    #[arg(long, value_name = "URL")]
    pub rpc: String,

    /// First block of a new index (default: genesis). Balances before it are unknown.
    #[arg(long, value_name = "N")]
    pub from: Option<u64>,

    /// Last block to index (default: the node's head, minus --confirmations).
    #[arg(long, value_name = "M")]
    pub to: Option<u64>,

    /// Stay this many blocks behind the head.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub confirmations: u64,

    /// Blocks fetched from the node at once.
    #[arg(long, default_value_t = 8, value_name = "C")]
    pub concurrency: usize,

    /// Where internal transfers come from: auto (callTracer, else parity), calltracer,
    /// parity, or none (internal transfers will be missing).
    #[arg(long, default_value = "auto", value_name = "SOURCE")]
    pub traces: EthTraces,

    /// Keep following the node's head until interrupted.
    #[arg(long)]
    pub follow: bool,

    /// With --follow: seconds between polls of the head.
    #[arg(long, default_value_t = 4.0, value_name = "SECS")]
    pub poll_secs: f64,

    /// Refuse reorganisations deeper than this many blocks.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub max_reorg_depth: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EthTraces {
    Auto,
    Calltracer,
    Parity,
    None,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["blocks_dir", "rest"])))]
pub struct BtcIngestArgs {
    /// Bitcoin Core blocks directory (or data directory containing `blocks/`).
    #[arg(long, value_name = "DIR")]
    pub blocks_dir: Option<PathBuf>,

    /// Base URL of a Bitcoin Core node with `-rest` enabled, e.g. http://127.0.0.1:8332.
    #[arg(long, value_name = "URL")]
    pub rest: Option<String>,

    /// Network of the block files (the REST source reports its own).
    #[arg(long, default_value = "main", value_name = "NET")]
    pub network: chaintrace_model::Network,

    /// With --rest: stop once caught up with the node instead of following it.
    #[arg(long, requires = "rest")]
    pub once: bool,

    /// With --rest on an empty index: start at this height instead of genesis. Prevouts below it
    /// are fetched from the node (needs `-txindex`).
    #[arg(long, requires = "rest", value_name = "HEIGHT")]
    pub start_height: Option<u32>,

    /// With --rest: do not index past this height.
    #[arg(long, requires = "rest", value_name = "HEIGHT")]
    pub stop_height: Option<u32>,

    /// With --rest: seconds between polls of the node's tip.
    #[arg(long, default_value_t = 5.0, requires = "rest", value_name = "SECS")]
    pub poll_secs: f64,

    /// Memory for the ingest caches, in MiB (unspent outputs and address ids).
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub cache_mb: usize,

    /// Which ownership rules build the address clusters that `chaintrace cluster` answers
    /// from. Default for a new index: inputs. An index keeps the rules it was built with (a
    /// rule started part-way through the chain would give wrong clusters), so asking an
    /// existing index for other rules is an error; leave the flag out to continue with its own.
    #[arg(long, value_enum, value_name = "RULES")]
    pub clustering: Option<Clustering>,
}

/// The rules `--clustering` can ask for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clustering {
    /// No clusters: a faster ingest, and `chaintrace cluster` has nothing to answer.
    Off,
    /// The addresses a transaction spends from have one owner (common-input ownership), except
    /// in CoinJoins and when the inputs carry labels of two different services.
    Inputs,
    /// Also the change: in a transaction that pays none of its input addresses, the one output
    /// paying an address never seen before joins the sender's cluster (Meiklejohn's heuristic
    /// 2). Two new addresses among the outputs leave it undecided (a payee's new address is as
    /// new as the change), and a payee's new address taken for change merges two owners for
    /// good, so check `cluster explain` before relying on such a merge.
    #[value(name = "inputs+change")]
    InputsChange,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Also compute a SHA-256 digest of the whole index content (reads every row). Two indexes
    /// with the same digest hold the same data, however they were built.
    #[arg(long)]
    pub digest: bool,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum ShowCommand {
    /// A block by height or hash.
    Block(ShowArgs),
    /// A transaction by txid, with resolved inputs and who spent each output.
    Tx(ShowArgs),
    /// An address: what it received, what is still unspent.
    Address(ShowAddressArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Height, block hash or txid.
    pub what: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ShowAddressArgs {
    /// Address (or `script:<sha256>` for a script without an address).
    pub address: String,
    /// List at most this many received outputs (totals always cover all of them).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo index in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,

    /// Directory holding the bundled fixtures (default: `fixtures/` of the source tree).
    #[arg(long, value_name = "DIR", env = "CHAINTRACE_FIXTURES")]
    pub fixtures: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum GenCommand {
    /// A background-traffic regtest chain of about --txs transactions.
    Chain(GenChainArgs),
    /// The documented heist scenario with its ground-truth manifest.
    Heist(GenHeistArgs),
    /// The mixers scenario (CoinJoins, a 54-hop peel chain, clustering traps) with its
    /// ground-truth manifest.
    Mixers(GenMixersArgs),
}

#[derive(Args, Debug)]
pub struct GenChainArgs {
    #[arg(long)]
    pub out: PathBuf,
    /// Approximate number of non-coinbase transactions.
    #[arg(long, default_value_t = 200_000)]
    pub txs: u64,
    #[arg(long, default_value_t = 200)]
    pub txs_per_block: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of short stale forks to include.
    #[arg(long, default_value_t = 0)]
    pub stale: u32,
    /// Obfuscate the files with this 16-hex-digit XOR key, as Bitcoin Core 28+ does.
    #[arg(long)]
    pub xor: Option<String>,
    /// Shuffle blocks within windows of this many blocks (out-of-order storage).
    #[arg(long, default_value_t = 0)]
    pub shuffle: u32,
    /// Maximum size of each blk file in bytes.
    #[arg(long, default_value_t = 128 << 20)]
    pub max_file_size: u64,
}

#[derive(Args, Debug)]
pub struct GenHeistArgs {
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenMixersArgs {
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum LabelsCommand {
    /// Import label files: GraphSense TagPacks, OFAC address lists, CSV, Etherscan exports,
    /// the Tornado Cash pool registry.
    ///
    /// Examples:
    ///   chaintrace labels import packs/hacks.yaml packs/walletexplorer.yaml
    ///   chaintrace labels import sanctioned_addresses_XBT.txt sanctioned_addresses_ETH.txt
    ///   chaintrace labels import tornado_pools.json binance-deposit.csv
    ///   chaintrace labels import case-42.csv --strict
    ///
    /// Formats (detected from the name and content unless --format says):
    ///   tagpack    GraphSense TagPack YAML (.yaml, .yml); header keys are defaults for every
    ///              tag; tags of network ETH label Ethereum addresses
    ///   ofac       sanctioned_addresses_<ASSET>.txt (one address per line) or .json (an array);
    ///              the ETH, USDT and USDC lists label Ethereum addresses
    ///   csv        header row required: address,label,category[,abuse,source,confidence,chain,
    ///              is_cluster_definer,actor]; address may be TXID:VOUT to label one output;
    ///              0x addresses are Ethereum unless the chain column says otherwise
    ///   etherscan  an Etherscan label export (<label>.csv) or combinedAccountLabels.json;
    ///              exchanges, mixers, bridges and sanctions lists map to their categories
    ///   tornado    the Tornado Cash pool registry (tornado_pools.json, tornadocontracts.csv):
    ///              every pool, the router and the proxies become mixers
    ///
    /// Bitcoin addresses are checked against the index's network; Ethereum addresses must be
    /// 0x + 40 hex digits, with a valid EIP-55 checksum when mixed-case. Invalid entries are
    /// listed with their line and skipped (--strict refuses the whole import instead).
    /// Re-importing a file (same path) replaces its earlier labels. Labels of addresses that
    /// are not indexed yet apply once they are.
    /// Creates the index directory if it does not exist.
    #[command(verbatim_doc_comment)]
    Import(LabelsImportArgs),
    /// List the imported labels with how many addresses and outputs each names.
    ///
    /// Examples:
    ///   chaintrace labels list
    ///   chaintrace labels list --category mixer --format json
    #[command(verbatim_doc_comment)]
    List(LabelsListArgs),
    /// Show every label of an address or an output, and whether it is in the index.
    ///
    /// Examples:
    ///   chaintrace labels show 1DssS2srnAra8ghUpgEHsEARswej4SMgd3
    ///   chaintrace labels show 85930adfe5176fc1548517fbae77914527b7fb91418318ba9b17cc6046b9ef7e:0
    ///   chaintrace labels show 0x47CE0C6eD5B0Ce3d3A51fdb1C52DC66a7c3c2936
    #[command(verbatim_doc_comment)]
    Show(LabelsShowArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelFormat {
    /// GraphSense TagPack YAML.
    Tagpack,
    /// OFAC sanctioned-address list (.txt one per line, or .json array).
    Ofac,
    /// CSV with a header row.
    Csv,
    /// Etherscan label export (<label>.csv) or combinedAccountLabels.json.
    Etherscan,
    /// Tornado Cash pool registry (tornado_pools.json, tornadocontracts.csv).
    Tornado,
}

#[derive(Args, Debug)]
pub struct LabelsImportArgs {
    /// Label files to import (each one atomically).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Format of the files (default: detected per file).
    #[arg(long, value_enum)]
    pub format: Option<LabelFormat>,

    /// Bitcoin network of the addresses, for an index that holds no blocks yet (an index with
    /// blocks uses its own network).
    #[arg(long, value_name = "NET")]
    pub network: Option<chaintrace_model::Network>,

    /// Currency of entries whose file does not state one (e.g. BTC, ETH): OFAC lists not named
    /// sanctioned_addresses_<ASSET>, TagPacks without currency/network, CSV rows without a
    /// chain (those default to BTC).
    #[arg(long, value_name = "CODE")]
    pub chain: Option<String>,

    /// Refuse the import (exit 65, nothing written) if any entry is invalid.
    #[arg(long)]
    pub strict: bool,

    /// How to print the import report.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Args, Debug)]
pub struct LabelsListArgs {
    /// Only labels of this category (exchange, mixer, theft, sanctioned, ... or a GraphSense id
    /// such as mixing_service).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct LabelsShowArgs {
    /// An address, or TXID:VOUT for one output.
    #[arg(value_name = "ADDRESS|TXID:VOUT")]
    pub target: String,

    /// Network of the address, for an index that holds no blocks yet.
    #[arg(long, value_name = "NET")]
    pub network: Option<chaintrace_model::Network>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// The cluster of an address: id, size, members, labels, first/last activity, big merges.
    ///
    /// Examples:
    ///   chaintrace cluster show bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh
    ///   chaintrace cluster show 1DssS2srnAra8ghUpgEHsEARswej4SMgd3 --format json
    #[command(verbatim_doc_comment)]
    Show(ClusterShowArgs),
    /// Why two addresses are in one cluster: the transactions that spent from them together (or,
    /// in an index built with --clustering inputs+change, paid change from one to the other),
    /// step by step from the first address to the second.
    Explain(ClusterExplainArgs),
    /// Merges worth a look: clusters that jumped past a size threshold (1,000, 10,000, ...) or
    /// joined two large clusters, and transactions skipped because their inputs carry labels of
    /// different services.
    Alerts(ClusterAlertsArgs),
}

#[derive(Args, Debug)]
pub struct ClusterShowArgs {
    /// A Bitcoin address of the index's network.
    pub address: String,
    /// List at most this many members (size, labels and activity cover more).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ClusterExplainArgs {
    /// The address the explanation starts from.
    pub from: String,
    /// The address it ends at.
    pub to: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ClusterAlertsArgs {
    /// Only growth alerts whose cluster reached at least this many addresses.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub min_size: u64,
    /// List at most this many alerts.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

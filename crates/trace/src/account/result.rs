//! What a forward account trace reports: where the taint is, how it got there, and a summary
//! per asset that reconciles to the source.
//!
//! Amounts serialize as decimal strings of base units: JSON numbers lose precision past 2^53,
//! and wei amounts are routinely past 2^60.

use chaintrace_model::eth::{AssetId, EventNum, TransferKind, U256};
use chaintrace_model::{AddrId, TxNum};
use serde::{Serialize, Serializer};

use super::state::AccountRules;
use crate::attribution::Attr;
use crate::taint::{Parts, Seg, TaintLabel};

/// Serializes a `U256` as a decimal string.
pub fn decimal<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Why taint stopped at a holding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStatus {
    /// The account holds it (as of the end of the trace).
    Held,
    /// It reached an attributed service in the stop set.
    StoppedAtLabel,
    /// It reached a mixer (or CoinJoin coordinator) in the stop set.
    Mixer,
    /// It reached the hop limit (the account keeps absorbing taint, even taint that later
    /// arrives by a shorter path).
    MaxHops,
    /// Dust: a first tainted credit below the minimum amount, not followed.
    BelowMin,
    /// Destroyed: burnt gas, or tokens sent to the zero address.
    Burnt,
    /// Paid as a tip while tips are not followed to the miner.
    Fee,
    /// Not followed further because of a cap (events per account, or in total).
    Truncated,
}

/// An amount of one label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LabelAmount {
    pub label: TaintLabel,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
}

/// A run of coins with one label (`None`: clean), oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub label: Option<TaintLabel>,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
}

impl From<Seg<U256>> for Segment {
    fn from(s: Seg<U256>) -> Self {
        Segment {
            label: s.label,
            amount: s.amount,
        }
    }
}

/// An amount of one asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AssetAmount {
    pub asset: AssetId,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
}

pub(crate) fn label_amounts(parts: &Parts<U256>) -> Vec<LabelAmount> {
    parts
        .iter()
        .map(|(label, amount)| LabelAmount {
            label: *label,
            amount: *amount,
        })
        .collect()
}

/// One traced source and the taint it emitted per asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    pub addr: AddrId,
    pub label: TaintLabel,
    /// First event from which its outgoing transfers are tainted.
    pub from: EventNum,
    /// One past the last such event (`None`: for good).
    pub until: Option<EventNum>,
    /// The transaction, for a transaction source.
    pub tx: Option<TxNum>,
    /// Tainted amount it sent, per asset (what counts as source in the summary).
    pub sent: Vec<AssetAmount>,
}

/// Taint at one (address, asset) when the trace ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountHolding {
    pub addr: AddrId,
    pub asset: AssetId,
    pub status: AccountStatus,
    /// The account's balance: tracked by the trace for `held`; read from the index at the
    /// trace's horizon otherwise (zero for the zero address).
    #[serde(serialize_with = "decimal")]
    pub balance: U256,
    #[serde(serialize_with = "decimal")]
    pub tainted: U256,
    pub by_label: Vec<LabelAmount>,
    /// The balance's coins oldest first, for held accounts under FIFO and LIFO.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// Fewest transfers between a source and this account.
    pub hops: u32,
    /// First event that brought taint here.
    pub since: EventNum,
    pub attrs: Vec<Attr>,
}

/// One transfer that carried taint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountFlow {
    pub event: EventNum,
    pub tx: Option<TxNum>,
    pub height: u32,
    pub kind: TransferKind,
    pub from: AddrId,
    pub to: AddrId,
    pub asset: AssetId,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
    #[serde(serialize_with = "decimal")]
    pub tainted: U256,
    pub by_label: Vec<LabelAmount>,
    /// Transfers from the source, this one included.
    pub hop: u32,
    /// Sent by a pass-through contract (matched to its inflows in the transaction).
    pub pass_through: bool,
}

/// Per label and asset: where the source's taint ended up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    #[serde(serialize_with = "decimal")]
    pub source: U256,
    /// In holdings other than burnt, fee and dust.
    #[serde(serialize_with = "decimal")]
    pub holdings: U256,
    #[serde(serialize_with = "decimal")]
    pub burnt: U256,
    #[serde(serialize_with = "decimal")]
    pub fees: U256,
    /// Dust not followed (`below-min` holdings).
    #[serde(serialize_with = "decimal")]
    pub dust: U256,
}

impl Reconciliation {
    /// Whether `source = holdings + burnt + fees + dust`.
    pub fn balances(&self) -> bool {
        let out = [self.holdings, self.burnt, self.fees, self.dust]
            .into_iter()
            .try_fold(U256::ZERO, |s, x| s.checked_add(x));
        out == Some(self.source)
    }
}

/// One label's reconciliation within an asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LabelSummary {
    pub label: TaintLabel,
    #[serde(flatten)]
    pub totals: Reconciliation,
}

/// Tainted amount in holdings of one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StatusAmount {
    pub status: AccountStatus,
    #[serde(serialize_with = "decimal")]
    pub amount: U256,
}

/// One asset's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssetSummary {
    pub asset: AssetId,
    /// All labels together.
    #[serde(flatten)]
    pub totals: Reconciliation,
    pub by_label: Vec<LabelSummary>,
    pub by_status: Vec<StatusAmount>,
    /// Whether every label reconciles (`None` for poison, which over-approximates).
    pub conserved: Option<bool>,
}

/// The result of a forward account trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountTrace {
    pub rules: AccountRules,
    pub sources: Vec<SourceReport>,
    /// Sorted by asset, address, status.
    pub holdings: Vec<AccountHolding>,
    /// In the order processed: canonical order (gas after value movements with
    /// `gas_first: false`).
    pub flows: Vec<AccountFlow>,
    /// Sorted by asset.
    pub summary: Vec<AssetSummary>,
    /// Whether every asset reconciles (`None` for poison).
    pub conserved: Option<bool>,
    /// Whether a cap cut the trace short (see the `truncated` holdings).
    pub truncated: bool,
    /// Events from here on were not looked at.
    pub horizon: EventNum,
    pub events_processed: u64,
    pub txs_processed: u64,
}

impl AccountTrace {
    /// The holding of (addr, asset) with `status`, if any.
    pub fn holding(
        &self,
        addr: AddrId,
        asset: AssetId,
        status: AccountStatus,
    ) -> Option<&AccountHolding> {
        self.holdings
            .iter()
            .find(|h| h.addr == addr && h.asset == asset && h.status == status)
    }

    /// Tainted amount of `asset` held at `addr`, whatever the status.
    pub fn tainted_at(&self, addr: AddrId, asset: AssetId) -> U256 {
        self.holdings
            .iter()
            .filter(|h| h.addr == addr && h.asset == asset)
            .fold(U256::ZERO, |s, h| s.saturating_add(h.tainted))
    }

    /// The summary of `asset`, if the trace touched it.
    pub fn asset(&self, asset: AssetId) -> Option<&AssetSummary> {
        self.summary.iter().find(|s| s.asset == asset)
    }
}

/// Reconciles the sources against the holdings, per asset and label.
pub(crate) fn summarize(
    sources: &[SourceReport],
    holdings: &[AccountHolding],
    lossless: bool,
) -> (Vec<AssetSummary>, Option<bool>) {
    use std::collections::BTreeMap;
    let mut by: BTreeMap<AssetId, BTreeMap<TaintLabel, Reconciliation>> = BTreeMap::new();
    let mut statuses: BTreeMap<(AssetId, AccountStatus), U256> = BTreeMap::new();
    for s in sources {
        for a in &s.sent {
            let r = by.entry(a.asset).or_default().entry(s.label).or_default();
            r.source = r.source.saturating_add(a.amount);
        }
    }
    for h in holdings {
        let st = statuses.entry((h.asset, h.status)).or_default();
        *st = st.saturating_add(h.tainted);
        for p in &h.by_label {
            let r = by.entry(h.asset).or_default().entry(p.label).or_default();
            let slot = match h.status {
                AccountStatus::Burnt => &mut r.burnt,
                AccountStatus::Fee => &mut r.fees,
                AccountStatus::BelowMin => &mut r.dust,
                _ => &mut r.holdings,
            };
            *slot = slot.saturating_add(p.amount);
        }
    }
    let summary: Vec<AssetSummary> = by
        .into_iter()
        .map(|(asset, labels)| {
            let mut totals = Reconciliation::default();
            for r in labels.values() {
                totals.source = totals.source.saturating_add(r.source);
                totals.holdings = totals.holdings.saturating_add(r.holdings);
                totals.burnt = totals.burnt.saturating_add(r.burnt);
                totals.fees = totals.fees.saturating_add(r.fees);
                totals.dust = totals.dust.saturating_add(r.dust);
            }
            let conserved = lossless.then(|| labels.values().all(Reconciliation::balances));
            let by_status = statuses
                .range((asset, AccountStatus::Held)..=(asset, AccountStatus::Truncated))
                .map(|((_, status), amount)| StatusAmount {
                    status: *status,
                    amount: *amount,
                })
                .collect();
            AssetSummary {
                asset,
                totals,
                by_label: labels
                    .into_iter()
                    .map(|(label, totals)| LabelSummary { label, totals })
                    .collect(),
                by_status,
                conserved,
            }
        })
        .collect();
    let conserved = lossless.then(|| summary.iter().all(|s| s.conserved == Some(true)));
    (summary, conserved)
}

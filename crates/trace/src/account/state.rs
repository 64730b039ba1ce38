//! Taint on one (address, asset) balance, and what a transfer out of it carries (spec §2.2).
//!
//! An account is one pot per asset, so the policies decide which of its coins leave with each
//! debit:
//!
//! | policy | state | debit of `y` from balance `bal` |
//! |---|---|---|
//! | poison | label set | the whole amount carries every label |
//! | haircut | tainted amount per label | `y·T[c]/bal` of each label |
//! | FIFO / LIFO | coins as segments, oldest first | `y` units off the front / the back |
//! | seniority | tainted amount per label | `min(y, T)`: taint leaves first |
//! | reversed seniority | tainted amount per label | `max(0, T − (bal − y))`: taint leaves last |
//!
//! Balance the trace did not see arrive (an account's balance when taint first reaches it, or
//! a debit larger than the tracked balance because the index starts late) is clean and older
//! than anything tracked: the front of a FIFO queue, the clean part of a haircut balance.
//!
//! Haircut rounds down by default, the remainder staying with the sender (spec §9 for the
//! account model; with several labels, units that would leave more taint behind than balance
//! are sent too), or by largest remainder between what is sent and what is kept; both conserve
//! every unit. A transfer's taint travels as a [`Parcel`] in the shape of the policy:
//! segments (in the order they left: newest first under LIFO), per-label amounts, or labels.

use std::collections::VecDeque;

use chaintrace_model::eth::U256;
use serde::Serialize;

use super::amount::{add, lr_split, mul_div};
use crate::ledger::TraceError;
use crate::taint::{coalesce, Labels, Parts, Seg, Segs, Taint, TaintLabel};

/// How an account's coins leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountPolicy {
    Poison,
    Haircut,
    Fifo,
    Lifo,
    /// Taint-first-out.
    Seniority,
    /// Taint-last-out.
    ReversedSeniority,
}

impl AccountPolicy {
    /// The named policies users choose from.
    pub const NAMED: [(&'static str, AccountPolicy); 6] = [
        ("poison", AccountPolicy::Poison),
        ("haircut", AccountPolicy::Haircut),
        ("fifo", AccountPolicy::Fifo),
        ("lifo", AccountPolicy::Lifo),
        ("seniority", AccountPolicy::Seniority),
        ("reversed-seniority", AccountPolicy::ReversedSeniority),
    ];

    pub fn parse(name: &str) -> Option<AccountPolicy> {
        let name = name.replace('_', "-");
        Self::NAMED
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, p)| *p)
    }

    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether the policy conserves taint (poison over-approximates instead).
    pub fn is_lossless(self) -> bool {
        self != AccountPolicy::Poison
    }

    fn shape(self) -> Shape {
        match self {
            AccountPolicy::Poison => Shape::Labels,
            AccountPolicy::Fifo | AccountPolicy::Lifo => Shape::Segments,
            _ => Shape::Amounts,
        }
    }
}

/// The three state shapes of spec §0.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Labels,
    Amounts,
    Segments,
}

/// How a haircut debit rounds each label's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// `floor(y·T[c]/bal)`; the remainder stays with the sender (the spec's account default).
    Floor,
    /// Largest remainder between the part sent and the part kept.
    LargestRemainder,
}

/// A policy with its rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AccountRules {
    pub policy: AccountPolicy,
    pub rounding: Rounding,
}

impl AccountRules {
    pub fn new(policy: AccountPolicy) -> Self {
        AccountRules {
            policy,
            rounding: Rounding::Floor,
        }
    }
}

/// What one transfer carries: its amount and the taint on it (`None`: clean).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    pub amount: U256,
    pub taint: Option<Taint<U256>>,
}

impl Parcel {
    pub fn clean(amount: U256) -> Self {
        Parcel {
            amount,
            taint: None,
        }
    }

    /// A parcel entirely tainted by `label`, in the shape `policy` uses.
    pub fn seeded(policy: AccountPolicy, label: TaintLabel, amount: U256) -> Self {
        Parcel::clean(amount).fully_tainted(policy, label).0
    }

    pub fn is_tainted(&self) -> bool {
        self.taint.is_some()
    }

    /// How much of it is tainted (poison: all of it).
    pub fn tainted(&self) -> U256 {
        self.taint
            .as_ref()
            .map_or(U256::ZERO, |t| t.tainted(self.amount))
    }

    /// Tainted amount per label (poison: the whole amount under each label).
    pub fn by_label(&self) -> Parts<U256> {
        self.taint
            .as_ref()
            .map(|t| t.by_label(self.amount))
            .unwrap_or_default()
    }

    /// Tainted amount per label, never more than the amount in total (a poison parcel counts
    /// under its first label only): the lossless reading of any shape.
    pub fn parts(&self) -> Parts<U256> {
        match &self.taint {
            Some(Taint::Poison(labels)) => {
                labels.iter().map(|l| (*l, self.amount)).take(1).collect()
            }
            _ => self.by_label(),
        }
    }

    /// The parcel as ordered segments (per-label amounts first, then the clean rest).
    pub fn segments(&self) -> Segs<U256> {
        match &self.taint {
            Some(Taint::Ordered(segs)) => segs.clone(),
            _ => {
                let parts = self.parts();
                let tainted = parts
                    .iter()
                    .fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a));
                let segs = parts.iter().map(|(l, a)| Seg::tainted(*l, *a));
                coalesce(segs.chain([Seg::clean(self.amount.saturating_sub(tainted))]))
            }
        }
    }

    /// A parcel of `amount` of which `parts` (per label, capped at `amount` in total) are
    /// tainted, in the shape `policy` uses: the taint a mixer's withdrawal carries out.
    pub fn with_parts(policy: AccountPolicy, amount: U256, parts: &[(TaintLabel, U256)]) -> Self {
        let mut room = amount;
        let mut capped: Parts<U256> = Parts::new();
        for (l, a) in parts {
            let take = (*a).min(room);
            room -= take;
            add_part(&mut capped, *l, take);
        }
        let taint = match policy.shape() {
            _ if capped.is_empty() => None,
            Shape::Labels => Taint::poison(capped.iter().map(|(l, _)| *l)),
            Shape::Amounts => Taint::haircut(capped),
            Shape::Segments => {
                let segs = capped.iter().map(|(l, a)| Seg::tainted(*l, *a));
                Taint::ordered(coalesce(segs.chain([Seg::clean(room)])))
            }
        };
        Parcel { amount, taint }
    }

    /// The parcel with every clean unit relabelled `label`: what leaves a permanently tainted
    /// account. Taint it already carried keeps its labels (so per-label totals still
    /// reconcile); returns the amount newly tainted, which counts as source.
    pub fn fully_tainted(self, policy: AccountPolicy, label: TaintLabel) -> (Parcel, U256) {
        let amount = self.amount;
        if amount.is_zero() {
            return (Parcel::clean(amount), U256::ZERO);
        }
        let (taint, created) = match policy.shape() {
            Shape::Labels => {
                let mut labels = self.taint.as_ref().map(Taint::labels).unwrap_or_default();
                labels.push(label);
                (Taint::poison(labels), amount)
            }
            Shape::Amounts => {
                let mut parts = self.parts();
                let created = amount.saturating_sub(sum_parts(&parts));
                add_part(&mut parts, label, created);
                (Taint::haircut(parts), created)
            }
            Shape::Segments => {
                let segs = self.segments();
                let created = segs
                    .iter()
                    .filter(|s| s.label.is_none())
                    .fold(U256::ZERO, |s, g| s.saturating_add(g.amount));
                let relabelled = segs.into_iter().map(|s| Seg {
                    label: s.label.or(Some(label)),
                    amount: s.amount,
                });
                (Taint::ordered(relabelled), created)
            }
        };
        (Parcel { amount, taint }, created)
    }
}

/// Σ of per-label amounts (saturating: callers keep them within a balance).
pub(crate) fn sum_parts(parts: &[(TaintLabel, U256)]) -> U256 {
    parts
        .iter()
        .fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a))
}

/// Adds `amount` of `label` to sorted per-label amounts.
pub(crate) fn add_part(parts: &mut Parts<U256>, label: TaintLabel, amount: U256) {
    if amount.is_zero() {
        return;
    }
    match parts.binary_search_by_key(&label, |(l, _)| *l) {
        Ok(i) => parts[i].1 = parts[i].1.saturating_add(amount),
        Err(i) => parts.insert(i, (label, amount)),
    }
}

/// The taint book of one balance, in the policy's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Book {
    /// Poison: every label that ever reached the balance (sorted).
    Labels(Labels),
    /// Haircut and the seniority policies: tainted amount per label (sorted, non-zero,
    /// summing to at most the balance).
    Amounts(Parts<U256>),
    /// FIFO and LIFO: the coins oldest first (coalesced, no empty segment, summing to the
    /// balance). A deque: FIFO takes from the front, LIFO from the back, both add at the back.
    Queue(VecDeque<Seg<U256>>),
}

/// Taint state of one (address, asset) balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    rules: AccountRules,
    balance: U256,
    book: Book,
}

impl AccountState {
    /// A state holding `untracked` clean units the trace did not see arrive.
    pub fn new(rules: AccountRules, untracked: U256) -> Self {
        let book = match rules.policy.shape() {
            Shape::Labels => Book::Labels(Labels::new()),
            Shape::Amounts => Book::Amounts(Parts::new()),
            Shape::Segments => Book::Queue(VecDeque::new()),
        };
        let mut s = AccountState {
            rules,
            balance: U256::ZERO,
            book,
        };
        s.top_up(untracked);
        s
    }

    pub fn rules(&self) -> AccountRules {
        self.rules
    }

    pub fn balance(&self) -> U256 {
        self.balance
    }

    /// Tainted units held (poison: the whole balance once any label arrived).
    pub fn tainted(&self) -> U256 {
        match &self.book {
            Book::Labels(l) if l.is_empty() => U256::ZERO,
            Book::Labels(_) => self.balance,
            Book::Amounts(parts) => sum_parts(parts),
            Book::Queue(q) => q
                .iter()
                .filter(|s| s.label.is_some())
                .fold(U256::ZERO, |s, g| s.saturating_add(g.amount)),
        }
    }

    /// Tainted units per label, sorted by label (poison: the balance under each label).
    pub fn by_label(&self) -> Parts<U256> {
        self.taint()
            .map(|t| t.by_label(self.balance))
            .unwrap_or_default()
    }

    /// The state as a [`Taint`] (segments oldest first), `None` if nothing is tainted.
    pub fn taint(&self) -> Option<Taint<U256>> {
        match &self.book {
            Book::Labels(l) => Taint::poison(l.iter().copied()),
            Book::Amounts(parts) => Taint::haircut(parts.iter().copied()),
            Book::Queue(q) => Taint::ordered(q.iter().copied()),
        }
    }

    /// The coins oldest first (one clean segment for the non-ordered shapes' clean part).
    pub fn segments(&self) -> Vec<Seg<U256>> {
        match &self.book {
            Book::Queue(q) => q.iter().copied().collect(),
            _ => Parcel {
                amount: self.balance,
                taint: self.taint(),
            }
            .segments()
            .into_vec(),
        }
    }

    /// Whether the state keeps its invariants: per-label amounts within the balance, segments
    /// coalesced, non-empty and summing to the balance.
    pub fn is_consistent(&self) -> bool {
        match &self.book {
            Book::Labels(l) => l.windows(2).all(|w| w[0] < w[1]),
            Book::Amounts(parts) => {
                parts.windows(2).all(|w| w[0].0 < w[1].0)
                    && parts.iter().all(|(_, a)| !a.is_zero())
                    && sum_parts(parts) <= self.balance
            }
            Book::Queue(q) => {
                let total = q.iter().fold(U256::ZERO, |s, g| s.saturating_add(g.amount));
                let coalesced = q
                    .iter()
                    .zip(q.iter().skip(1))
                    .all(|(a, b)| a.label != b.label);
                total == self.balance && coalesced && q.iter().all(|s| !s.amount.is_zero())
            }
        }
    }

    /// Adds an incoming transfer.
    pub fn credit(&mut self, p: &Parcel) -> Result<(), TraceError> {
        self.balance = add(self.balance, p.amount, "an account balance")?;
        match &mut self.book {
            Book::Labels(labels) => {
                if let Some(t) = &p.taint {
                    labels.extend(t.labels());
                    labels.sort();
                    labels.dedup();
                }
            }
            Book::Amounts(parts) => {
                for (l, a) in p.parts() {
                    add_part(parts, l, a);
                }
            }
            Book::Queue(q) => {
                for s in p.segments() {
                    push_back(q, s);
                }
            }
        }
        Ok(())
    }

    /// Takes `amount` out under the policy and returns what it carries. A debit larger than
    /// the balance first adds the shortfall as untracked clean balance (the index missed
    /// where it came from). Zero amounts carry nothing, not even poison labels: zero-value
    /// token transfers are a common spam that must not spread taint.
    pub fn debit(&mut self, amount: U256) -> Result<Parcel, TraceError> {
        if amount.is_zero() {
            return Ok(Parcel::clean(amount));
        }
        if amount > self.balance {
            self.top_up(amount - self.balance);
        }
        let (balance, rules) = (self.balance, self.rules);
        let taint = match &mut self.book {
            Book::Labels(labels) => Taint::poison(labels.iter().copied()),
            Book::Amounts(parts) => Taint::haircut(take_amounts(parts, balance, amount, rules)?),
            Book::Queue(q) if rules.policy == AccountPolicy::Lifo => {
                Taint::ordered(take_back(q, amount))
            }
            Book::Queue(q) => Taint::ordered(take_front(q, amount)),
        };
        self.balance = balance.saturating_sub(amount);
        Ok(Parcel { amount, taint })
    }

    /// Adds clean units older than everything held.
    fn top_up(&mut self, untracked: U256) {
        if untracked.is_zero() {
            return;
        }
        self.balance = self.balance.saturating_add(untracked);
        if let Book::Queue(q) = &mut self.book {
            match q.front_mut() {
                Some(s) if s.label.is_none() => s.amount = s.amount.saturating_add(untracked),
                _ => q.push_front(Seg::clean(untracked)),
            }
        }
    }
}

fn push_back(q: &mut VecDeque<Seg<U256>>, s: Seg<U256>) {
    if s.amount.is_zero() {
        return;
    }
    match q.back_mut() {
        Some(b) if b.label == s.label => b.amount = b.amount.saturating_add(s.amount),
        _ => q.push_back(s),
    }
}

/// FIFO: `want` units off the front, oldest first.
fn take_front(q: &mut VecDeque<Seg<U256>>, mut want: U256) -> Segs<U256> {
    let mut out = Segs::new();
    while !want.is_zero() {
        let Some(front) = q.front_mut() else { break };
        let n = front.amount.min(want);
        out.push(Seg {
            label: front.label,
            amount: n,
        });
        front.amount -= n;
        want -= n;
        if front.amount.is_zero() {
            q.pop_front();
        }
    }
    out
}

/// LIFO: `want` units off the back, newest first (a segment is consumed from its end).
fn take_back(q: &mut VecDeque<Seg<U256>>, mut want: U256) -> Segs<U256> {
    let mut out = Segs::new();
    while !want.is_zero() {
        let Some(back) = q.back_mut() else { break };
        let n = back.amount.min(want);
        out.push(Seg {
            label: back.label,
            amount: n,
        });
        back.amount -= n;
        want -= n;
        if back.amount.is_zero() {
            q.pop_back();
        }
    }
    out
}

/// The per-label amounts a debit of `y` from `bal` takes (and removes from `parts`).
fn take_amounts(
    parts: &mut Parts<U256>,
    bal: U256,
    y: U256,
    rules: AccountRules,
) -> Result<Parts<U256>, TraceError> {
    let sent = match rules.policy {
        AccountPolicy::Seniority | AccountPolicy::ReversedSeniority => {
            seniority_shares(parts, bal, y, rules.policy)?
        }
        _ => haircut_shares(parts, bal, y, rules.rounding)?,
    };
    for (part, s) in parts.iter_mut().zip(&sent) {
        part.1 = part.1.saturating_sub(*s);
    }
    let out = parts
        .iter()
        .zip(&sent)
        .map(|((l, _), s)| (*l, *s))
        .collect();
    parts.retain(|(_, a)| !a.is_zero());
    Ok(out)
}

/// Haircut: each label sends its share `y/bal` of its tainted amount.
fn haircut_shares(
    parts: &Parts<U256>,
    bal: U256,
    y: U256,
    rounding: Rounding,
) -> Result<Vec<U256>, TraceError> {
    if rounding == Rounding::Floor {
        let mut sent: Vec<U256> = parts.iter().map(|(_, t)| mul_div(y, *t, bal)).collect();
        keep_within_balance(parts, &mut sent, bal, y);
        return Ok(sent);
    }
    // Caps keep the labels' parts within what is sent and what is kept, so several labels
    // rounding up together cannot overfill either side.
    let weights = [y, bal.saturating_sub(y)];
    let mut room = weights;
    let mut sent = Vec::with_capacity(parts.len());
    for (_, t) in parts {
        let shares = lr_split(*t, &weights, Some(&room))?;
        room[0] = room[0].saturating_sub(shares[0]);
        room[1] = room[1].saturating_sub(shares[1]);
        sent.push(shares[0]);
    }
    Ok(sent)
}

/// Rounding every label down can leave more taint behind than the balance left (two labels
/// of 1 in a balance of 2, sending 1, would send none): send the excess too, one unit per
/// label in order of largest remainder (ties to the lower label).
fn keep_within_balance(parts: &Parts<U256>, sent: &mut [U256], bal: U256, y: U256) {
    let kept = parts
        .iter()
        .zip(sent.iter())
        .fold(U256::ZERO, |s, ((_, t), x)| {
            s.saturating_add(t.saturating_sub(*x))
        });
    let mut excess = kept.saturating_sub(bal.saturating_sub(y));
    if excess.is_zero() {
        return;
    }
    let mut order: Vec<(U256, usize)> = parts
        .iter()
        .enumerate()
        .map(|(i, (_, t))| (super::amount::mul_div_rem(y, *t, bal).1, i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    while !excess.is_zero() {
        let before = excess;
        for (_, i) in &order {
            if excess.is_zero() {
                break;
            }
            if sent[*i] < parts[*i].1 {
                sent[*i] += U256::from(1u64);
                excess -= U256::from(1u64);
            }
        }
        if excess == before {
            break; // cannot happen while Σ taint ≤ balance; never loop forever
        }
    }
}

/// Seniority (taint first out) and reversed seniority (taint last out) fix only the tainted
/// total sent; with several labels it is shared in proportion to each label's amount.
fn seniority_shares(
    parts: &Parts<U256>,
    bal: U256,
    y: U256,
    policy: AccountPolicy,
) -> Result<Vec<U256>, TraceError> {
    let total = sum_parts(parts);
    let sent = match policy {
        AccountPolicy::Seniority => y.min(total),
        _ => total.saturating_sub(bal.saturating_sub(y)).min(y),
    };
    let weights: Vec<U256> = parts.iter().map(|(_, a)| *a).collect();
    Ok(lr_split(sent, &weights, None)?.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: TaintLabel = TaintLabel(0);
    const S2: TaintLabel = TaintLabel(1);

    fn u(v: u64) -> U256 {
        U256::from(v)
    }

    const LOSSLESS: [AccountPolicy; 5] = [
        AccountPolicy::Haircut,
        AccountPolicy::Fifo,
        AccountPolicy::Lifo,
        AccountPolicy::Seniority,
        AccountPolicy::ReversedSeniority,
    ];

    #[test]
    fn names_round_trip() {
        for (n, p) in AccountPolicy::NAMED {
            assert_eq!(AccountPolicy::parse(n), Some(p));
            assert_eq!(p.name(), n);
        }
        assert_eq!(
            AccountPolicy::parse("Reversed_Seniority"),
            Some(AccountPolicy::ReversedSeniority)
        );
        assert_eq!(AccountPolicy::parse("tiho"), None);
    }

    #[test]
    fn untracked_balance_is_clean_and_oldest() {
        let mut s = AccountState::new(AccountRules::new(AccountPolicy::Fifo), u(10));
        s.credit(&Parcel::seeded(AccountPolicy::Fifo, S, u(5)))
            .unwrap();
        // Overdrawing adds the shortfall at the front, so it leaves first.
        let p = s.debit(u(20)).unwrap();
        assert_eq!(
            p.segments().into_vec(),
            vec![Seg::clean(u(15)), Seg::tainted(S, u(5))]
        );
        assert_eq!(s.balance(), U256::ZERO);
        assert!(s.is_consistent());
    }

    #[test]
    fn zero_value_transfers_carry_nothing() {
        for p in AccountPolicy::NAMED.map(|(_, p)| p) {
            let mut s = AccountState::new(AccountRules::new(p), U256::ZERO);
            s.credit(&Parcel::seeded(p, S, u(5))).unwrap();
            assert_eq!(s.debit(U256::ZERO).unwrap(), Parcel::clean(U256::ZERO));
        }
    }

    #[test]
    fn sources_relabel_only_clean_units() {
        let mixed = Parcel {
            amount: u(10),
            taint: Taint::ordered([Seg::clean(u(4)), Seg::tainted(S2, u(6))]),
        };
        let (p, created) = mixed.fully_tainted(AccountPolicy::Fifo, S);
        assert_eq!(created, u(4));
        assert_eq!(
            p.segments().into_vec(),
            vec![Seg::tainted(S, u(4)), Seg::tainted(S2, u(6))]
        );
        let (p, created) = Parcel::clean(u(7)).fully_tainted(AccountPolicy::Haircut, S);
        assert_eq!((p.by_label().into_vec(), created), (vec![(S, u(7))], u(7)));
        let (p, _) = Parcel::clean(u(7)).fully_tainted(AccountPolicy::Poison, S);
        assert_eq!(p.tainted(), u(7));
    }

    #[test]
    fn largest_remainder_caps_several_labels() {
        // Two labels of 1 in a balance of 2; sending 1 may not send 2 tainted units.
        let mut rules = AccountRules::new(AccountPolicy::Haircut);
        rules.rounding = Rounding::LargestRemainder;
        let mut s = AccountState::new(rules, U256::ZERO);
        s.credit(&Parcel::seeded(AccountPolicy::Haircut, S, u(1)))
            .unwrap();
        s.credit(&Parcel::seeded(AccountPolicy::Haircut, S2, u(1)))
            .unwrap();
        let p = s.debit(u(1)).unwrap();
        assert_eq!(p.tainted(), u(1));
        assert_eq!(s.tainted(), u(1));
    }

    #[test]
    fn floor_never_keeps_more_taint_than_balance() {
        // Two labels of 1 in a balance of 2: rounding both down would send no taint and keep
        // 2 tainted units in a balance of 1.
        let mut s = AccountState::new(AccountRules::new(AccountPolicy::Haircut), U256::ZERO);
        s.credit(&Parcel::seeded(AccountPolicy::Haircut, S, u(1)))
            .unwrap();
        s.credit(&Parcel::seeded(AccountPolicy::Haircut, S2, u(1)))
            .unwrap();
        let p = s.debit(u(1)).unwrap();
        assert_eq!(p.by_label().into_vec(), vec![(S, u(1))]);
        assert_eq!((s.balance(), s.tainted()), (u(1), u(1)));
        assert!(s.is_consistent());
    }

    #[test]
    fn huge_amounts_do_not_panic() {
        let mut s = AccountState::new(AccountRules::new(AccountPolicy::Haircut), U256::MAX);
        assert!(s.credit(&Parcel::clean(u(1))).is_err());
        let p = s.debit(U256::MAX).unwrap();
        assert_eq!(p.amount, U256::MAX);
    }

    /// A random sequence of credits (clean or tainted by one of three labels) and debits.
    fn ops() -> impl Strategy<Value = Vec<(bool, u64, u8)>> {
        proptest::collection::vec((any::<bool>(), 1u64..1_000, 0u8..4), 1..60)
    }

    fn run(
        policy: AccountPolicy,
        rounding: Rounding,
        ops: &[(bool, u64, u8)],
    ) -> (AccountState, Parts<U256>, Parts<U256>, Vec<bool>) {
        let mut s = AccountState::new(AccountRules { policy, rounding }, u(50));
        let (mut credited, mut sent) = (Parts::new(), Parts::new());
        let mut tainted_out = Vec::new();
        for (credit, amount, label) in ops {
            if *credit {
                let p = match label {
                    0 => Parcel::clean(u(*amount)),
                    l => Parcel::seeded(policy, TaintLabel(u16::from(*l)), u(*amount)),
                };
                for (l, a) in p.parts() {
                    add_part(&mut credited, l, a);
                }
                s.credit(&p).unwrap();
            } else {
                let want = u(*amount).min(s.balance());
                let p = s.debit(want).unwrap();
                assert!(p.tainted() <= p.amount);
                for (l, a) in p.parts() {
                    add_part(&mut sent, l, a);
                }
                tainted_out.push(p.is_tainted());
            }
            assert!(s.is_consistent(), "{s:?}");
        }
        (s, credited, sent, tainted_out)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Per label, what came in is what went out plus what is held.
        #[test]
        fn lossless_policies_conserve_every_label(ops in ops(), lr in any::<bool>()) {
            let rounding = if lr { Rounding::LargestRemainder } else { Rounding::Floor };
            for policy in LOSSLESS {
                let (s, credited, mut out, _) = run(policy, rounding, &ops);
                for (l, a) in s.by_label() {
                    add_part(&mut out, l, a);
                }
                prop_assert_eq!(&credited, &out, "{:?}", policy);
            }
        }

        /// Whenever any policy sends taint, poison does too (poison ⊇ every support).
        #[test]
        fn poison_covers_every_policy(ops in ops()) {
            let (_, _, _, poison) = run(AccountPolicy::Poison, Rounding::Floor, &ops);
            for policy in LOSSLESS {
                let (_, _, _, tainted) = run(policy, Rounding::Floor, &ops);
                for (p, t) in poison.iter().zip(&tainted) {
                    prop_assert!(*p || !*t, "{:?}", policy);
                }
            }
        }
    }
}

//! Conversions between assets (spec §2.3): a swap through a pool and a 1:1 wrap or unwrap.
//!
//! Without them taint parks in whatever contract commingles funds: a DEX pool would absorb
//! the stolen token and pay out clean ones. With them the user's own swap carries its taint
//! to what the user gets back, and the pool's balance stays clean.

use chaintrace_model::eth::U256;

use super::amount::lr_split;
use super::state::{AccountPolicy, Parcel};
use crate::ledger::TraceError;
use crate::taint::{coalesce, Seg, Taint};

/// Swap-through: `sent` of token X went into a pool and `received` units of token Y came back.
/// The received parcel carries the sent taint scaled by `received / sent.amount`: every label
/// and every segment (in order) scaled, rounded by largest remainder so the parts sum to
/// `received` exactly. Poison keeps its labels.
pub fn swap_through(sent: &Parcel, received: U256) -> Result<Parcel, TraceError> {
    let taint = match &sent.taint {
        _ if received.is_zero() => None,
        None => None,
        Some(_) if sent.amount.is_zero() => {
            return Err(TraceError::Invalid(
                "a swap that sent nothing cannot carry taint".into(),
            ))
        }
        Some(Taint::Poison(labels)) => Taint::poison(labels.iter().copied()),
        Some(Taint::Haircut(parts)) => {
            let clean = sent.amount.saturating_sub(sent.tainted());
            let weights: Vec<U256> = parts.iter().map(|(_, a)| *a).chain([clean]).collect();
            let shares = lr_split(received, &weights, None)?;
            Taint::haircut(parts.iter().zip(shares).map(|((l, _), a)| (*l, a)))
        }
        Some(Taint::Ordered(segs)) => {
            let weights: Vec<U256> = segs.iter().map(|s| s.amount).collect();
            let shares = lr_split(received, &weights, None)?;
            let scaled = segs.iter().zip(shares).map(|(s, amount)| Seg {
                label: s.label,
                amount,
            });
            Taint::ordered(coalesce(scaled))
        }
    };
    Ok(Parcel {
        amount: received,
        taint,
    })
}

/// A wrap (ETH → WETH) or unwrap (WETH → ETH) of what `taken` took from the owner's balance:
/// the same coins in another form, 1:1. They keep their age order: a LIFO debit lists coins
/// newest first (the order they left), so the conversion puts them back oldest first and the
/// newest coins stay the newest on the other side.
pub fn one_to_one(taken: Parcel, policy: AccountPolicy) -> Parcel {
    match (policy, taken.taint) {
        (AccountPolicy::Lifo, Some(Taint::Ordered(segs))) => Parcel {
            amount: taken.amount,
            taint: Taint::ordered(segs.into_iter().rev()),
        },
        (_, taint) => Parcel {
            amount: taken.amount,
            taint,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taint::TaintLabel;

    const S: TaintLabel = TaintLabel(0);

    fn u(v: u64) -> U256 {
        U256::from(v)
    }

    #[test]
    fn scaling_keeps_every_unit_and_the_order() {
        let sent = Parcel {
            amount: u(10),
            taint: Taint::ordered([
                Seg::tainted(S, u(3)),
                Seg::clean(u(3)),
                Seg::tainted(S, u(4)),
            ]),
        };
        let got = swap_through(&sent, u(7)).unwrap();
        assert_eq!(
            got.segments().into_vec(),
            vec![
                Seg::tainted(S, u(2)),
                Seg::clean(u(2)),
                Seg::tainted(S, u(3))
            ]
        );
        assert_eq!(
            swap_through(&sent, U256::ZERO).unwrap(),
            Parcel::clean(U256::ZERO)
        );
        let nothing = Parcel {
            amount: U256::ZERO,
            taint: Taint::poison([S]),
        };
        assert!(swap_through(&nothing, u(1)).is_err());
    }

    #[test]
    fn one_to_one_restores_age_order_under_lifo_only() {
        let taken = Parcel {
            amount: u(5),
            taint: Taint::ordered([Seg::clean(u(2)), Seg::tainted(S, u(3))]),
        };
        let lifo = one_to_one(taken.clone(), AccountPolicy::Lifo);
        assert_eq!(
            lifo.segments().into_vec(),
            vec![Seg::tainted(S, u(3)), Seg::clean(u(2))]
        );
        assert_eq!(one_to_one(taken.clone(), AccountPolicy::Fifo), taken);
    }
}

//! Choosing what to ingest from a pile of block headers: the most-work chain.
//!
//! Block files hold blocks out of order, stale blocks from old forks, and sometimes blocks
//! whose parents never arrived. We build the header tree (rooted at the network's genesis or at
//! blocks already in the index), take the tip with the most cumulative work, and compare it
//! with the index: if it has more work, the plan rolls the index back to the fork point (if
//! the index followed another branch) and applies the new branch.

use std::collections::{HashMap, VecDeque};

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::hashes::Hash;
use bitcoin::pow::Work;
use chaintrace_model::Network;
use chaintrace_store::btc::BtcIndex;

use super::blkfiles::BlockLocation;
use crate::IngestError;

/// Where a planned block's bytes come from.
#[derive(Clone, Copy, Debug)]
pub enum BlockSource {
    File(BlockLocation),
    /// The network's genesis block, built in (Core always has it; some test files do not).
    Genesis,
}

#[derive(Clone, Copy, Debug)]
pub struct PlannedBlock {
    pub height: u32,
    pub hash: [u8; 32],
    pub chainwork: [u8; 32],
    pub source: BlockSource,
}

/// What an ingest run will do.
#[derive(Debug, Default)]
pub struct ChainPlan {
    /// Roll the index back until this height is its tip (`None`: keep everything).
    pub rollback_to: Option<u32>,
    pub apply: Vec<PlannedBlock>,
    /// Blocks whose ancestry reaches neither the genesis nor the index.
    pub orphans: usize,
    /// Connected blocks that are not on the chosen chain.
    pub stale: usize,
}

struct Node {
    hash: [u8; 32],
    prev: [u8; 32],
    loc: Option<BlockLocation>,
    work: Work,
    /// Height and cumulative work once the node is connected to a root.
    placed: Option<(u32, Work)>,
}

/// Builds the plan for `locations` (in file order) against the index.
pub fn plan(
    locations: &[BlockLocation],
    network: Network,
    index: &BtcIndex<'_>,
) -> Result<ChainPlan, IngestError> {
    let genesis = genesis_block(network.to_bitcoin());
    let genesis_hash = genesis.block_hash().to_byte_array();
    let (mut nodes, by_hash) = build_nodes(locations, &genesis);
    let roots = find_roots(&mut nodes, genesis_hash, index)?;
    let placed = place(&mut nodes, &by_hash, roots);
    let Some(best) = best_tip(&nodes) else {
        return Ok(ChainPlan {
            orphans: nodes.len() - placed,
            ..ChainPlan::default()
        });
    };
    let orphans = nodes.len() - placed;
    let stale = placed - chain_len(&nodes, &by_hash, best);
    let index_work = index_tip_work(index)?;
    let best_work = nodes[best].placed.expect("placed").1;
    if index_work.is_some_and(|w| best_work <= w) {
        return Ok(ChainPlan {
            orphans,
            stale,
            ..ChainPlan::default()
        });
    }
    let (apply, fork) = path_to_index(&nodes, &by_hash, best, index)?;
    let tip_height = index.state()?.and_then(|s| s.tip).map(|(h, _)| h);
    let rollback_to = match (tip_height, fork) {
        (Some(tip), Some(f)) if f < tip => Some(f),
        (Some(_), None) => {
            return Err(IngestError::bad_data(
                "block files",
                "their best chain does not connect to the chain already in the index",
            ))
        }
        _ => None,
    };
    Ok(ChainPlan {
        rollback_to,
        stale,
        orphans,
        apply,
    })
}

/// Number of placed blocks from `tip` back to its root.
fn chain_len(nodes: &[Node], by_hash: &HashMap<[u8; 32], usize>, tip: usize) -> usize {
    let mut len = 0;
    let mut cur = Some(tip);
    while let Some(i) = cur {
        len += 1;
        let height = nodes[i].placed.map_or(0, |(h, _)| h);
        cur = by_hash
            .get(&nodes[i].prev)
            .copied()
            .filter(|p| height > 0 && nodes[*p].placed.is_some());
    }
    len
}

fn build_nodes(
    locations: &[BlockLocation],
    genesis: &bitcoin::Block,
) -> (Vec<Node>, HashMap<[u8; 32], usize>) {
    let mut nodes = Vec::with_capacity(locations.len() + 1);
    let mut by_hash = HashMap::with_capacity(locations.len() + 1);
    let builtin = Node {
        hash: genesis.block_hash().to_byte_array(),
        prev: [0; 32],
        loc: None,
        work: genesis.header.work(),
        placed: None,
    };
    by_hash.insert(builtin.hash, 0);
    nodes.push(builtin);
    for loc in locations {
        let hash = loc.header.block_hash().to_byte_array();
        match by_hash.get(&hash) {
            // The same block stored twice: keep the first copy (but prefer a file copy of genesis).
            Some(&0) if nodes[0].loc.is_none() => nodes[0].loc = Some(*loc),
            Some(_) => {}
            None => {
                by_hash.insert(hash, nodes.len());
                nodes.push(Node {
                    hash,
                    prev: loc.header.prev_blockhash.to_byte_array(),
                    loc: Some(*loc),
                    work: loc.header.work(),
                    placed: None,
                });
            }
        }
    }
    (nodes, by_hash)
}

/// Roots are the genesis, and blocks whose parent is already in the index.
fn find_roots(
    nodes: &mut [Node],
    genesis_hash: [u8; 32],
    index: &BtcIndex<'_>,
) -> Result<Vec<usize>, IngestError> {
    let mut roots = Vec::new();
    let in_files: std::collections::HashSet<[u8; 32]> = nodes.iter().map(|n| n.hash).collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        if node.hash == genesis_hash {
            node.placed = Some((0, node.work));
            roots.push(i);
        } else if !in_files.contains(&node.prev) {
            if let Some(h) = index.block_height(&node.prev)? {
                let parent = index.block(h)?.ok_or_else(|| {
                    IngestError::bad_data("index", format!("block {h} is missing"))
                })?;
                node.placed = Some((h + 1, Work::from_be_bytes(parent.chainwork) + node.work));
                roots.push(i);
            }
        }
    }
    Ok(roots)
}

/// Breadth-first from the roots; returns how many nodes were connected.
fn place(nodes: &mut [Node], by_hash: &HashMap<[u8; 32], usize>, roots: Vec<usize>) -> usize {
    let mut children: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if by_hash.contains_key(&n.prev) {
            children.entry(n.prev).or_default().push(i);
        }
    }
    let mut queue: VecDeque<usize> = roots.into();
    let mut placed = 0;
    while let Some(i) = queue.pop_front() {
        placed += 1;
        let (height, work) = nodes[i].placed.expect("queued nodes are placed");
        for &c in children
            .get(&nodes[i].hash)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if nodes[c].placed.is_none() {
                nodes[c].placed = Some((height + 1, work + nodes[c].work));
                queue.push_back(c);
            }
        }
    }
    placed
}

/// Most cumulative work; ties go to the block seen first in the files.
fn best_tip(nodes: &[Node]) -> Option<usize> {
    let mut best: Option<(usize, Work)> = None;
    for (i, n) in nodes.iter().enumerate() {
        if let Some((_, w)) = n.placed {
            if best.is_none_or(|(_, bw)| w > bw) {
                best = Some((i, w));
            }
        }
    }
    best.map(|(i, _)| i)
}

fn index_tip_work(index: &BtcIndex<'_>) -> Result<Option<Work>, IngestError> {
    let Some((h, _)) = index.state()?.and_then(|s| s.tip) else {
        return Ok(None);
    };
    let rec = index
        .block(h)?
        .ok_or_else(|| IngestError::bad_data("index", format!("tip block {h} is missing")))?;
    Ok(Some(Work::from_be_bytes(rec.chainwork)))
}

/// Walks back from `tip` until a block the index already has on its active chain.
/// Returns the blocks to apply (ascending) and the fork height.
fn path_to_index(
    nodes: &[Node],
    by_hash: &HashMap<[u8; 32], usize>,
    tip: usize,
    index: &BtcIndex<'_>,
) -> Result<(Vec<PlannedBlock>, Option<u32>), IngestError> {
    let mut path = Vec::new();
    let mut cur = Some(tip);
    let mut fork = None;
    while let Some(i) = cur {
        let n = &nodes[i];
        let (height, work) = n.placed.expect("on a placed path");
        if index.block_height(&n.hash)? == Some(height) {
            fork = Some(height);
            break;
        }
        let source = n.loc.map_or(BlockSource::Genesis, BlockSource::File);
        path.push(PlannedBlock {
            height,
            hash: n.hash,
            chainwork: work.to_be_bytes(),
            source,
        });
        cur = by_hash.get(&n.prev).copied().filter(|_| height > 0);
        if cur.is_none() && height > 0 {
            fork = Some(height - 1); // rooted on a block of the index
        }
    }
    path.reverse();
    Ok((path, fork))
}

//! Parallel loops over slices, through one rayon loop compiled once.
//!
//! Each `par_iter().map(..).collect()` compiles rayon's generic jobs again for its own item,
//! closure and result types: kiln's loops made rayon 4.6% of the crate's LLVM IR (`cargo
//! llvm-lines`), built on every fresh build. Here rayon runs one loop over indices, behind a
//! `dyn` call per item, and what each caller compiles is a plain loop putting results in order.
//! Work is split as for a slice: rayon's adaptive splitting of an index range.

use std::sync::Mutex;

use rayon::prelude::*;

/// `f` of every item, in the items' order, computed on rayon's current pool.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    each_index(items.len(), &|i| {
        let result = f(&items[i]);
        if let Ok(mut slot) = slots[i].lock() {
            *slot = Some(result);
        }
    });
    // A slot is only locked to store a finished result, so none is poisoned or left empty.
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// `f` of every item, in parallel.
pub fn each<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    each_index(items.len(), &|i| f(&items[i]));
}

/// `f` of every item, in parallel; the first error in the items' order, if any.
pub fn try_each<T: Sync, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    map(items, f).into_iter().collect()
}

/// `f` of every index below `n`, in parallel: the one rayon loop.
fn each_index(n: usize, f: &(dyn Fn(usize) + Sync)) {
    (0..n).into_par_iter().for_each(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_items_order() {
        let items: Vec<u64> = (0..10_000).collect();
        let doubled = map(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(map(&[] as &[u8], |b| *b).is_empty());
    }

    #[test]
    fn each_runs_on_every_item() {
        let seen = std::sync::atomic::AtomicU64::new(0);
        let items: Vec<u64> = (1..=100).collect();
        each(&items, |i| {
            seen.fetch_add(*i, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(seen.into_inner(), 5050);
    }

    #[test]
    fn the_first_error_in_order_is_returned() {
        let items: Vec<u32> = (0..1000).collect();
        let r = try_each(&items, |i| if i % 300 == 299 { Err(*i) } else { Ok(()) });
        assert_eq!(r, Err(299));
        assert_eq!(try_each(&items, |_| Ok::<(), u32>(())), Ok(()));
    }
}

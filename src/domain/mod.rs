//! Pure view models: what the screens show, computed from core data. No I/O.

pub mod banner;
pub mod decimal;
pub mod encounters;
pub mod patient;
pub mod precision;
pub mod problem;
pub mod results;
pub mod section;
pub mod table;
pub mod time;
pub mod trend;

use std::cmp::Ordering;

/// Lower case for people's words in any language (test names, an identifier's type text), to
/// match and sort them without regard to case. The app passes the browser's `toLowerCase`
/// (`web::lower_case`), so its wasm carries none of core's Unicode case tables (about 7 KB
/// brotli); native code and the tests pass `str::to_lowercase`.
pub type LowerCase = fn(&str) -> String;

/// Sorts `indices` (stably) by `cmp`. Every sort in the view models goes through this one
/// function: a sort is several kilobytes of WebAssembly for each element type and comparator
/// it is compiled for, and this way the app carries one.
pub fn sort_indices(indices: &mut [usize], cmp: &dyn Fn(usize, usize) -> Ordering) {
    indices.sort_by(|&a, &b| cmp(a, b));
}

/// `items` in the stable order of `cmp` over their positions.
pub fn sorted_by<T>(items: Vec<T>, cmp: &dyn Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_indices(&mut order, &|a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_is_stable_and_keeps_every_item() {
        let items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        assert_eq!(
            sorted_by(items, &|x, y| x.0.cmp(&y.0)),
            [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]
        );
        let mut indices = vec![4, 0, 2];
        sort_indices(&mut indices, &|a, b| b.cmp(&a));
        assert_eq!(indices, [4, 2, 0]);
        assert!(sorted_by(Vec::<u8>::new(), &|a, b| a.cmp(b)).is_empty());
    }
}

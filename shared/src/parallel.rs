//! Work on every core with results taken in input order: large inputs are decoded, checked
//! and serialised in chunks, and the output must not depend on which thread finished first.

use std::sync::mpsc;

/// How many threads large inputs are worth splitting over (at most 8: beyond that the
/// single-threaded parts dominate).
pub fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// `items` in owned chunks of `size` (the last may be shorter), in order: work that consumes
/// its items can be handed out a chunk at a time.
pub fn into_chunks<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.max(1);
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

/// Maps every item on worker threads and hands the results to `consume` in input order, while
/// later items are still being mapped. Worker `w` takes items `w`, `w + n`, `w + 2n`, …; each
/// holds at most one finished result, so memory stays bounded by a few chunks whatever the
/// input size. The first error from `consume` stops the work and is returned.
pub fn map_in_order<T, R, E>(
    items: Vec<T>,
    map: impl Fn(T) -> R + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    R: Send,
{
    let threads = worker_threads().min(items.len());
    if threads < 2 {
        return items.into_iter().try_for_each(|item| consume(map(item)));
    }
    let total = items.len();
    let mut queues: Vec<Vec<T>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        queues[i % threads].push(item);
    }
    std::thread::scope(|scope| {
        let map = &map;
        let receivers: Vec<mpsc::Receiver<R>> = queues
            .into_iter()
            .map(|queue| {
                let (sender, receiver) = mpsc::sync_channel(1);
                scope.spawn(move || {
                    for item in queue {
                        // The receiver is gone only when `consume` failed: stop quietly.
                        if sender.send(map(item)).is_err() {
                            break;
                        }
                    }
                });
                receiver
            })
            .collect();
        for i in 0..total {
            // A worker only disappears early by panicking; the scope re-raises that panic.
            let Ok(result) = receivers[i % threads].recv() else {
                break;
            };
            consume(result)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_input_order() {
        let items: Vec<u64> = (0..1000).collect();
        let mut seen = Vec::new();
        map_in_order(
            items,
            |i| {
                // Uneven work, so threads finish out of order.
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                i * 2
            },
            |r| {
                seen.push(r);
                Ok::<(), ()>(())
            },
        )
        .expect("no error");
        assert_eq!(seen, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_keep_every_item_in_order() {
        let chunks = into_chunks((0..10).collect::<Vec<u8>>(), 4);
        assert_eq!(chunks, [vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
        assert!(into_chunks(Vec::<u8>::new(), 4).is_empty());
    }

    #[test]
    fn the_first_error_stops_the_work() {
        let mut consumed = 0;
        let outcome = map_in_order(
            (0..100).collect::<Vec<u32>>(),
            |i| i,
            |r| {
                consumed += 1;
                if r == 10 { Err(r) } else { Ok(()) }
            },
        );
        assert_eq!(outcome, Err(10));
        assert_eq!(consumed, 11);
    }
}

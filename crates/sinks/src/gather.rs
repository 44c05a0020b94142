//! Gathers a stream on one worker in a deterministic order.

use netanom_records::{Record, Time};
use std::collections::BTreeMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// Sends every record to worker 0, which calls `on_batch` once per Timely
/// time, in time order, with that time's records sorted by
/// [`Record::sort_cmp`], and `on_done` once the input is complete. So the
/// sequence of calls does not depend on the number of workers. Other
/// workers call nothing.
pub(crate) fn gather_sorted<'s, R, B, D>(
    input: Stream<'s, Time, Vec<R>>,
    name: &str,
    mut on_batch: B,
    on_done: D,
) where
    R: Record + ExchangeData,
    B: FnMut(Time, &mut Vec<R>) + 'static,
    D: FnOnce() + 'static,
{
    let is_writer = input.scope().index() == 0;
    let mut pending: BTreeMap<Time, Vec<R>> = BTreeMap::new();
    let mut on_done = Some(on_done);
    input.sink(Exchange::new(|_: &R| 0), name, move |(handle, frontier)| {
        handle.for_each(|cap, batch| {
            let time = cap.least().copied().unwrap_or_default();
            pending.entry(time).or_default().append(batch);
        });
        while let Some(entry) = pending.first_entry() {
            if frontier.less_equal(entry.key()) {
                break;
            }
            let time = *entry.key();
            let mut records = entry.remove();
            records.sort_by(R::sort_cmp);
            if is_writer {
                on_batch(time, &mut records);
            }
        }
        if frontier.is_empty() && pending.is_empty() {
            if let Some(done) = on_done.take() {
                if is_writer {
                    done();
                }
            }
        }
    });
}

//! Gathers a stream on one worker in a deterministic order, with the work
//! spread: every worker sorts and encodes its own records into a
//! [`Chunk`]; worker 0 only merges the sorted chunks of each time.

use netanom_records::{Record, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// One worker's records of one Timely time, sorted by key and encoded.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Chunk {
    keys: Vec<u8>,
    text: Vec<u8>,
    /// Per record: end of its key in `keys`, end of its text in `text`.
    ends: Vec<(u32, u32)>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1].0 as usize
        };
        &self.keys[start..self.ends[i].0 as usize]
    }

    fn text(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1].1 as usize
        };
        &self.text[start..self.ends[i].1 as usize]
    }

    /// Sorts `records` by key and encodes them with `encode`. They come
    /// as the batches they arrived in: gathering them into one `Vec`
    /// copied every record again at each doubling.
    fn build<R: Record>(batches: &[Vec<R>], encode: &impl Fn(&R, &mut Vec<u8>)) -> Chunk {
        let records: Vec<&R> = batches.iter().flatten().collect();
        if records.is_empty() {
            return Chunk::default();
        }
        let mut keys = Vec::with_capacity(records.len() * 40);
        let mut key_ends = Vec::with_capacity(records.len());
        for r in &records {
            r.sort_key(&mut keys);
            key_ends.push(keys.len());
        }
        let key_of = |i: usize| {
            let start = if i == 0 { 0 } else { key_ends[i - 1] };
            &keys[start..key_ends[i]]
        };
        // Operators that emit in key order (window) leave nothing to sort:
        // encode in place, keys as they are.
        if (1..records.len()).all(|i| key_of(i - 1) <= key_of(i)) {
            // Room for the lines and the last one's scratch space: growing
            // would copy all of it.
            let mut text = Vec::with_capacity(records.len() * 128 + 1024);
            let mut ends = Vec::with_capacity(records.len());
            for (r, &key_end) in records.iter().zip(&key_ends) {
                encode(r, &mut text);
                // Chunks stay far below 4 GiB: one time's records of one worker.
                ends.push((key_end as u32, text.len() as u32));
            }
            return Chunk { keys, text, ends };
        }
        // Keys of one time share a long prefix (the window bounds): sort on
        // the 16 bytes after it as an integer, then on the whole key.
        let shared = (1..records.len()).fold(key_of(0).len(), |n, i| {
            let (a, b) = (key_of(0), key_of(i));
            n.min(a.iter().zip(b).take_while(|(x, y)| x == y).count())
        });
        let head = |i: usize| {
            let mut buf = [0u8; 16];
            let tail = key_of(i).get(shared..).unwrap_or(&[]);
            let n = tail.len().min(16);
            buf[..n].copy_from_slice(&tail[..n]);
            u128::from_be_bytes(buf)
        };
        let mut order: Vec<(u128, usize)> = (0..records.len()).map(|i| (head(i), i)).collect();
        order.sort_unstable_by(|&(ha, a), &(hb, b)| {
            ha.cmp(&hb).then_with(|| key_of(a).cmp(key_of(b)))
        });
        let order = order.into_iter().map(|(_, i)| i);
        let mut chunk = Chunk {
            keys: Vec::with_capacity(keys.len()),
            text: Vec::with_capacity(records.len() * 128),
            ends: Vec::with_capacity(records.len()),
        };
        for i in order {
            chunk.keys.extend_from_slice(key_of(i));
            encode(records[i], &mut chunk.text);
            // Chunks stay far below 4 GiB: one time's records of one worker.
            chunk
                .ends
                .push((chunk.keys.len() as u32, chunk.text.len() as u32));
        }
        chunk
    }
}

/// Where [`gather_encoded`] delivers, on worker 0 only.
pub(crate) trait GatherSink: 'static {
    /// Whether rows of `time` are wanted at all (a resumed run drops what
    /// an earlier run committed; rows past a stop are incomplete).
    fn wants(&mut self, _time: Time) -> bool {
        true
    }
    /// One record's encoding, time by time and in key order within a time.
    fn write(&mut self, bytes: &[u8]);
    /// Every record of `time` was written.
    fn time_done(&mut self, _time: Time) {}
    /// Every record of a time before `before` was written (`None`: all).
    fn progress(&mut self, _before: Option<Time>) {}
    /// The input is complete.
    fn done(&mut self);
}

/// Delivers every record's encoding to `sink` on worker 0, time by time
/// and in key order within a time. The sequence of bytes does not depend
/// on the number of workers. Other workers deliver nothing.
pub(crate) fn gather_encoded<'s, R, E, S>(
    input: Stream<'s, Time, Vec<R>>,
    name: &str,
    encode: E,
    mut sink: S,
) -> crate::Consumed<'s>
where
    R: Record + ExchangeData,
    E: Fn(&R, &mut Vec<u8>) + 'static,
    S: GatherSink,
{
    let is_writer = input.scope().index() == 0;
    let chunks = input
        .unary_frontier::<timely::container::CapacityContainerBuilder<Vec<Chunk>>, _, _, _>(
            Pipeline,
            &format!("{name}-encode"),
            move |_cap, _info| {
                let mut pending: BTreeMap<
                    Time,
                    (timely::dataflow::operators::Capability<Time>, Vec<Vec<R>>),
                > = BTreeMap::new();
                move |(handle, frontier), output| {
                    handle.for_each(|cap, batch| {
                        let time = cap.least().copied().unwrap_or_default();
                        pending
                            .entry(time)
                            .or_insert_with(|| {
                                (
                                    cap.retain_least(0).unwrap_or_else(|| cap.delayed(&time, 0)),
                                    Vec::new(),
                                )
                            })
                            .1
                            .push(std::mem::take(batch));
                    });
                    while let Some(entry) = pending.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let (cap, records) = entry.remove();
                        let chunk = Chunk::build(&records, &encode);
                        output.session(&cap).give(chunk);
                    }
                }
            },
        );
    let mut pending: BTreeMap<Time, Vec<Chunk>> = BTreeMap::new();
    let mut done = false;
    crate::terminal(
        chunks,
        Exchange::new(|_: &Chunk| 0),
        name,
        move |(handle, frontier)| {
            handle.for_each(|cap, batch| {
                let time = cap.least().copied().unwrap_or_default();
                pending.entry(time).or_default().append(batch);
            });
            while let Some(entry) = pending.first_entry() {
                if frontier.less_equal(entry.key()) {
                    break;
                }
                let (time, chunks) = entry.remove_entry();
                if is_writer && sink.wants(time) {
                    merge(&chunks, &mut |bytes| sink.write(bytes));
                    sink.time_done(time);
                }
            }
            if is_writer && !done {
                sink.progress(frontier.frontier().first().copied());
            }
            if frontier.is_empty() && pending.is_empty() && !done {
                done = true;
                if is_writer {
                    sink.done();
                }
            }
        },
    )
}

/// Writes the records of sorted chunks in key order (a k-way merge; k is
/// the number of workers).
fn merge(chunks: &[Chunk], write: &mut impl FnMut(&[u8])) {
    let mut next = vec![0usize; chunks.len()];
    loop {
        let mut best: Option<usize> = None;
        for (c, chunk) in chunks.iter().enumerate() {
            if next[c] < chunk.len() {
                best = match best {
                    Some(b) if chunks[b].key(next[b]) <= chunk.key(next[c]) => Some(b),
                    _ => Some(c),
                };
            }
        }
        let Some(b) = best else { break };
        write(chunks[b].text(next[b]));
        next[b] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netanom_records::{Packet, Ts};

    fn packet(ts: i64, len: u32) -> Packet {
        Packet {
            ts: Ts(ts),
            length: len,
            ..Packet::default()
        }
    }

    #[test]
    fn chunks_merge_in_key_order() {
        let encode = |p: &Packet, out: &mut Vec<u8>| {
            out.extend_from_slice(format!("{},{};", p.ts.0, p.length).as_bytes())
        };
        let a = Chunk::build(
            &[vec![packet(3, 1)], vec![packet(1, 1), packet(5, 1)]],
            &encode,
        );
        let b = Chunk::build(&[vec![packet(2, 1), packet(3, 0), packet(9, 1)]], &encode);
        let mut out = Vec::new();
        merge(&[a, b], &mut |bytes| out.extend_from_slice(bytes));
        assert_eq!(String::from_utf8_lossy(&out), "1,1;2,1;3,0;3,1;5,1;9,1;");
    }
}

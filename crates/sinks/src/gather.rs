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
    ///
    /// One pass keys and encodes each record while checking that the keys
    /// ascend: operators that emit in key order (window) leave nothing to
    /// sort. Otherwise the encoded records are put in key order after.
    fn build<R: Record>(batches: &[Vec<R>], encode: &impl Fn(&R, &mut Vec<u8>)) -> Chunk {
        let n: usize = batches.iter().map(Vec::len).sum();
        if n == 0 {
            return Chunk::default();
        }
        // Room for every line and the last one's scratch space: growing
        // would copy all of it.
        let mut chunk = Chunk {
            keys: Vec::with_capacity(n * 40),
            text: Vec::with_capacity(n * 128 + 1024),
            ends: Vec::with_capacity(n),
        };
        let mut sorted = true;
        let mut last_key = 0..0;
        for r in batches.iter().flatten() {
            let start = chunk.keys.len();
            r.sort_key(&mut chunk.keys);
            let key = start..chunk.keys.len();
            sorted = sorted && chunk.keys[last_key.clone()] <= chunk.keys[key.clone()];
            last_key = key;
            encode(r, &mut chunk.text);
            // Chunks stay far below 4 GiB: one time's records of one worker.
            chunk
                .ends
                .push((chunk.keys.len() as u32, chunk.text.len() as u32));
        }
        if sorted {
            return chunk;
        }
        // Keys of one time share a long prefix (the window bounds): sort on
        // the 16 bytes after it as an integer, then on the whole key.
        let shared = (1..n).fold(chunk.key(0).len(), |len, i| {
            let (a, b) = (chunk.key(0), chunk.key(i));
            len.min(a.iter().zip(b).take_while(|(x, y)| x == y).count())
        });
        let head = |i: usize| {
            let mut buf = [0u8; 16];
            let tail = chunk.key(i).get(shared..).unwrap_or(&[]);
            let len = tail.len().min(16);
            buf[..len].copy_from_slice(&tail[..len]);
            u128::from_be_bytes(buf)
        };
        let mut order: Vec<(u128, usize)> = (0..n).map(|i| (head(i), i)).collect();
        order.sort_unstable_by(|&(ha, a), &(hb, b)| {
            ha.cmp(&hb).then_with(|| chunk.key(a).cmp(chunk.key(b)))
        });
        let mut out = Chunk {
            keys: Vec::with_capacity(chunk.keys.len()),
            text: Vec::with_capacity(chunk.text.len()),
            ends: Vec::with_capacity(n),
        };
        for (_, i) in order {
            out.keys.extend_from_slice(chunk.key(i));
            out.text.extend_from_slice(chunk.text(i));
            out.ends
                .push((out.keys.len() as u32, out.text.len() as u32));
        }
        out
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

    #[test]
    fn a_chunk_is_in_key_order_however_its_records_came() {
        // Records that encode to nothing (a filtered-out row) included.
        let encode = |p: &Packet, out: &mut Vec<u8>| {
            if p.length != 7 {
                out.extend_from_slice(format!("{},{};", p.ts.0, p.length).as_bytes())
            }
        };
        let mut state = 1u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let records: Vec<Packet> = (0..300)
            .map(|_| packet((next() % 40) as i64 - 20, (next() % 9) as u32))
            .collect();
        let mut in_order = records.clone();
        in_order.sort_by_key(|p| {
            let mut key = Vec::new();
            p.sort_key(&mut key);
            key
        });
        let batches: Vec<Vec<Packet>> = records.chunks(37).map(<[Packet]>::to_vec).collect();
        let built = Chunk::build(&batches, &encode);
        let want = Chunk::build(&[in_order.clone()], &encode);
        assert_eq!(built.len(), 300);
        assert_eq!(built.text, want.text);
        assert_eq!(built.keys, want.keys);
        assert_eq!(built.ends, want.ends);
        let mut expected = Vec::new();
        for p in &in_order {
            encode(p, &mut expected);
        }
        assert_eq!(built.text, expected);
    }
}

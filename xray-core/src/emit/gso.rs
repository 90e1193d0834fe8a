//! Grouping a batch of datagrams for UDP generic segmentation offload.
//!
//! On Linux a connected UDP socket takes many datagrams of one size in a single `sendmsg` with
//! `UDP_SEGMENT`: the kernel routes and processes the whole buffer once and cuts it apart only
//! at the receiving socket (or the network card). On loopback that costs a third or less of
//! `sendmmsg`'s per-datagram work (1.2 µs against 4.1–4.7 µs of CPU per 500-byte datagram,
//! sender and receiver together, on our machines). Each datagram but the last of a send must
//! have the segment's size, so shorter ones are padded with spaces inside their closing `}`;
//! JSON gives whitespace there no meaning, and segments of one service differ by a few bytes.
//!
//! [`Planner::plan`] sorts a batch by size, largest first (the daemon does not care about
//! order), and cuts it into runs that one segmented send can carry.

use crate::sys::{MAX_PADDING, MAX_SEGMENTS};

/// The most payload bytes in one segmented send: under the 65,507 a UDP datagram over IPv4
/// can carry, with room to spare.
pub(crate) const MAX_PAYLOAD: usize = 65_000;

/// Consecutive datagrams, in the planner's order, that go out in one system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// First position in the order.
    pub(crate) start: usize,
    /// One past the last position.
    pub(crate) end: usize,
    /// The segment size: the first (largest) member's length.
    pub(crate) size: usize,
}

impl Run {
    /// Runs of one datagram are sent as plain datagrams.
    pub(crate) fn is_segmented(&self) -> bool {
        self.end - self.start >= 2
    }
}

/// Reused buffers for planning batch after batch.
#[derive(Debug, Default)]
pub(crate) struct Planner {
    order: Vec<usize>,
    runs: Vec<Run>,
}

/// How many bytes a datagram may be padded by to join a run of `size`-byte segments: an
/// eighth, but at least 64 bytes, and at most what one padding slice holds.
fn slack(size: usize) -> usize {
    (size / 8).clamp(64, MAX_PADDING)
}

impl Planner {
    /// Orders `datagrams` and cuts the order into runs. A datagram joins a segmented run only
    /// if it ends with `}` (where the padding goes) and fits `max_segment`, the most the path
    /// lets the kernel cut; every other datagram gets a run of its own.
    pub(crate) fn plan<B: AsRef<[u8]>>(&mut self, datagrams: &[B], max_segment: usize) -> (&[usize], &[Run]) {
        let len = |i: usize| datagrams[i].as_ref().len();
        let eligible = |i: usize| {
            let d = datagrams[i].as_ref();
            d.len() <= max_segment && d.last() == Some(&b'}')
        };
        self.order.clear();
        self.order.extend(0..datagrams.len());
        self.order.sort_unstable_by_key(|&i| std::cmp::Reverse(len(i)));
        self.runs.clear();
        let mut start = 0;
        while start < self.order.len() {
            let first = self.order[start];
            let size = len(first);
            let mut end = start + 1;
            if eligible(first) {
                let fits = |count: usize| count <= MAX_SEGMENTS && count * size <= MAX_PAYLOAD;
                while end < self.order.len()
                    && fits(end - start + 1)
                    && eligible(self.order[end])
                    && size - len(self.order[end]) <= slack(size)
                {
                    end += 1;
                }
                // The last member is never padded, so any shorter datagram may close the run.
                if end < self.order.len() && fits(end - start + 1) && eligible(self.order[end]) {
                    end += 1;
                }
            }
            self.runs.push(Run { start, end, size });
            start = end;
        }
        (&self.order, &self.runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram of `n` bytes ending in `}`.
    fn doc(n: usize) -> Vec<u8> {
        let mut d = vec![b'x'; n - 1];
        d.push(b'}');
        d
    }

    /// The lengths in each run, in order.
    fn plan(datagrams: &[Vec<u8>], max_segment: usize) -> Vec<Vec<usize>> {
        let mut planner = Planner::default();
        let (order, runs) = planner.plan(datagrams, max_segment);
        runs.iter().map(|r| order[r.start..r.end].iter().map(|&i| datagrams[i].len()).collect()).collect()
    }

    #[test]
    fn similar_sizes_share_a_run_largest_first() {
        let batch = [doc(500), doc(510), doc(495), doc(505)];
        assert_eq!(plan(&batch, 1472), [vec![510, 505, 500, 495]]);
    }

    #[test]
    fn sizes_far_apart_split_runs_and_the_last_member_may_be_short() {
        // 1000 takes 900 (within an eighth) and then 300 as its unpadded last member; 200
        // is left alone.
        let batch = [doc(300), doc(1000), doc(200), doc(900)];
        assert_eq!(plan(&batch, 1472), [vec![1000, 900, 300], vec![200]]);
        // Within 64 bytes joins even when an eighth is less.
        let batch = [doc(100), doc(40), doc(41), doc(10)];
        assert_eq!(plan(&batch, 1472), [vec![100, 41, 40, 10]]);
    }

    #[test]
    fn runs_stop_at_the_segment_and_payload_limits() {
        let batch: Vec<_> = (0..150).map(|_| doc(200)).collect();
        let sizes: Vec<_> = plan(&batch, 1472).iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_SEGMENTS, MAX_SEGMENTS, 150 - 2 * MAX_SEGMENTS]);
        let batch: Vec<_> = (0..10).map(|_| doc(20_000)).collect();
        let sizes: Vec<_> = plan(&batch, 65_000).iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
    }

    #[test]
    fn datagrams_that_cannot_be_padded_or_cut_go_alone() {
        let mut open = doc(500);
        open.push(b'\n');
        let batch = [doc(500), open, doc(2000), doc(2000), doc(499)];
        // 2000 bytes pass the 1472-byte path limit; the one not ending in `}` stands alone.
        assert_eq!(plan(&batch, 1472), [vec![2000], vec![2000], vec![501], vec![500, 499]]);
        assert_eq!(plan(&[doc(10)], 1472), [vec![10]]);
        assert!(plan(&Vec::<Vec<u8>>::new(), 1472).is_empty());
    }
}

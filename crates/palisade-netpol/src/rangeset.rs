//! Sets of integers kept as sorted, disjoint, non-adjacent inclusive ranges: the one set algebra
//! behind port sets ([`crate::connset::PortSet`], `u16`) and IPv4 address sets
//! ([`crate::ipblock::IpSet`], `u32`).
//!
//! The form is canonical (neighbours always leave a gap), so two equal sets are equal values:
//! they compare, hash and order directly, which the analysis relies on to intern connection
//! sets. Every operation is one linear merge of the two range lists, never a pass over one list
//! per range of the other: address sets cut by many `except` entries stay cheap.

use std::fmt::Debug;
use std::hash::Hash;

/// A point of a [`RangeSet`]: an unsigned integer, with its neighbours when they exist.
pub trait Point: Copy + Ord + Hash + Debug {
    /// The next point (`None` at the type's maximum).
    fn succ(self) -> Option<Self>;
    /// The previous point (`None` at the type's minimum).
    fn pred(self) -> Option<Self>;
}

macro_rules! point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    )*};
}
point!(u8, u16, u32, u64);

/// A set of points: sorted, disjoint, non-adjacent closed intervals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RangeSet<T> {
    ranges: Vec<(T, T)>,
}

impl<T> Default for RangeSet<T> {
    fn default() -> Self {
        Self { ranges: Vec::new() }
    }
}

impl<T: Point> RangeSet<T> {
    /// No points.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The points `lo..=hi` (empty when `hi < lo`).
    pub fn interval(lo: T, hi: T) -> Self {
        if hi < lo {
            return Self::empty();
        }
        Self {
            ranges: vec![(lo, hi)],
        }
    }

    /// The union of any inclusive ranges (empty ones, `hi < lo`, are dropped).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (T, T)>) -> Self {
        let mut all: Vec<(T, T)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        all.sort_unstable();
        Self {
            ranges: coalesce(all),
        }
    }

    /// Whether no point is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The intervals, sorted.
    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }

    /// The intervals, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (T, T)> + '_ {
        self.ranges.iter().copied()
    }

    /// Whether `x` is in the set.
    pub fn contains(&self, x: T) -> bool {
        // The first interval that does not end before `x` is the only one that can hold it.
        let i = self.ranges.partition_point(|&(_, b)| b < x);
        self.ranges.get(i).is_some_and(|&(a, _)| a <= x)
    }

    /// The points in either set.
    pub fn union(&self, other: &Self) -> Self {
        // Merge the two sorted lists, then join what overlaps or touches.
        let (a, b) = (&self.ranges, &other.ranges);
        let mut merged = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i] <= b[j] {
                merged.push(a[i]);
                i += 1;
            } else {
                merged.push(b[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        Self {
            ranges: coalesce(merged),
        }
    }

    /// The points in both sets.
    pub fn intersection(&self, other: &Self) -> Self {
        let (x, y) = (&self.ranges, &other.ranges);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            let ((a1, b1), (a2, b2)) = (x[i], y[j]);
            let (a, b) = (a1.max(a2), b1.min(b2));
            if a <= b {
                out.push((a, b));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self { ranges: out }
    }

    /// The points of this set not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let holes = &other.ranges;
        let mut out = Vec::with_capacity(self.ranges.len());
        // `j`: the first hole that can still reach the current interval; holes are sorted, so
        // it only moves forward.
        let mut j = 0;
        for &(a, b) in &self.ranges {
            while j < holes.len() && holes[j].1 < a {
                j += 1;
            }
            let mut start = a;
            loop {
                let Some(&(ha, hb)) = holes.get(j).filter(|&&(ha, _)| ha <= b) else {
                    out.push((start, b));
                    break;
                };
                if ha > start {
                    // `ha > start` so `ha` has a predecessor.
                    if let Some(before) = ha.pred() {
                        out.push((start, before));
                    }
                }
                // The hole covers the rest of the interval: it may reach the next one too, so
                // it stays current.
                let Some(after) = hb.succ().filter(|_| hb < b) else {
                    break;
                };
                start = after;
                j += 1;
            }
        }
        Self { ranges: out }
    }

    /// The points of `lo..=hi` not in this set.
    pub fn complement(&self, lo: T, hi: T) -> Self {
        Self::interval(lo, hi).difference(self)
    }

    /// Whether every point of this set is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        // Each interval must lie inside one interval of `other` (they are maximal).
        let mut j = 0;
        for &(a, b) in &self.ranges {
            while j < other.ranges.len() && other.ranges[j].1 < a {
                j += 1;
            }
            match other.ranges.get(j) {
                Some(&(oa, ob)) if oa <= a && b <= ob => {}
                _ => return false,
            }
        }
        true
    }
}

/// Joins the overlapping and touching intervals of a list sorted by start.
fn coalesce<T: Point>(sorted: Vec<(T, T)>) -> Vec<(T, T)> {
    let mut out: Vec<(T, T)> = Vec::with_capacity(sorted.len());
    for (a, b) in sorted {
        match out.last_mut() {
            // `a` touches the last interval when it is at most one past its end (at the
            // maximum there is no past: everything after overlaps).
            Some(last) if last.1.succ().is_none_or(|next| a <= next) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u8, u8)]) -> RangeSet<u8> {
        RangeSet::from_ranges(ranges.iter().copied())
    }

    /// The set as the points it holds, the reference the operations are checked against.
    fn points(s: &RangeSet<u8>) -> Vec<bool> {
        (0..=u8::MAX).map(|x| s.contains(x)).collect()
    }

    #[test]
    fn ranges_merge_when_they_overlap_or_touch() {
        assert_eq!(
            set(&[(10, 20), (21, 30), (5, 12), (40, 40)]).ranges(),
            &[(5, 30), (40, 40)]
        );
        assert_eq!(set(&[(0, 255), (3, 4)]).ranges(), &[(0, 255)]);
        assert_eq!(set(&[(200, 255), (0, 199)]).ranges(), &[(0, 255)]);
        assert!(RangeSet::interval(5u8, 4).is_empty());
        assert!(set(&[(5, 4)]).is_empty());
    }

    #[test]
    fn operations_agree_with_sets_of_points() {
        // Every pair of sets from a small family that covers the edge cases: empty, the whole
        // universe, touching at either end, holes at 0 and 255, interleaved.
        let family = [
            set(&[]),
            set(&[(0, 255)]),
            set(&[(0, 0)]),
            set(&[(255, 255)]),
            set(&[(0, 9), (20, 29), (250, 255)]),
            set(&[(5, 24), (28, 28), (30, 251)]),
            set(&[(10, 19), (30, 39)]),
            set(&[(1, 254)]),
            set(&[(9, 10), (19, 20), (29, 31)]),
        ];
        for a in &family {
            for b in &family {
                let (pa, pb) = (points(a), points(b));
                let zip = |f: fn(bool, bool) -> bool| -> Vec<bool> {
                    pa.iter().zip(&pb).map(|(&x, &y)| f(x, y)).collect()
                };
                let union = a.union(b);
                let inter = a.intersection(b);
                let diff = a.difference(b);
                assert_eq!(points(&union), zip(|x, y| x || y), "{a:?} | {b:?}");
                assert_eq!(points(&inter), zip(|x, y| x && y), "{a:?} & {b:?}");
                assert_eq!(points(&diff), zip(|x, y| x && !y), "{a:?} - {b:?}");
                assert_eq!(
                    a.is_subset(b),
                    pa.iter().zip(&pb).all(|(&x, &y)| !x || y),
                    "{a:?} <= {b:?}"
                );
                // Results are canonical: rebuilding them from their ranges changes nothing.
                for r in [&union, &inter, &diff] {
                    assert_eq!(&RangeSet::from_ranges(r.iter()), r);
                    assert!(r
                        .ranges()
                        .windows(2)
                        .all(|w| w[0].1 < w[1].0 && w[0].1.succ().is_some_and(|n| n < w[1].0)));
                }
            }
            let comp = a.complement(10, 250);
            let expected: Vec<bool> = (0..=u8::MAX)
                .map(|x| (10..=250).contains(&x) && !a.contains(x))
                .collect();
            assert_eq!(points(&comp), expected, "!{a:?}");
        }
    }
}

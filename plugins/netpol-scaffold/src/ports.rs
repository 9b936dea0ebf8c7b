//! Sets of (protocol, port): what a connection may use, as sorted disjoint intervals per
//! protocol, so whole rules (all ports, endPort ranges) stay small.

use std::fmt;

use crate::policy::Protocol;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    /// Indexed by [`Protocol::index`]; sorted, disjoint, non-adjacent inclusive ranges.
    ranges: [Vec<(u16, u16)>; 3],
}

impl PortSet {
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        let mut s = PortSet::empty();
        for p in Protocol::ALL {
            s.add(p, 1, 65535);
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.ranges.iter().all(|r| r.as_slice() == [(1, 65535)])
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.ranges[protocol.index()]
            .iter()
            .any(|&(a, b)| a <= port && port <= b)
    }

    pub fn add(&mut self, protocol: Protocol, from: u16, to: u16) {
        let list = &mut self.ranges[protocol.index()];
        list.push((from.min(to), from.max(to)));
        list.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(list.len());
        for &(a, b) in list.iter() {
            match merged.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *list = merged;
    }

    pub fn union_with(&mut self, other: &PortSet) {
        for p in Protocol::ALL {
            for &(a, b) in &other.ranges[p.index()] {
                self.add(p, a, b);
            }
        }
    }

    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for p in Protocol::ALL {
            let (x, y) = (&self.ranges[p.index()], &other.ranges[p.index()]);
            let (mut i, mut j) = (0, 0);
            while i < x.len() && j < y.len() {
                let lo = x[i].0.max(y[j].0);
                let hi = x[i].1.min(y[j].1);
                if lo <= hi {
                    out.ranges[p.index()].push((lo, hi));
                }
                if x[i].1 < y[j].1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
        out
    }

    /// `TCP/80,UDP/53,TCP/1000-2000`; `all`, or `none`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for p in Protocol::ALL {
            let list = &self.ranges[p.index()];
            if list.as_slice() == [(1, 65535)] {
                out.push(format!("{p}/*"));
                continue;
            }
            for &(a, b) in list {
                if a == b {
                    out.push(format!("{p}/{a}"));
                } else {
                    out.push(format!("{p}/{a}-{b}"));
                }
            }
        }
        out
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("all")
        } else if self.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&self.describe().join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_intersect() {
        let mut a = PortSet::empty();
        a.add(Protocol::Tcp, 80, 80);
        a.add(Protocol::Tcp, 81, 90);
        a.add(Protocol::Udp, 53, 53);
        assert_eq!(a.to_string(), "TCP/80-90,UDP/53");
        let mut b = PortSet::empty();
        b.add(Protocol::Tcp, 85, 100);
        assert_eq!(a.intersect(&b).to_string(), "TCP/85-90");
        assert!(PortSet::all().intersect(&a) == a);
        assert!(a.intersect(&PortSet::empty()).is_empty());
        assert_eq!(PortSet::all().to_string(), "all");
    }
}

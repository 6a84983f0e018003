//! The encapsulations a packet came through, outermost first, as a small `Copy` value (no
//! allocation per packet).

use std::fmt;

/// One encapsulation layer and the identifier that tells its instances apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tunnel {
    /// An IPv4 header carrying an IP packet (protocol 4 or 41): `ipv4`.
    Ipv4,
    /// An IPv6 header carrying an IP packet (next header 4 or 41): `ipv6`.
    Ipv6,
    /// GRE (RFC 2784/2890) without a key: `gre`.
    Gre,
    /// GRE with a key: `gre:key=7`.
    GreKey(u32),
    /// ERSPAN type I (GRE protocol 0x88BE without a sequence number, no ERSPAN header):
    /// `erspan1`.
    Erspan1,
    /// ERSPAN type II (GRE protocol 0x88BE): `erspan2:session=3`.
    Erspan2(u16),
    /// ERSPAN type III (GRE protocol 0x22EB): `erspan3:session=3`.
    Erspan3(u16),
    /// VXLAN (RFC 7348, UDP 4789 or 8472): `vxlan:vni=5001`.
    Vxlan(u32),
    /// GENEVE (RFC 8926, UDP 6081): `geneve:vni=5001`.
    Geneve(u32),
    /// GTP-U (3GPP TS 29.281, UDP 2152): `gtpu:teid=1234`.
    GtpU(u32),
    /// One MPLS label stack entry (RFC 3032): `mpls:label=16`.
    Mpls(u32),
}

impl Tunnel {
    /// The layer's kind and identifier packed in 64 bits, for hashing.
    fn packed(self) -> u64 {
        let (kind, id) = match self {
            Tunnel::Ipv4 => (1, 0),
            Tunnel::Ipv6 => (2, 0),
            Tunnel::Gre => (3, 0),
            Tunnel::GreKey(k) => (4, k),
            Tunnel::Erspan1 => (11, 0),
            Tunnel::Erspan2(s) => (5, u32::from(s)),
            Tunnel::Erspan3(s) => (6, u32::from(s)),
            Tunnel::Vxlan(v) => (7, v),
            Tunnel::Geneve(v) => (8, v),
            Tunnel::GtpU(t) => (9, t),
            Tunnel::Mpls(l) => (10, l),
        };
        (kind as u64) << 32 | u64::from(id)
    }
}

impl fmt::Display for Tunnel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tunnel::Ipv4 => f.write_str("ipv4"),
            Tunnel::Ipv6 => f.write_str("ipv6"),
            Tunnel::Gre => f.write_str("gre"),
            Tunnel::GreKey(k) => write!(f, "gre:key={k}"),
            Tunnel::Erspan1 => f.write_str("erspan1"),
            Tunnel::Erspan2(s) => write!(f, "erspan2:session={s}"),
            Tunnel::Erspan3(s) => write!(f, "erspan3:session={s}"),
            Tunnel::Vxlan(v) => write!(f, "vxlan:vni={v}"),
            Tunnel::Geneve(v) => write!(f, "geneve:vni={v}"),
            Tunnel::GtpU(t) => write!(f, "gtpu:teid={t}"),
            Tunnel::Mpls(l) => write!(f, "mpls:label={l}"),
        }
    }
}

/// Most layers a [`TunnelStack`] keeps; deeper ones are counted by
/// [`TunnelStack::deeper`] but not named.
pub const MAX_TUNNELS: usize = 6;

/// The encapsulations of one packet, outermost first.
///
/// ```
/// use helloscope_capture::decode::{Tunnel, TunnelStack};
/// let mut s = TunnelStack::new();
/// s.push(Tunnel::GreKey(7));
/// s.push(Tunnel::Vxlan(5001));
/// let names: Vec<String> = s.iter().map(|t| t.to_string()).collect();
/// assert_eq!(names, ["gre:key=7", "vxlan:vni=5001"]);
/// assert_ne!(s.identity(), 0);
/// assert_eq!(TunnelStack::new().identity(), 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TunnelStack {
    layers: [Tunnel; MAX_TUNNELS],
    len: u8,
    deeper: bool,
}

impl Default for TunnelStack {
    fn default() -> Self {
        Self::new()
    }
}

impl TunnelStack {
    /// No encapsulation.
    pub const fn new() -> Self {
        TunnelStack {
            layers: [Tunnel::Gre; MAX_TUNNELS],
            len: 0,
            deeper: false,
        }
    }

    /// Adds the next inner layer (past [`MAX_TUNNELS`] only [`deeper`](Self::deeper) is set).
    #[inline]
    pub fn push(&mut self, t: Tunnel) {
        match self.layers.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = t;
                self.len += 1;
            }
            None => self.deeper = true,
        }
    }

    /// The layers kept, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = &Tunnel> + '_ {
        self.layers[..self.len as usize].iter()
    }

    /// No encapsulation at all.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of layers kept.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// More than [`MAX_TUNNELS`] layers were passed; the innermost ones are not named.
    pub fn deeper(&self) -> bool {
        self.deeper
    }

    /// A 64-bit identity of the stack for flow keys: 0 when there is no encapsulation,
    /// otherwise a mix of every layer's kind and identifier (never 0).
    #[inline(always)]
    pub fn identity(&self) -> u64 {
        if self.len == 0 && !self.deeper {
            return 0;
        }
        self.mixed()
    }

    /// The identity of a stack that is not empty; out of line, so that the flow key of plain
    /// traffic stays a few instructions.
    #[inline(never)]
    fn mixed(&self) -> u64 {
        let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ u64::from(self.deeper);
        for t in self.iter() {
            h = (h ^ t.packed()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        h | 1
    }

    /// The text forms of the layers, outermost first (`...` appended when deeper).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.iter().map(|t| t.to_string()).collect();
        if self.deeper {
            v.push("...".into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_tells_stacks_apart() {
        let mut a = TunnelStack::new();
        a.push(Tunnel::Vxlan(1));
        let mut b = TunnelStack::new();
        b.push(Tunnel::Vxlan(2));
        let mut c = TunnelStack::new();
        c.push(Tunnel::Geneve(1));
        let mut d = a;
        d.push(Tunnel::Ipv4);
        let ids = [a.identity(), b.identity(), c.identity(), d.identity()];
        for (i, x) in ids.iter().enumerate() {
            assert_ne!(*x, 0);
            for y in &ids[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn deeper_than_the_array() {
        let mut s = TunnelStack::new();
        for l in 0..8 {
            s.push(Tunnel::Mpls(l));
        }
        assert_eq!(s.len(), MAX_TUNNELS);
        assert!(s.deeper());
        assert_eq!(s.names().len(), MAX_TUNNELS + 1);
        assert_eq!(s.names()[0], "mpls:label=0");
    }
}

//! Ground floor: the `trusted_proxies` setting, a list of IP addresses and CIDR networks
//! (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`). Forwarded headers (`Forwarded`,
//! `X-Forwarded-Host`, `X-Forwarded-Proto`) are believed only from a peer in the list; empty
//! (the default) trusts none.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One address (a network of its full length) or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `prefix` of `width` bits of `a` and `b` are equal.
fn prefix_eq(a: u128, b: u128, width: u8, prefix: u8) -> bool {
    let host_bits = u32::from(width - prefix);
    a.checked_shr(host_bits).unwrap_or(0) == b.checked_shr(host_bits).unwrap_or(0)
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "trusted_proxies: '{s}' is not an IP address or CIDR network \
                 (e.g. 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)"
            )
        };
        let text = s.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The `trusted_proxies` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list (the form of an environment variable or a flag).
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(IpNet::from_str)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    /// A list of strings, or one comma-separated string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            One(String),
        }
        let nets = match Form::deserialize(deserializer)? {
            Form::List(items) => items
                .iter()
                .map(|i| i.parse())
                .collect::<Result<Vec<IpNet>, _>>()
                .map(TrustedProxies),
            Form::One(text) => text.parse(),
        };
        nets.map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks() {
        let list: TrustedProxies = "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32".parse().unwrap();
        assert!(list.contains(ip("10.1.2.3")));
        assert!(!list.contains(ip("11.0.0.1")));
        assert!(list.contains(ip("192.0.2.7")));
        assert!(!list.contains(ip("192.0.2.8")));
        assert!(list.contains(ip("2001:db8::1")));
        assert!(!list.contains(ip("2001:db9::1")));
        // An IPv4 peer seen on an IPv6 socket.
        assert!(list.contains(ip("::ffff:10.9.9.9")));
        let all: TrustedProxies = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        assert!(!all.contains(ip("::1")));
        assert!(TrustedProxies::default().is_empty());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_entries_say_what_is_expected() {
        for bad in [
            "10.0.0.0/33",
            "example.com",
            "10.0.0/8",
            "::1/129",
            "1.2.3.4/x",
        ] {
            let e = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(e.contains(bad) && e.contains("CIDR"), "{e}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let list: TrustedProxies = serde_json::from_str(r#"["127.0.0.1", "10.0.0.0/8"]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["127.0.0.1/32","10.0.0.0/8"]"#
        );
        let one: TrustedProxies = serde_json::from_str(r#""127.0.0.1,::1""#).unwrap();
        assert!(one.contains(ip("::1")));
        assert!(serde_json::from_str::<TrustedProxies>(r#"["nope"]"#).is_err());
    }
}

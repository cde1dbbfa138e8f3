//! Bodies of plain `GET`s already written, reused while the provisioner serves the very same
//! shared resource.
//!
//! A provisioner that keeps its resources in memory hands the service the resource it holds
//! (see [`Provisioner::get_user_shared`](crate::provision::Provisioner::get_user_shared)), and
//! builds a new one whenever what it serves changes. So the resource's identity (its
//! allocation) says whether a body written earlier is still right, with no version to compare
//! and nothing for the provisioner to invalidate. Each entry holds a [`Weak`] to the resource it
//! was written from: while it exists the allocation cannot be reused for another resource, and
//! the resource itself, behind an `Arc` without interior mutability, cannot change.
//!
//! A resource the provisioner does not keep (its `Arc` is the only one: the default
//! `get_user_shared` over a database) is never cached. The cache is bounded in bytes, counting
//! each body and the resource's own allocation, which its `Weak` keeps allocated after the
//! provisioner replaced it. When a shard would go over its share, its entries for resources no
//! longer served are dropped first, then all of them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;
use http::HeaderValue;

/// Shards, so that concurrent `GET`s seldom wait on the same lock.
const SHARDS: usize = 16;

/// Rendered bodies of resources of type `T`, keyed by the resource's address.
pub(crate) struct RenderedBodies<T> {
    shards: Box<[Mutex<Shard<T>>]>,
    /// What one shard's entries may cost, in bytes (see [`Rendered::cost`]).
    shard_budget: usize,
}

struct Shard<T> {
    entries: HashMap<usize, Rendered<T>, BuildHasherDefault<AddressHasher>>,
    /// What the entries cost: see [`Rendered::cost`].
    bytes: usize,
}

/// Hashes the resource addresses that key the entries. The map's default hasher (`SipHash`,
/// keyed against flooding) is made for keys a client chooses; an address is not one, and
/// `SipHash` cost a cached `GET` as much as the rest of the lookup. A folded multiply spreads the
/// address's bits (its low ones are zero, from alignment) into both ends of the hash, where
/// the map takes its bucket and its tag.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `usize` keys are hashed; bytes, were there any, still mix in.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        let product = u128::from(self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = (product >> 64) as u64 ^ product as u64;
    }
}

/// A body as served, and the `ETag` that goes with it: both shared with each response.
#[derive(Clone, Debug)]
pub(crate) struct ServedBody {
    pub(crate) bytes: Bytes,
    pub(crate) etag: Option<HeaderValue>,
}

impl ServedBody {
    /// `bytes`, with the `ETag` of `version` (left out if it cannot be a header value).
    pub(crate) fn new(bytes: Bytes, version: Option<&str>) -> Self {
        ServedBody {
            bytes,
            etag: ServedBody::etag(version),
        }
    }

    /// The `ETag` of `version` (none if it cannot be a header value).
    pub(crate) fn etag(version: Option<&str>) -> Option<HeaderValue> {
        version.and_then(|v| HeaderValue::from_str(v).ok())
    }

    fn len(&self) -> usize {
        self.bytes.len() + self.etag.as_ref().map_or(0, HeaderValue::len)
    }
}

struct Rendered<T> {
    resource: Weak<T>,
    base_url: Box<str>,
    body: ServedBody,
}

impl<T> Rendered<T> {
    fn size(&self) -> usize {
        Rendered::<T>::cost(self.body.len(), self.base_url.len())
    }

    /// The bytes an entry holds: its body, `ETag` and URL, and the resource's allocation (the
    /// `Weak` keeps that allocated, though not the resource's own heap data, once the
    /// provisioner dropped it).
    fn cost(body: usize, base_url: usize) -> usize {
        body + base_url + std::mem::size_of::<T>() + 2 * std::mem::size_of::<usize>()
    }
}

impl<T> RenderedBodies<T> {
    /// A cache whose entries cost at most about `budget` bytes in all (0: it keeps nothing).
    pub(crate) fn new(budget: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    entries: HashMap::default(),
                    bytes: 0,
                })
            })
            .collect();
        RenderedBodies {
            shards,
            shard_budget: budget / SHARDS,
        }
    }

    /// The shard for `key`; `None` when the cache keeps nothing.
    fn shard(&self, key: usize) -> Option<&Mutex<Shard<T>>> {
        if self.shard_budget == 0 {
            return None;
        }
        // Addresses step by the allocator's size class (often a power of two), so their low
        // bits repeat: a multiplicative hash spreads them over the shards.
        let spread = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        self.shards
            .get(usize::try_from(spread).unwrap_or(0) % SHARDS)
    }

    /// The body written for `resource` under `base_url`, if one is kept.
    pub(crate) fn get(&self, resource: &Arc<T>, base_url: &str) -> Option<ServedBody> {
        if Arc::strong_count(resource) < 2 {
            return None;
        }
        let key = Arc::as_ptr(resource) as usize;
        let shard = self
            .shard(key)?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The entry's `Weak` keeps its allocation, so no other resource can have this address
        // while the entry exists: the same key is the same resource.
        let hit = shard.entries.get(&key)?;
        (&*hit.base_url == base_url).then(|| hit.body.clone())
    }

    /// Keeps `body`, written for `resource` under `base_url`, if the provisioner shares the
    /// resource and the body fits.
    pub(crate) fn put(&self, resource: &Arc<T>, base_url: &str, body: &ServedBody) {
        let cost = Rendered::<T>::cost(body.len(), base_url.len());
        if Arc::strong_count(resource) < 2 || cost > self.shard_budget {
            return;
        }
        let key = Arc::as_ptr(resource) as usize;
        let Some(shard) = self.shard(key) else {
            return;
        };
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if shard.bytes + cost > self.shard_budget {
            shard.entries.retain(|_, e| e.resource.strong_count() > 0);
            shard.bytes = shard.entries.values().map(Rendered::size).sum();
            if shard.bytes + cost > self.shard_budget {
                shard.entries.clear();
                shard.bytes = 0;
            }
        }
        let entry = Rendered {
            resource: Arc::downgrade(resource),
            base_url: base_url.into(),
            body: body.clone(),
        };
        shard.bytes += cost;
        if let Some(old) = shard.entries.insert(key, entry) {
            shard.bytes -= old.size();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Addresses a step of 64 bytes apart (their low six bits zero) still fall into distinct
    /// buckets (the hash's low bits) and carry varied tags (its top seven bits).
    #[test]
    fn aligned_addresses_spread_over_buckets_and_tags() {
        let hash = |address: usize| {
            let mut h = AddressHasher::default();
            h.write_usize(address);
            h.finish()
        };
        let hashes: Vec<u64> = (0..1024).map(|i| hash(0x7f00_1234_0000 + i * 64)).collect();
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(
            buckets.len() > 600,
            "{} distinct buckets of 1024",
            buckets.len()
        );
        assert!(tags.len() > 100, "{} distinct tags of 128", tags.len());
    }

    fn body(bytes: &[u8]) -> ServedBody {
        ServedBody::new(Bytes::copy_from_slice(bytes), None)
    }

    #[test]
    fn a_body_is_reused_only_for_the_same_shared_resource_and_base_url() {
        let cache = RenderedBodies::<String>::new(1 << 20);
        let held = Arc::new("alice".to_owned());
        let served = Arc::clone(&held);
        assert!(cache.get(&served, "http://a").is_none());
        cache.put(&served, "http://a", &body(b"{alice}"));
        assert_eq!(
            &cache.get(&served, "http://a").unwrap().bytes[..],
            b"{alice}"
        );
        assert!(cache.get(&served, "http://b").is_none(), "another base URL");

        // The provisioner replaced the resource: the old body is not served for the new one.
        drop(served);
        let held = Arc::new("alice2".to_owned());
        let served = Arc::clone(&held);
        assert!(cache.get(&served, "http://a").is_none());
        drop(held);

        // A resource nobody else holds (a database read) is neither kept nor looked up.
        let fresh = Arc::new("bob".to_owned());
        cache.put(&fresh, "http://a", &body(b"{bob}"));
        let again = Arc::clone(&fresh);
        assert!(cache.get(&again, "http://a").is_none());
    }

    #[test]
    fn addresses_a_size_class_apart_spread_over_the_shards() {
        let cache = RenderedBodies::<u8>::new(1 << 20);
        let used: std::collections::HashSet<usize> = (0..64usize)
            .map(|i| {
                let shard = cache.shard(0x7f00_0000_0000 + i * 1024).unwrap();
                std::ptr::from_ref(shard) as usize
            })
            .collect();
        assert!(used.len() >= SHARDS / 2, "{} shards used", used.len());
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        // Room for two entries of a 10-byte body per shard.
        let one = Rendered::<u32>::cost(10, 1);
        let cache = RenderedBodies::<u32>::new(2 * one * SHARDS);
        // Held by the "provisioner" and by the request, as a shared resource is.
        let held: Vec<Arc<u32>> = (0..200).map(Arc::new).collect();
        let served: Vec<Arc<u32>> = held.iter().map(Arc::clone).collect();
        for r in &served {
            cache.put(r, "u", &body(&[0; 10]));
        }
        let kept: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(kept <= 2 * one * SHARDS, "{kept}");
        assert!(kept > 0);
        let counted: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().unwrap().entries.len() * one)
            .sum();
        assert_eq!(kept, counted);
        // Too big for a shard: not kept.
        cache.put(&served[0], "u", &body(&[0; 200]));
        assert!(
            cache
                .get(&served[0], "u")
                .is_none_or(|b| b.bytes.len() == 10)
        );
        // What is kept is served.
        let hits = served
            .iter()
            .filter(|r| cache.get(r, "u").is_some())
            .count();
        assert_eq!(hits * one, kept);

        let none = RenderedBodies::<u32>::new(0);
        none.put(&served[1], "u", &body(b"x"));
        assert!(none.get(&served[1], "u").is_none());
    }
}

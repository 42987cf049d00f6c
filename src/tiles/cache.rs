//! The tile cache: encoded tiles by source, address and window, bounded in bytes and
//! evicted least recently used first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;

use super::{Source, TileCoord};

/// What a cached tile is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// The source.
    pub source: Source,
    /// The address.
    pub coord: TileCoord,
    /// The window in days; `None` for the default window.
    pub window: Option<u32>,
}

/// An encoded tile (empty bytes: no features), with its entity tag and, once asked
/// for, its gzip encoding.
#[derive(Debug)]
pub struct EncodedTile {
    /// The tile, uncompressed.
    pub bytes: Bytes,
    /// Hash of `bytes`: the tile's identity for `ETag` (same content, same tag, also
    /// across restarts).
    pub hash: u64,
    gzip: OnceLock<Bytes>,
}

impl EncodedTile {
    /// Wraps encoded bytes.
    pub fn new(bytes: Vec<u8>) -> EncodedTile {
        use std::hash::{DefaultHasher, Hasher};
        // SipHash with fixed keys: stable across processes.
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        EncodedTile { hash: hasher.finish(), bytes: Bytes::from(bytes), gzip: OnceLock::new() }
    }

    /// The gzip encoding, made on first use.
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                use std::io::Write;
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                // Writing to a Vec cannot fail.
                let _ = encoder.write_all(&self.bytes);
                Bytes::from(encoder.finish().unwrap_or_default())
            })
            .clone()
    }

    fn cost(&self) -> usize {
        // The gzip copy, when made, is about a third; count it up front.
        self.bytes.len() + self.bytes.len() / 3 + 128
    }
}

/// An LRU map of tiles bounded by the bytes they hold.
pub struct TileCache {
    capacity: usize,
    used: usize,
    tick: u64,
    entries: HashMap<TileKey, (Arc<EncodedTile>, u64)>,
    order: BTreeMap<u64, TileKey>,
    hits: u64,
    misses: u64,
}

impl TileCache {
    /// A cache holding at most `capacity` bytes (0: caches nothing).
    pub fn new(capacity: usize) -> TileCache {
        TileCache { capacity, used: 0, tick: 0, entries: HashMap::new(), order: BTreeMap::new(), hits: 0, misses: 0 }
    }

    /// A cached tile, marked as just used.
    pub fn get(&mut self, key: &TileKey) -> Option<Arc<EncodedTile>> {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.get_mut(key) {
            Some((tile, used)) => {
                self.order.remove(used);
                *used = tick;
                self.order.insert(tick, *key);
                self.hits += 1;
                Some(Arc::clone(tile))
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Stores a tile, evicting the least recently used ones to make room.
    pub fn insert(&mut self, key: TileKey, tile: Arc<EncodedTile>) {
        let cost = tile.cost();
        if cost > self.capacity {
            return;
        }
        self.remove(&key);
        while self.used + cost > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.used -= old.cost();
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key);
        self.entries.insert(key, (tile, self.tick));
        self.used += cost;
    }

    /// Drops one tile.
    pub fn remove(&mut self, key: &TileKey) {
        if let Some((old, used)) = self.entries.remove(key) {
            self.order.remove(&used);
            self.used -= old.cost();
        }
    }

    /// Drops every tile for which `stale` says so; returns how many.
    pub fn invalidate(&mut self, mut stale: impl FnMut(&TileKey) -> bool) -> usize {
        let keys: Vec<TileKey> = self.entries.keys().filter(|k| stale(k)).copied().collect();
        for key in &keys {
            self.remove(key);
        }
        keys.len()
    }

    /// Number of tiles held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held (as counted for the bound).
    pub fn used(&self) -> usize {
        self.used
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: u32) -> TileKey {
        TileKey { source: Source::Provinsi, coord: TileCoord { z: 10, x, y: 0 }, window: None }
    }

    #[test]
    fn evicts_the_least_recently_used_within_the_byte_bound() {
        let tile = || Arc::new(EncodedTile::new(vec![0; 300]));
        let one = tile().cost();
        let mut cache = TileCache::new(3 * one);
        for x in 0..3 {
            cache.insert(key(x), tile());
        }
        assert!(cache.get(&key(0)).is_some()); // 1 is now the oldest
        cache.insert(key(3), tile());
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(0)).is_some() && cache.get(&key(2)).is_some() && cache.get(&key(3)).is_some());
        assert_eq!(cache.used(), 3 * one);
        assert_eq!(cache.invalidate(|k| k.coord.x >= 2), 2);
        assert_eq!(cache.len(), 1);
        let mut off = TileCache::new(0);
        off.insert(key(0), tile());
        assert!(off.is_empty());
    }

    #[test]
    fn same_content_same_tag_and_gzip_round_trips() {
        let a = EncodedTile::new(b"tile".repeat(100));
        let b = EncodedTile::new(b"tile".repeat(100));
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, EncodedTile::new(b"other".to_vec()).hash);
        let mut out = Vec::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&a.gzip()[..]).read_to_end(&mut out).expect("gzip");
        assert_eq!(out, a.bytes);
    }
}

//! The caches of tiles and of their layers: encoded bytes by source (or layer),
//! address and window, bounded in bytes and evicted least recently used first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

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
    /// The window's end (unix seconds); `None`: now.
    pub at: Option<i64>,
    /// Whose incidents the tile shows (see [`super::scope_key`]); 0 for a source
    /// without incidents.
    pub scope: u64,
}

/// An encoded tile (empty bytes: no features), with its entity tags and, once asked
/// for, its gzip encoding.
#[derive(Debug)]
pub struct EncodedTile {
    /// The tile, uncompressed.
    pub bytes: Bytes,
    /// Hash of `bytes`: the tile's identity for `ETag` (same content, same tag, also
    /// across restarts).
    pub hash: u64,
    /// The quoted entity tags of the identity and the gzip encoding, made once with
    /// the tile (a cached tile is sent without formatting anything).
    tags: [Bytes; 2],
    gzip: OnceLock<Bytes>,
}

impl EncodedTile {
    /// Wraps encoded bytes.
    pub fn new(bytes: Vec<u8>) -> EncodedTile {
        use std::hash::{DefaultHasher, Hasher};
        // SipHash with fixed keys: stable across processes.
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        let hash = hasher.finish();
        let tags = [Bytes::from(format!("\"{hash:016x}\"")), Bytes::from(format!("\"{hash:016x}-gz\""))];
        EncodedTile { hash, tags, bytes: Bytes::from(bytes), gzip: OnceLock::new() }
    }

    /// The quoted entity tag of the gzip encoding (`"<hash>-gz"`) or of the identity
    /// (`"<hash>"`): a strong tag names one representation.
    pub fn tag(&self, gzip: bool) -> &Bytes {
        &self.tags[usize::from(gzip)]
    }

    /// The gzip encoding, made on first use, at the fastest level (tiles are made
    /// again after every change they show; level 6 costs three times as long for a
    /// tenth less).
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                use std::io::Write;
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                // Writing to a Vec cannot fail.
                let _ = encoder.write_all(&self.bytes);
                Bytes::from(encoder.finish().unwrap_or_default())
            })
            .clone()
    }

    /// Whether the gzip encoding is made already.
    pub fn has_gzip(&self) -> bool {
        self.gzip.get().is_some()
    }

    /// The tile made of `parts`, with its gzip encoding made of theirs (each part's
    /// compressed once, see [`LayerPart::deflated`]).
    pub fn of_parts(parts: &[&LayerPart]) -> EncodedTile {
        let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.bytes.len()).sum());
        for part in parts {
            bytes.extend_from_slice(&part.bytes);
        }
        let tile = EncodedTile::new(bytes);
        let mut gzip = Vec::with_capacity(parts.iter().map(|p| p.deflated().data.len()).sum::<usize>() + 20);
        // Header: deflate, no flags, no time, unknown system.
        gzip.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        let mut crc = crc32fast::Hasher::new();
        for part in parts.iter().filter(|p| !p.bytes.is_empty()) {
            let deflated = part.deflated();
            gzip.extend_from_slice(&deflated.data);
            crc.combine(&crc32fast::Hasher::new_with_initial_len(deflated.crc, part.bytes.len() as u64));
        }
        // An empty last block (fixed codes: BFINAL, BTYPE 01, end of block).
        gzip.extend_from_slice(&[0x03, 0x00]);
        gzip.extend_from_slice(&crc.finalize().to_le_bytes());
        gzip.extend_from_slice(&(tile.bytes.len() as u32).to_le_bytes());
        let _ = tile.gzip.set(Bytes::from(gzip));
        tile
    }
}

impl Weighed for EncodedTile {
    fn cost(&self) -> usize {
        // The gzip copy, when made, is about a third; count it up front.
        self.bytes.len() + self.bytes.len() / 3 + 128
    }
}

/// What one layer of a tile is keyed by: tiles of several sources share their layers
/// (the regencies of `kabupaten_kota` and of `sipks` from zoom 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayerKey {
    /// The layer.
    pub layer: super::Layer,
    /// The address.
    pub coord: TileCoord,
    /// The window in days; `None` for the default window.
    pub window: Option<u32>,
    /// The window's end (unix seconds); `None`: now.
    pub at: Option<i64>,
    /// Whose incidents it shows (see [`super::scope_key`]); 0 but for incidents.
    pub scope: u64,
}

/// One layer encoded as a tile of its own (empty: no features). A tile is the
/// concatenation of its layers' encodings: a Mapbox Vector Tile is a protobuf message
/// whose only field is the repeated layer, so the bytes of one-layer tiles put end to
/// end are the bytes of the tile with all of them.
#[derive(Debug)]
pub struct LayerPart {
    /// The encoding.
    pub bytes: Vec<u8>,
    deflated: OnceLock<Deflated>,
}

/// A part's bytes compressed as raw deflate blocks ending in a sync flush (byte-aligned,
/// not final), so that the blocks of several parts put end to end, with a last empty
/// block, are the deflate stream of the tile; and the CRC-32 of its bytes. A change then
/// compresses only the layers it re-renders, not the tile around them.
#[derive(Debug)]
struct Deflated {
    data: Vec<u8>,
    crc: u32,
}

impl LayerPart {
    /// A part of these bytes.
    pub fn new(bytes: Vec<u8>) -> LayerPart {
        LayerPart { bytes, deflated: OnceLock::new() }
    }

    fn deflated(&self) -> &Deflated {
        self.deflated.get_or_init(|| Deflated { data: deflate_flushed(&self.bytes), crc: crc32fast::hash(&self.bytes) })
    }
}

/// `bytes` as raw deflate (fastest level) ending in a sync flush; empty for no bytes.
fn deflate_flushed(bytes: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    if bytes.is_empty() {
        return out;
    }
    let mut compress = Compress::new(Compression::fast(), false);
    loop {
        let consumed = compress.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        if compress.compress_vec(&bytes[consumed..], &mut out, FlushCompress::Sync).is_err() {
            // Compressing into a Vec does not fail; were it to, the part is stored.
            return stored(bytes);
        }
        // Done when all is in and the flush did not fill the room it had.
        if compress.total_in() as usize == bytes.len() && out.len() < out.capacity() {
            return out;
        }
    }
}

/// `bytes` as stored (uncompressed) deflate blocks, not final.
fn stored(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 65535 * 5 + 5);
    for chunk in bytes.chunks(65535) {
        let len = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

impl Weighed for LayerPart {
    fn cost(&self) -> usize {
        // The compressed copy, once made, is about a third.
        self.bytes.len() + self.bytes.len() / 3 + 64
    }
}

/// What an entry of a cache counts against its bound, in bytes.
pub trait Weighed {
    /// Bytes held.
    fn cost(&self) -> usize;
}

/// The cache of whole tiles.
pub type TileCache = Cache<TileKey, EncodedTile>;
/// The cache of tiles' layers.
pub type LayerCache = Cache<LayerKey, LayerPart>;

/// A map of encoded tiles (or layers) bounded by the bytes they hold, evicting the
/// least recently used. Reads share a lock and only stamp the entry's last use;
/// eviction, rare, sorts by those stamps and drops the oldest eighth at once.
///
/// The clock moves on every store, not on reads: a hit stamps its entry with the
/// clock's value, and writes it only when the entry does not hold it already, so that
/// the hits on a cache that is not changing write nothing shared (the threads serving
/// them would otherwise pass the cache lines of the clock and of the hot entries back
/// and forth on every request). Entries used since the last store tie; eviction drops
/// the oldest first as before. Hits and misses are counted in per-thread stripes.
pub struct Cache<K, V> {
    capacity: usize,
    inner: RwLock<Inner<K, V>>,
    clock: AtomicU64,
    hits: Striped,
    misses: Striped,
}

/// Number of stripes of a [`Striped`] counter.
const STRIPES: usize = 8;

/// A counter that threads bump each in its own cache line; read by summing.
#[derive(Default)]
pub struct Striped([Padded; STRIPES]);

#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

impl Striped {
    /// Adds one, in the calling thread's stripe.
    pub fn bump(&self) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed) as usize % STRIPES
            };
        }
        let stripe = STRIPE.with(|s| *s);
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn sum(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

struct Inner<K, V> {
    entries: HashMap<K, Entry<V>>,
    used: usize,
    /// Tiles being rendered, each with its renderer's token; an invalidation that
    /// matches one drops it, and then the render is not stored.
    pending: HashMap<K, u64>,
    next_token: u64,
}

struct Entry<V> {
    tile: Arc<V>,
    last_use: AtomicU64,
}

impl<K: Copy + Eq + std::hash::Hash, V: Weighed> Cache<K, V> {
    /// A cache holding at most `capacity` bytes (0: caches nothing).
    pub fn new(capacity: usize) -> Self {
        Cache {
            capacity,
            inner: RwLock::new(Inner { entries: HashMap::new(), used: 0, pending: HashMap::new(), next_token: 0 }),
            clock: AtomicU64::new(0),
            hits: Striped::default(),
            misses: Striped::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<K, V>> {
        crate::sync::read(&self.inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<K, V>> {
        crate::sync::write(&self.inner)
    }

    /// A cached tile, marked as just used.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let found = self.find(key);
        self.count(found.is_some());
        found
    }

    /// A cached tile, marked as just used, without counting a hit or a miss (the
    /// caller counts with [`Cache::count`] what it answers).
    pub fn find(&self, key: &K) -> Option<Arc<V>> {
        if self.capacity == 0 {
            return None;
        }
        let inner = self.read();
        let entry = inner.entries.get(key)?;
        let now = self.clock.load(Ordering::Relaxed);
        if entry.last_use.load(Ordering::Relaxed) != now {
            entry.last_use.store(now, Ordering::Relaxed);
        }
        Some(Arc::clone(&entry.tile))
    }

    /// Counts a lookup made with [`Cache::find`]: a hit or a miss.
    pub fn count(&self, hit: bool) {
        if hit {
            self.hits.bump();
        } else {
            self.misses.bump();
        }
    }

    /// A cached entry without counting a hit or a miss (for checks behind one already
    /// counted) or stamping its use.
    pub fn peek(&self, key: &K) -> Option<Arc<V>> {
        self.read().entries.get(key).map(|entry| Arc::clone(&entry.tile))
    }

    /// Notes that `key` is about to be rendered, before the renderer reads what it
    /// shows; the token is for [`TileCache::finish`].
    pub fn begin(&self, key: K) -> u64 {
        let mut inner = self.write();
        inner.next_token += 1;
        let token = inner.next_token;
        inner.pending.insert(key, token);
        token
    }

    /// Stores a tile begun with `token`, unless an invalidation dropped it meanwhile
    /// (it may show what changed before the change's bookkeeping was done).
    pub fn finish(&self, key: K, token: u64, tile: Arc<V>) {
        let mut inner = self.write();
        if inner.pending.get(&key) != Some(&token) {
            return;
        }
        inner.pending.remove(&key);
        self.store(&mut inner, key, tile);
    }

    /// Stores a tile, evicting the least recently used ones to make room.
    pub fn insert(&self, key: K, tile: Arc<V>) {
        let mut inner = self.write();
        self.store(&mut inner, key, tile);
    }

    fn store(&self, inner: &mut Inner<K, V>, key: K, tile: Arc<V>) {
        let cost = tile.cost();
        if cost > self.capacity {
            return;
        }
        let entry = Entry { tile, last_use: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)) };
        if let Some(old) = inner.entries.insert(key, entry) {
            inner.used -= old.tile.cost();
        }
        inner.used += cost;
        if inner.used > self.capacity {
            self.evict(inner);
        }
    }

    /// Drops the least recently used entries until an eighth of the bound is free.
    fn evict(&self, inner: &mut Inner<K, V>) {
        let target = self.capacity - self.capacity / 8;
        let mut by_age: Vec<(u64, K)> =
            inner.entries.iter().map(|(k, e)| (e.last_use.load(Ordering::Relaxed), *k)).collect();
        by_age.sort_unstable_by_key(|(t, _)| *t);
        for (_, key) in by_age {
            if inner.used <= target {
                break;
            }
            if let Some(old) = inner.entries.remove(&key) {
                inner.used -= old.tile.cost();
            }
        }
    }

    /// The keys held for which `which` says so.
    pub fn keys(&self, mut which: impl FnMut(&K) -> bool) -> std::collections::HashSet<K> {
        self.read().entries.keys().filter(|k| which(k)).copied().collect()
    }

    /// Drops every tile for which `stale` says so, and every render in progress of
    /// one; returns how many tiles.
    pub fn invalidate(&self, mut stale: impl FnMut(&K) -> bool) -> usize {
        let mut inner = self.write();
        inner.pending.retain(|k, _| !stale(k));
        let before = inner.entries.len();
        let mut freed = 0;
        inner.entries.retain(|k, e| {
            let keep = !stale(k);
            if !keep {
                freed += e.tile.cost();
            }
            keep
        });
        inner.used -= freed;
        before - inner.entries.len()
    }

    /// Number of tiles held.
    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (as counted for the bound).
    pub fn used(&self) -> usize {
        self.read().used
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.sum(), self.misses.sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(x: u32) -> TileKey {
        TileKey { source: Source::Provinsi, coord: TileCoord { z: 10, x, y: 0 }, window: None, at: None, scope: 0 }
    }

    #[test]
    fn a_tile_compressed_from_its_parts_decompresses_to_the_tile() {
        use std::io::Read;
        // Text-like, empty, incompressible (an LCG's bytes) and large parts.
        let mut noise = Vec::with_capacity(200_000);
        let mut x: u32 = 12345;
        for _ in 0..200_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        let text: Vec<u8> = b"provinsi kabupaten_kota kecamatan ".repeat(5_000);
        let parts = [LayerPart::new(text.clone()), LayerPart::new(Vec::new()), LayerPart::new(noise.clone())];
        let tile = EncodedTile::of_parts(&parts.iter().collect::<Vec<_>>());
        assert_eq!(tile.bytes, [text.as_slice(), noise.as_slice()].concat());
        assert!(tile.has_gzip());
        let gzip = tile.gzip();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gzip.as_ref()).read_to_end(&mut back).expect("a valid gzip stream");
        assert_eq!(back, tile.bytes, "the same bytes, CRC and length checked by the decoder");
        assert!(gzip.len() < tile.bytes.len(), "compressed");
        // A part shared by two tiles is compressed once.
        let again = EncodedTile::of_parts(&[&parts[0]]);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(again.gzip().as_ref()).read_to_end(&mut back).expect("valid");
        assert_eq!(back, text);
        assert!(EncodedTile::of_parts(&[]).bytes.is_empty());
    }

    #[test]
    fn evicts_the_least_recently_used_within_the_byte_bound() {
        let tile = || Arc::new(EncodedTile::new(vec![0; 300]));
        let one = tile().cost();
        let cache = TileCache::new(8 * one);
        for x in 0..8 {
            cache.insert(key(x), tile());
        }
        assert!(cache.get(&key(0)).is_some()); // 1 and 2 are now the oldest
        cache.insert(key(8), tile());
        // Over the bound: the oldest go until an eighth is free.
        assert!(cache.get(&key(1)).is_none() && cache.get(&key(2)).is_none());
        assert!([0, 3, 4, 5, 6, 7, 8].iter().all(|&x| cache.get(&key(x)).is_some()));
        assert_eq!(cache.used(), 7 * one);
        assert_eq!(cache.invalidate(|k| k.coord.x >= 4), 5);
        assert_eq!((cache.len(), cache.used()), (2, 2 * one));
        let off = TileCache::new(0);
        off.insert(key(0), tile());
        assert!(off.is_empty());
    }

    #[test]
    fn a_render_overtaken_by_an_invalidation_is_not_stored() {
        let cache = TileCache::new(1 << 20);
        let tile = || Arc::new(EncodedTile::new(vec![1; 100]));
        let token = cache.begin(key(1));
        cache.finish(key(1), token, tile());
        assert!(cache.get(&key(1)).is_some());
        let (stale, kept) = (cache.begin(key(2)), cache.begin(key(3)));
        assert_eq!(cache.invalidate(|k| k.coord.x == 2), 0);
        cache.finish(key(2), stale, tile());
        cache.finish(key(3), kept, tile());
        assert!(cache.get(&key(2)).is_none(), "rendered across an invalidation of it");
        assert!(cache.get(&key(3)).is_some(), "an invalidation elsewhere keeps it");
        // A later render of the same tile replaces the earlier one's claim.
        let (first, second) = (cache.begin(key(4)), cache.begin(key(4)));
        cache.finish(key(4), first, tile());
        assert!(cache.get(&key(4)).is_none());
        cache.finish(key(4), second, tile());
        assert!(cache.get(&key(4)).is_some());
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

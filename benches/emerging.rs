//! Emerging hot spots (issue 20) on a million incidents: Gi* of 52 weekly bins, the
//! Mann-Kendall trend and the class of every one of the 514 regencies and of the 7,285
//! districts. The engine is loaded from the database named by SIPKS_BENCH_DATABASE_URL
//! (scripts/bench-emerging: the shared workload of scripts/bench-engine); when it holds
//! fewer than 1,000,000 incidents (a database with the boundaries only), synthetic
//! ones at the districts' label points, spread over the last year, make up the rest.

use std::time::{Duration, Instant};

use criterion::{black_box, Criterion};
use sipks::engine::emerging::{BinValue, TimeBins};
use sipks::engine::risk::DAY;
use sipks::engine::store::Incident;
use sipks::engine::{Engine, WeightsKind};
use sipks::incident::{Category, Severity, Status};
use sipks::region::RegionLevel;

const INCIDENTS: usize = 1_000_000;

/// A well-mixed number for `i` (splitmix64).
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d1_33b1_11eb_049b);
    x ^ (x >> 31)
}

/// Synthetic incidents up to `INCIDENTS` in all.
fn top_up(engine: &mut Engine, now: i64) {
    let have = engine.incidents().len();
    if have >= INCIDENTS {
        return;
    }
    let index = engine.shared_index();
    let districts = index.level_ids(RegionLevel::Kecamatan);
    let incidents: Vec<Incident> = (0..(INCIDENTS - have) as u64)
        .filter_map(|i| {
            let r = mix(i);
            let district = districts[(r % districts.len() as u64) as usize];
            let location = index.region(district).label_point;
            let assignment = index.assign_point(location).ok()?;
            Some(Incident {
                id: -1 - i as i64,
                occurred_at: now - (mix(i ^ 0xabcdef) % (365 * DAY as u64)) as i64,
                category: Category::ALL[(r >> 20) as usize % 7],
                severity: Severity::new(1 + ((r >> 30) % 5) as u8).expect("1..5"),
                status: Status::ALL[(r >> 40) as usize % 4],
                assignment,
                location,
                shape: None,
                touched: Box::new([]),
            })
        })
        .collect();
    println!("{} synthetic incidents added to the {have} loaded", incidents.len());
    engine.load(incidents, now);
}

fn main() {
    let url = std::env::var("SIPKS_BENCH_DATABASE_URL").expect("SIPKS_BENCH_DATABASE_URL: run scripts/bench-emerging");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pool = runtime.block_on(sipks::db::connect(&url, 4)).expect("connect");
    let mut engine = runtime.block_on(sipks::service::load_engine(&pool, Default::default())).expect("engine");
    let now = chrono::Utc::now().timestamp();
    top_up(&mut engine, now);
    let bins = TimeBins::weeks(52, now);
    let levels = [(RegionLevel::KabupatenKota, "514 regencies"), (RegionLevel::Kecamatan, "7,285 districts")];
    // The weights are built once per level and kept (as the server does).
    for (level, _) in levels {
        let t = Instant::now();
        engine.weights(level, WeightsKind::Queen);
        println!("queen weights of {level:?} built in {:.2?} (once, kept)", t.elapsed());
    }
    println!("{} incidents in the engine", engine.incidents().len());
    let mut missed = Vec::new();
    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(10));
    for (level, name) in levels {
        for value in [BinValue::Score, BinValue::Count] {
            let t = Instant::now();
            let (_, results) = engine.emerging(level, &bins, value, WeightsKind::Queen, false);
            let took = t.elapsed();
            let hot = results.iter().filter(|r| r.pattern.as_str().ends_with("hot_spot")).count();
            println!("emerging hot spots, {name} x 52 weeks, value={value:?}: {took:.3?} ({hot} hot patterns)");
            if took >= Duration::from_secs(1) {
                missed.push(format!("{name} value={value:?} took {took:.2?}"));
            }
            c.bench_function(&format!("emerging hot spots {name} x 52 weeks, {value:?}"), |b| {
                b.iter(|| black_box(engine.emerging(level, &bins, value, WeightsKind::Queen, false)))
            });
        }
    }
    c.final_summary();
    if !missed.is_empty() {
        eprintln!("TARGETS MISSED (under 1 s each): {}", missed.join("; "));
        std::process::exit(1);
    }
    println!("all targets met (under 1 s each)");
}

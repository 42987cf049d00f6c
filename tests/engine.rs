//! The engine against PostGIS on the real boundaries: assignment of 100,000 points,
//! the 12-nautical-mile sea rule, and incidents loaded through the file importer.

mod common;

use common::imported_db;
use geo::Point;
use sipks::engine::regions::{level_slot, AssignError};
use sipks::region::RegionLevel;
use sipks::service;

/// A small deterministic generator (xorshift64*), so that the points are the same on
/// every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::test]
async fn assignment_agrees_with_postgis_on_100000_points() {
    let db = imported_db().await;
    let index = service::build_index(&db.pool).await.expect("index");
    let mut rng = Rng(0x5EED_2026);
    let mut points: Vec<Point<f64>> = Vec::with_capacity(100_000);
    // Half uniform over Indonesia's bounding box (mostly sea), half near the label
    // points of districts (land, many near borders), and exact boundary vertices.
    let districts = index.level_ids(RegionLevel::Kecamatan);
    while points.len() < 50_000 {
        points.push(Point::new(94.97 + rng.next() * (141.02 - 94.97), -11.01 + rng.next() * (6.08 + 11.01)));
    }
    while points.len() < 95_000 {
        let d = index.region(districts[(rng.next() * districts.len() as f64) as usize]);
        points.push(Point::new(
            d.label_point.x() + (rng.next() - 0.5) * 0.2,
            d.label_point.y() + (rng.next() - 0.5) * 0.2,
        ));
    }
    while points.len() < 100_000 {
        let d = index.region(districts[(rng.next() * districts.len() as f64) as usize]);
        let ring = &d.shape.0[0].exterior().0;
        points.push(Point(ring[(rng.next() * ring.len() as f64) as usize % ring.len()]));
    }
    let xs: Vec<f64> = points.iter().map(|p| p.x()).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.y()).collect();
    sqlx::query("create table pts as select n::int - 1 as n, st_setsrid(st_point(x, y), 4326) as geom from unnest($1::float8[], $2::float8[]) with ordinality as u(x, y, n)")
        .bind(&xs)
        .bind(&ys)
        .execute(&db.pool)
        .await
        .expect("points");
    let ours: Vec<_> = points.iter().map(|p| index.assign_point(*p)).collect();
    let (mut compared, mut unique, mut several) = (0, 0, 0);
    for level in RegionLevel::ALL {
        let covering: Vec<(i32, Vec<String>)> = sqlx::query_as(
            "select p.n, array_agg(r.code order by r.code) from pts p join regions r
               on r.level = $1::region_level and st_covers(r.geom, p.geom) group by p.n",
        )
        .bind(level.as_str())
        .fetch_all(&db.pool)
        .await
        .expect("spatial join");
        for (n, codes) in covering {
            let got = match &ours[n as usize] {
                Ok(a) => a.regions[level_slot(level)].map(|id| index.region(id).code.to_string()),
                Err(e) => panic!("point {n} {:?} is covered by {codes:?} but refused: {e}", points[n as usize]),
            };
            let got =
                got.unwrap_or_else(|| panic!("point {n} {:?}: no {level}, PostGIS has {codes:?}", points[n as usize]));
            assert!(
                codes.contains(&got),
                "point {n} {:?}: {level} {got} does not cover it ({codes:?})",
                points[n as usize]
            );
            if codes.len() == 1 {
                unique += 1;
            } else {
                several += 1;
                // The documented rule: the district with the lowest code; above it the
                // parent of the level below when that covers, else the lowest code.
                let below = match level {
                    RegionLevel::Kecamatan => None,
                    RegionLevel::KabupatenKota => Some(RegionLevel::Kecamatan),
                    RegionLevel::Provinsi => Some(RegionLevel::KabupatenKota),
                };
                let parent_below = below
                    .and_then(|b| ours[n as usize].as_ref().ok().and_then(|a| a.at(b)))
                    .and_then(|id| index.region(id).parent)
                    .map(|id| index.region(id).code.to_string())
                    .filter(|c| codes.contains(c));
                assert_eq!(got, parent_below.unwrap_or_else(|| codes[0].clone()), "point {n}: tie rule at {level}");
            }
            compared += 1;
            assert!(
                !ours[n as usize].as_ref().is_ok_and(|a| a.at_sea),
                "point {n} {:?} covered by {level} {codes:?} is not at sea",
                points[n as usize]
            );
        }
    }
    println!("{compared} point-levels compared: {unique} with one covering region, {several} with several");
    assert!(unique > 100_000 && several > 100, "the sample covers land and borders ({unique}, {several})");
    db.drop().await;
}

#[tokio::test]
async fn points_at_sea_within_twelve_nautical_miles_get_the_nearest_regency() {
    let db = imported_db().await;
    let index = service::build_index(&db.pool).await.expect("index");
    let mut rng = Rng(7);
    let (mut at_sea, mut refused) = (0, 0);
    let mut checked = 0;
    while checked < 150 {
        let p = Point::new(94.97 + rng.next() * (141.02 - 94.97), -11.01 + rng.next() * (6.08 + 11.01));
        let (x, y) = (p.x(), p.y());
        let covered: bool = sqlx::query_scalar("select exists (select 1 from regions where level = 'kabupaten_kota' and st_covers(geom, st_setsrid(st_point($1, $2), 4326)))")
            .bind(x)
            .bind(y)
            .fetch_one(&db.pool)
            .await
            .expect("query");
        if covered {
            continue;
        }
        // Distance on the spheroid to the nearest regency, as PostGIS measures it.
        let (code, metres): (String, f64) = sqlx::query_as(
            "select code, st_distance(geom::geography, st_setsrid(st_point($1, $2), 4326)::geography) as d
             from regions where level = 'kabupaten_kota'
             order by geom <-> st_setsrid(st_point($1, $2), 4326) limit 1",
        )
        .bind(x)
        .bind(y)
        .fetch_one(&db.pool)
        .await
        .expect("query");
        // Near the 12-mile line the planar ordering and the spheroid differ slightly.
        if (metres - 22_224.0).abs() < 300.0 {
            continue;
        }
        checked += 1;
        match index.assign_point(p) {
            Ok(a) => {
                assert!(a.at_sea);
                assert!(metres < 22_224.0, "{p:?} assigned at sea but PostGIS puts it {metres} m away");
                let regency = index.region(a.at(RegionLevel::KabupatenKota).expect("regency"));
                assert_eq!(regency.code.as_str(), code, "{p:?}: the nearest regency");
                let district = index.region(a.at(RegionLevel::Kecamatan).expect("district"));
                assert_eq!(district.parent, a.at(RegionLevel::KabupatenKota));
                at_sea += 1;
            }
            Err(AssignError::OutsideWaters { distance_km, .. }) => {
                assert!(metres > 22_224.0, "{p:?} refused but PostGIS puts it {metres} m away");
                assert!(
                    (distance_km * 1000.0 - metres).abs() < 0.02 * metres + 100.0,
                    "{distance_km} km vs {metres} m"
                );
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    println!("{at_sea} at sea within 12 nm, {refused} refused");
    db.drop().await;
}

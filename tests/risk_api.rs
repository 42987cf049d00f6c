//! Incidents and indicators loaded through the real `sipks` commands, then the risk,
//! explanation, history and hotspot endpoints of the real server.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use common::{imported_db, Server};

fn sipks(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipks"))
        .args(["--lang", "en"])
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run sipks")
}

fn region<'a>(body: &'a Value, kode: &str) -> &'a Value {
    body["regions"].as_array().expect("regions").iter().find(|r| r["kode"] == kode).expect("region listed")
}

#[tokio::test]
async fn incidents_drive_risk_levels_explanations_and_hotspots() {
    let db = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    let recent = (Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let mut csv = String::from("lon,lat,occurred_at,category,severity,status,source,description,id\n");
    // Twelve grave, ongoing clashes in Kota Makassar (73.71), a few hundred metres apart.
    for i in 0..12 {
        let (x, y) = (119.42 + f64::from(i % 4) * 0.003, -5.14 + f64::from(i / 4) * 0.003);
        csv.push_str(&format!("{x},{y},{recent},antar_kelompok,5,terjadi,polri,Bentrok antarwarga {i},MKS-{i}\n"));
    }
    let bad = format!(
        "{csv}119.42,-5.14,{recent},antar_kelompok,9,terjadi,polri,x,MKS-X\n100.0,-20.0,{recent},agraria,2,,,x,SEA-1\n"
    );
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, &bad).expect("write");
    let out = sipks(&db.url, &["incidents", "import", path.to_str().expect("path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "all or nothing by default");
    assert!(stdout.contains("line 14") && stdout.contains("severity"), "{stdout}");
    assert!(stdout.contains("line 15") && stdout.contains("12-nautical-mile"), "{stdout}");
    assert_eq!(db.count("select count(*) from incidents").await, 0, "nothing loaded");

    let out = sipks(&db.url, &["incidents", "import", "--partial", path.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(db.count("select count(*) from incidents").await, 12);
    assert_eq!(
        db.count("select count(*) from incidents where kabupaten_kota_code = '73.71' and provinsi_code = '73'").await,
        12
    );
    let again = sipks(&db.url, &["incidents", "import", "--partial", path.to_str().expect("path")]);
    assert!(again.status.success());
    assert_eq!(db.count("select count(*) from incidents").await, 12, "ids already stored are skipped");

    let indicators = dir.path().join("ikp.csv");
    std::fs::write(&indicators, "kode,indicator,value,date\n73.71,ikp_bawaslu,80,2026-09-01\n").expect("write");
    let out = sipks(&db.url, &["indicators", "import", indicators.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&indicators, "kode,indicator,value,date\n99.99,ikp_bawaslu,80,2026-09-01\n").expect("write");
    assert!(
        !sipks(&db.url, &["indicators", "import", indicators.to_str().expect("path")]).status.success(),
        "unknown region"
    );

    let server = Server::start(&db.url).await;
    let (status, risk) = server.get("/api/risk?level=kabupaten_kota").await;
    assert_eq!(status, 200);
    assert_eq!(risk["count"], 514);
    let makassar = region(&risk, "73.71");
    assert_eq!(makassar["risk_level"], "merah", "{makassar}");
    assert_eq!(makassar["counts"]["total"], 12);
    assert_eq!(makassar["counts"]["kategori"]["antar_kelompok"], 12);
    assert_eq!(region(&risk, "11.01")["risk_level"], "hijau");
    let (_, provinces) = server.get("/api/risk?level=provinsi&window=30").await;
    assert_ne!(region(&provinces, "73")["risk_level"], "hijau", "a merah city makes its province at least kuning");

    let (status, explained) = server.get("/api/regions/73.71/risk?history_days=30").await;
    assert_eq!(status, 200);
    let e = &explained["explanation"];
    // Anonymous: the incidents' parts per category, not incident by incident (issue 17).
    assert!(e.get("contributions").is_none(), "an anonymous caller sees the incidents one by one");
    let parts: f64 = e["contributions_by_category"]
        .as_array()
        .expect("contributions_by_category")
        .iter()
        .map(|c| c["contribution"].as_f64().expect("n"))
        .sum::<f64>()
        + e["indicators"]
            .as_array()
            .expect("indicators")
            .iter()
            .map(|i| i["contribution"].as_f64().expect("n"))
            .sum::<f64>();
    let score = explained["score"].as_f64().expect("score");
    assert!((parts - score).abs() < 1e-9 * score.max(1.0), "parts {parts} sum to the score {score}");
    let counted: i64 = e["contributions_by_category"]
        .as_array()
        .iter()
        .flat_map(|a| a.iter())
        .filter_map(|c| c["count"].as_i64())
        .sum();
    assert_eq!(counted, 12);
    assert_eq!(e["indicators"][0]["contribution"], 8.0, "IKP 80 x weight 0.1");
    let history = explained["history"].as_array().expect("history");
    assert_eq!(history.len(), 30);
    assert_eq!(history[0]["level"], "hijau", "a month ago, before the clashes");
    assert_eq!(history[29]["level"], "merah");

    // `at`: the map as it stood on a day (issue 20). Ten days ago (a date: that whole
    // day, up to the next midnight WIB) the clashes of two days ago had not happened.
    let wib = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    let today = Utc::now().with_timezone(&wib).date_naive();
    let before = today - chrono::Duration::days(10);
    let (status, then) = server.get(&format!("/api/risk?level=kabupaten_kota&at={before}")).await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(region(&then, "73.71")["risk_level"], "hijau", "{}", region(&then, "73.71"));
    assert_eq!(region(&then, "73.71")["counts"]["total"], 0);
    let end = (before + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight");
    let end = end.and_local_timezone(wib).single().expect("WIB").with_timezone(&Utc);
    let as_of: chrono::DateTime<Utc> = then["window"]["as_of"].as_str().expect("as_of").parse().expect("time");
    assert_eq!(as_of, end, "a date ends at the next midnight WIB");
    let (_, today_risk) = server.get(&format!("/api/risk?level=kabupaten_kota&at={today}")).await;
    assert_eq!(region(&today_risk, "73.71")["risk_level"], "merah", "today, up to now");
    assert_eq!(region(&today_risk, "73.71")["counts"]["total"], 12);
    let (status, explained_then) = server.get(&format!("/api/regions/73.71/risk?at={before}&history_days=5")).await;
    assert_eq!(status, 200, "{explained_then}");
    assert_eq!(explained_then["risk_level"], "hijau");
    assert_eq!(explained_then["window"]["as_of"], then["window"]["as_of"]);
    let history_then = explained_then["history"].as_array().expect("history");
    assert_eq!(history_then.len(), 5);
    assert!(history_then.iter().all(|day| day["level"] == "hijau"), "{history_then:?}");
    let tomorrow = today + chrono::Duration::days(1);
    for bad in [
        format!("/api/risk?at={tomorrow}"),
        "/api/risk?at=kemarin".into(),
        format!("/api/regions/73.71/risk?at={tomorrow}"),
    ] {
        let (status, problem) = server.get(&bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(problem["parameter"], "at", "{bad}: {problem}");
    }

    // A bulk load while the server runs reaches it without a restart.
    let more = dir.path().join("aceh.csv");
    std::fs::write(
        &more,
        format!("lon,lat,occurred_at,category,severity,status\n95.32,5.55,{recent},pemilu,2,potensi\n"),
    )
    .expect("write");
    assert!(sipks(&db.url, &["incidents", "import", more.to_str().expect("path")]).status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, risk) = server.get("/api/risk?level=provinsi").await;
        if region(&risk, "11")["counts"]["total"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the running server did not pick up the bulk load");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (status, gi) = server.get("/api/hotspots?level=kabupaten_kota&weights=queen").await;
    assert_eq!(status, 200);
    assert_eq!(gi["count"], 514);
    let m = region(&gi, "73.71");
    assert!(m["z"].as_f64().expect("z") > 1.96 && m["bin"].as_i64().expect("bin") >= 2, "{m}");
    let (status, knn) = server.get("/api/hotspots?level=kecamatan&weights=knn&k=6&fdr=true").await;
    assert_eq!(status, 200);
    assert_eq!(knn["count"], 7285);

    let (status, clusters) = server.get("/api/hotspots/clusters?eps_m=1000&min_points=5").await;
    assert_eq!(status, 200);
    let features = clusters["features"].as_array().expect("features");
    assert_eq!(features.len(), 1);
    assert_eq!(features[0]["properties"]["count"], 12);
    assert_eq!(features[0]["properties"]["dominant_category"], "antar_kelompok");
    assert_eq!(features[0]["geometry"]["type"], "Polygon");
    // The answer is kept (issue 17.7: computed once per parameters) but never outlives
    // a change of the engine: three more clashes join the cluster at once.
    let (_, kept) = server.get("/api/hotspots/clusters?eps_m=1000&min_points=5").await;
    assert_eq!(kept["features"], clusters["features"], "the same answer while nothing changes");
    let more = dir.path().join("makassar.csv");
    let rows: String = (0..3).map(|i| format!("119.43,-5.13{i},{recent},pemilu,2,terjadi\n")).collect();
    std::fs::write(&more, format!("lon,lat,occurred_at,category,severity,status\n{rows}")).expect("write");
    assert!(sipks(&db.url, &["incidents", "import", more.to_str().expect("path")]).status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, after) = server.get("/api/hotspots/clusters?eps_m=1000&min_points=5").await;
        assert_eq!(status, 200);
        if after["features"][0]["properties"]["count"] == 15 {
            break;
        }
        assert!(Instant::now() < deadline, "the kept clusters did not follow the load: {after}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    for bad in [
        "/api/risk?window=0",
        "/api/risk?level=desa",
        "/api/risk?windows=7",
        "/api/hotspots?weights=rook",
        "/api/hotspots?weights=knn&k=0",
        "/api/hotspots/clusters?eps_m=-5",
        "/api/hotspots/clusters?min_points=many",
        "/api/regions/73.7/risk",
    ] {
        let (status, problem) = server.get(bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert!(problem["detail"].is_string(), "{bad}");
    }
    let (status, _) = server.get("/api/regions/99.99/risk").await;
    assert_eq!(status, 404);
    drop(server);
    db.drop().await;
}

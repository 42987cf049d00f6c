//! `boundaries/fetch` verifies checksums before installing anything. Run offline with a
//! tarball laid out like the upstream archive, made from ../shared/boundaries.

mod common;

use std::path::Path;
use std::process::Command;

fn make_tarball(dir: &Path, tamper: bool) -> std::path::PathBuf {
    let root = dir.join("wilayah_boundaries-3c5a7960f4d227a38489094d84252bdbb3f978a5");
    let source = common::wilayah_dir();
    for level in ["prov", "kab", "kec"] {
        let target = root.join("db").join(level);
        std::fs::create_dir_all(&target).expect("mkdir");
        for entry in std::fs::read_dir(source.join(level)).expect("read dir") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, target.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    std::fs::copy(source.join("LICENSE"), root.join("LICENSE")).expect("copy licence");
    if tamper {
        let victim = root.join("db/kab/wilayah_boundaries_kab_73.sql");
        let mut text = std::fs::read_to_string(&victim).expect("read");
        text.push('\n');
        std::fs::write(&victim, text).expect("write");
    }
    let tarball = dir.join("upstream.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .arg(root.file_name().expect("name"))
        .status()
        .expect("tar");
    assert!(status.success());
    tarball
}

fn fetch(tarball: &Path, dest: &Path) -> bool {
    Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/boundaries/fetch"))
        .arg(dest)
        .env("SIPKS_FETCH_TARBALL", tarball)
        .status()
        .expect("run boundaries/fetch")
        .success()
}

#[test]
fn fetch_installs_verified_files_and_refuses_tampered_ones() {
    let work = tempfile::tempdir().expect("temp dir");
    let good = tempfile::tempdir().expect("temp dir");
    let dest = work.path().join("dest");
    assert!(fetch(&make_tarball(good.path(), false), &dest));
    let installed = dest.join("wilayah_boundaries");
    let count = ["prov", "kab", "kec"]
        .iter()
        .map(|level| std::fs::read_dir(installed.join(level)).expect("installed").count())
        .sum::<usize>();
    assert_eq!(count, 84);
    assert!(installed.join("LICENSE").is_file(), "the MIT licence travels with the data");

    let bad = tempfile::tempdir().expect("temp dir");
    let dest_bad = work.path().join("dest-bad");
    assert!(!fetch(&make_tarball(bad.path(), true), &dest_bad), "a changed file fails the checksum");
    assert!(!dest_bad.join("wilayah_boundaries").exists(), "nothing installed on mismatch");
}

//! Benchmark of the prep stage on real data: hg19 chr22 with every peak file of ../shared
//! (109 ENCODE-DREAM TF files, the A549 DNase file, 12 BED3 histone/ATAC files: 122 targets),
//! DeepSEA's settings (--keep tf-touch, --reverse-complement), at -j 1 and -j 2.
//!
//! Run: `cargo bench -p ferrosea-benches --bench prep` (prints figures; asserts no timing).
//! Each configuration runs in a child process, so that its peak memory is its own.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use ferrosea_benches::{measure, shared_data};

fn manifest(data: &Path, dir: &Path) -> std::path::PathBuf {
    let mut rows = vec!["name\tcategory\tpath".to_string()];
    let mut add = |sub: &str, category: &str, name: fn(&str) -> String| {
        let mut files: Vec<_> = std::fs::read_dir(data.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".gz"))
            .collect();
        files.sort();
        for f in files {
            let base = f.file_name().unwrap().to_string_lossy().into_owned();
            rows.push(format!("{}\t{category}\t{}", name(&base), f.display()));
        }
    };
    add("peaks/encode_dream_tf_hg19", "TF", |b| {
        b.split('.').skip(1).take(2).collect::<Vec<_>>().join("|")
    });
    add("peaks/dnase_hg19", "DNase", |b| {
        b.split('.').take(2).collect::<Vec<_>>().join("|")
    });
    add("peaks/brain_histone_atac_bed3_hg19", "Histone", |b| {
        b.split('.').next().unwrap().to_string()
    });
    let p = dir.join("targets.tsv");
    std::fs::write(&p, rows.join("\n") + "\n").unwrap();
    p
}

fn main() {
    // Child mode: one prep run, options from the environment.
    if let Ok(args) = std::env::var("FERROSEA_BENCH_CHILD") {
        let a: Vec<String> = serde_json::from_str(&args).unwrap();
        let opts = ferrosea_prep::Options {
            genome: a[0].clone().into(),
            targets: a[1].clone().into(),
            out: a[2].clone().into(),
            threads: a[3].parse().unwrap(),
            keep: ferrosea_prep::Keep::TfTouch,
            reverse_complement: true,
            test: ferrosea_genome_regions("chr22:30000001-35000000"),
            valid: ferrosea_genome_regions("chr22:20000001-21000000"),
            ..Default::default()
        };
        let t = ferrosea_prep::run(&opts).unwrap().timings;
        std::fs::write(
            format!("{}/timings.json", a[2]),
            serde_json::to_string(&[t.load, t.decide, t.write]).unwrap(),
        )
        .unwrap();
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        println!("prep: bench");
        return;
    }
    let data = shared_data();
    let dir = std::env::temp_dir().join(format!("ferrosea-bench-prep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let genome = dir.join("chr22.fa");
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(
            std::fs::File::open(data.join("genome/hg19_chr22_partial.fa.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    std::fs::File::create(&genome)
        .unwrap()
        .write_all(&text)
        .unwrap();
    let targets = manifest(&data, &dir);
    let n_targets = std::fs::read_to_string(&targets).unwrap().lines().count() - 1;
    println!("prep benchmark: hg19 chr22 (51.3 Mb, 22.3 Mb sequenced), {n_targets} targets, --keep tf-touch --reverse-complement");
    println!(
        "{:>3} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>9} {:>8}",
        "-j",
        "wall s",
        "load s",
        "pass1 s",
        "pass2 s",
        "rows",
        "pass2 rows/s",
        "out MB/s",
        "peak MB"
    );
    let exe = std::env::current_exe().unwrap();
    let mut at_one = [0.0f64; 3];
    for threads in ["1", "2"] {
        let out = dir.join(format!("out-j{threads}"));
        let args = serde_json::to_string(&[
            genome.display().to_string(),
            targets.display().to_string(),
            out.display().to_string(),
            threads.to_string(),
        ])
        .unwrap();
        // A first run builds chr22.fa.fai; every measured run reads it.
        let m = measure(Command::new(&exe).env("FERROSEA_BENCH_CHILD", &args));
        assert!(m.ok, "prep failed");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("prep.json")).unwrap()).unwrap();
        let rows: u64 = report["splits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rows"].as_u64().unwrap())
            .sum();
        let bytes: u64 = ["train", "valid", "test"]
            .iter()
            .map(|s| {
                std::fs::metadata(out.join(format!("{s}.h5")))
                    .unwrap()
                    .len()
            })
            .sum();
        let secs = m.wall.as_secs_f64();
        let t: [f64; 3] =
            serde_json::from_slice(&std::fs::read(out.join("timings.json")).unwrap()).unwrap();
        println!(
            "{threads:>3} {secs:>8.2} {:>8.2} {:>8.2} {:>8.2} {rows:>8} {:>12.0} {:>9.1} {:>8.0}",
            t[0],
            t[1],
            t[2],
            rows as f64 / t[2],
            bytes as f64 / 1e6 / secs,
            m.max_rss as f64 / 1e6
        );
        if threads == "1" {
            at_one = t;
        } else {
            // DeepSEA: 4.4M training rows + 8,000 valid + 455,024 test (both strands), 919
            // targets, 3.1 Gb. Each phase is scaled by what it is proportional to (targets,
            // genome length, rows), then to 16 cores by Amdahl's law with the serial part
            // fitted from the -j 1 and -j 2 runs: serial = 2 * t2 - t1.
            let deepsea_rows = 4_400_000.0 + 8_000.0 + 455_024.0;
            let scale = [
                919.0 / n_targets as f64,
                3.1e9 / 51.3e6,
                deepsea_rows / rows as f64,
            ];
            let at = |cores: f64| -> f64 {
                (0..3)
                    .map(|i| {
                        let serial = (2.0 * t[i] - at_one[i]).clamp(0.0, t[i]);
                        scale[i] * (serial + (at_one[i] - serial) / cores)
                    })
                    .sum()
            };
            println!(
                "extrapolation to DeepSEA scale (919 targets, 3.1 Gb, {deepsea_rows:.0} rows): {:.0} s on 2 cores, {:.0} s on 16 cores (Amdahl fit of -j 1 / -j 2; unmeasured beyond 2 cores)",
                at(2.0),
                at(16.0)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn ferrosea_genome_regions(s: &str) -> Vec<ferrosea_genome::Region> {
    ferrosea_genome::Region::parse_list(s).unwrap()
}

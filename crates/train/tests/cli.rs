//! The `ferrosea-train` command line: summaries, errors, thread-count determinism, and a
//! real SIGKILL followed by `--resume`.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

fn train() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrosea-train"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn recipe(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("recipe.json");
    std::fs::write(&path, serde_json::to_string_pretty(&tiny_danq(3)).unwrap()).unwrap();
    path
}

#[test]
fn summary_shows_the_papers_parameter_counts() {
    let o = train()
        .args(["--summary", "--preset", "danq"])
        .output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("33,600") && text.contains("1,640,960") && text.contains("[75, 640]"),
        "{text}"
    );
    assert!(text.contains("one bias per gate"), "{text}");
    let o = train()
        .args(["--summary", "--preset", "deepsea", "--targets", "919"])
        .output_safely();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("[50880]") && text.contains("[919]"), "{text}");
}

#[test]
fn bad_flags_and_recipes_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = train()
        .args(["--summary", "--preset", "danq-huge"])
        .output_safely();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown preset 'danq-huge'") && stderr(&o).contains("danq-tiny"),
        "{}",
        stderr(&o)
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\n \"model\": {\"arch\": \"danq\"},\n \"optimiser\": {}\n}\n",
    )
    .unwrap();
    let o = train()
        .args(["--summary", "--config"])
        .arg(&bad)
        .output_safely();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.json"), "{}", stderr(&o));

    let t = dataset(&dir.path().join("t.h5"), 40, 1, TARGETS);
    let o = train()
        .args(["--preset", "danq-tiny", "--device", "cuda:0", "--train"])
        .arg(&t)
        .arg("--valid")
        .arg(&t)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output_safely();
    if !cfg!(feature = "cuda") {
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("built without CUDA") && stderr(&o).contains("--features cuda"),
            "{}",
            stderr(&o)
        );
    }

    let missing = dir.path().join("nope.h5");
    let o = train()
        .args(["--preset", "danq-tiny", "--train"])
        .arg(&missing)
        .arg("--valid")
        .arg(&t)
        .arg("--out")
        .arg(dir.path().join("o2"))
        .output_safely();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.h5"), "{}", stderr(&o));
}

#[test]
fn one_thread_and_two_threads_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let t = dataset(&dir.path().join("t.h5"), 96, 1, TARGETS);
    let v = dataset(&dir.path().join("v.h5"), 40, 2, TARGETS);
    let r = recipe(dir.path());
    let mut bytes = Vec::new();
    for j in ["1", "2"] {
        let out = dir.path().join(format!("j{j}"));
        let o = train()
            .args(["-q", "-j", j, "--epochs", "2", "--config"])
            .arg(&r)
            .arg("--train")
            .arg(&t)
            .arg("--valid")
            .arg(&v)
            .arg("--out")
            .arg(&out)
            .output_safely();
        assert!(o.status.success(), "{}", stderr(&o));
        bytes.push((weights_bytes(&out, "latest"), weights_bytes(&out, "best")));
    }
    assert!(bytes[0] == bytes[1], "weights differ between -j1 and -j2");
}

#[test]
fn a_killed_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let t = dataset(&dir.path().join("t.h5"), 1600, 1, TARGETS);
    let v = dataset(&dir.path().join("v.h5"), 64, 2, TARGETS);
    let r = recipe(dir.path());
    let args = |out: &Path| {
        let mut c = train();
        c.args(["-q", "-j", "1", "--checkpoint-every", "7", "--config"])
            .arg(&r)
            .arg("--train")
            .arg(&t)
            .arg("--valid")
            .arg(&v)
            .arg("--out")
            .arg(out);
        c
    };
    let full = dir.path().join("full");
    assert!(args(&full).output_safely().status.success());

    let killed = dir.path().join("killed");
    let mut child = args(&killed).spawn_safely();
    let started = Instant::now();
    // Wait for a checkpoint past the first epoch's first mid-epoch save, then kill -9.
    loop {
        if let Ok(meta) = ferrosea_train::checkpoint::read_meta(&killed.join("latest.json")) {
            if meta.state.step >= 14 {
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let at = ferrosea_train::checkpoint::read_meta(&killed.join("latest.json"))
        .unwrap()
        .state;
    assert!(at.epoch < 3, "killed too late: {at:?}");

    let o = train()
        .args([
            "-q",
            "-j",
            "1",
            "--resume",
            "--checkpoint-every",
            "7",
            "--train",
        ])
        .arg(&t)
        .arg("--valid")
        .arg(&v)
        .arg("--out")
        .arg(&killed)
        .output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    let columns = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("metrics.tsv"))
            .unwrap()
            .lines()
            .map(|l| l.split('\t').take(7).collect::<Vec<_>>().join("\t"))
            .collect()
    };
    assert_eq!(columns(&killed), columns(&full));
    assert_eq!(
        weights_bytes(&killed, "latest"),
        weights_bytes(&full, "latest")
    );
    // No temporary files left behind, and only the current checkpoints' files.
    let mut names: Vec<String> = std::fs::read_dir(&killed)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    assert_eq!(names.len(), 6, "{names:?}");
}

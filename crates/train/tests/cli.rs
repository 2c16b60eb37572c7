//! The `ferrosea-train` command line: summaries, errors, thread-count determinism, and a
//! real SIGKILL followed by `--resume`.

mod common;

use std::path::{Path, PathBuf};
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
            stderr(&o).contains("this ferrosea-train was built without CUDA")
                && stderr(&o).contains("`cargo build --release -p ferrosea-train --features cuda`"),
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

/// `ferrosea-train -q -j 1 --config <tiny danq, 1 epoch> --train t --valid v --out out`.
fn tiny_run(dir: &Path, t: &Path, v: &Path, out: &Path) -> Command {
    let path = dir.join("one-epoch.json");
    if !path.exists() {
        std::fs::write(&path, serde_json::to_string_pretty(&tiny_danq(1)).unwrap()).unwrap();
    }
    let mut c = train();
    c.args(["-q", "-j", "1", "--config"])
        .arg(&path)
        .arg("--train")
        .arg(t)
        .arg("--valid")
        .arg(v)
        .arg("--out")
        .arg(out);
    c
}

/// `ferrosea-train -q -j 1 --resume --train t --valid v --out out`.
/// Training and validation files in `dir` and a finished one-epoch run of them in `dir/o`
/// (with `extra` flags): `(train, valid, out)`.
fn finished_run(dir: &Path, extra: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let t = dataset(&dir.join("t.h5"), 48, 1, TARGETS);
    let v = dataset(&dir.join("v.h5"), 32, 2, TARGETS);
    let out = dir.join("o");
    let o = tiny_run(dir, &t, &v, &out).args(extra).output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    (t, v, out)
}

fn resume(t: &Path, v: &Path, out: &Path) -> Command {
    let mut c = train();
    c.args(["-q", "-j", "1", "--resume", "--train"])
        .arg(t)
        .arg("--valid")
        .arg(v)
        .arg("--out")
        .arg(out);
    c
}

fn all_finite(out: &Path, json: &str) -> bool {
    let json = out.join(json);
    let meta = ferrosea_train::checkpoint::read_meta(&json).unwrap();
    let bytes = std::fs::read(out.join(&meta.weights_file)).unwrap();
    candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu)
        .unwrap()
        .values()
        .all(|t| {
            t.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .all(|v| v.is_finite())
        })
}

#[test]
fn a_diverging_run_stops_with_exit_2_and_keeps_its_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let t = dataset(&dir.path().join("t.h5"), 96, 1, TARGETS);
    let v = dataset(&dir.path().join("v.h5"), 32, 2, TARGETS);
    // 1e39 overflows f32: the first step's update makes weights infinite while its loss
    // (computed before the update) is finite; with 1e30 the first step's weights are
    // huge but finite, and the second step's loss is NaN.
    for (lr, what, kept) in [
        ("1e39", "weight conv1.bias became inf", None),
        ("1e30", "the training loss became NaN", Some(1)),
    ] {
        let out = dir.path().join(lr);
        let o = tiny_run(dir.path(), &t, &v, &out)
            .args(["--epochs", "3", "--lr", lr, "--checkpoint-every", "1"])
            .output_safely();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let step = kept.map_or(1, |k| k + 1);
        assert!(
            err.contains(&format!(
                "training diverged at step {step} (epoch 1, sample {}): {what}",
                16 * (step - 1)
            )),
            "{lr}: {err}"
        );
        // No checkpoint holds non-finite weights, and the run is not marked complete: no
        // epoch finished, so there is no best.json and no metrics.tsv.
        let names = file_names(&out);
        assert!(
            !names.iter().any(|n| n == "best.json" || n == "metrics.tsv"),
            "{names:?}"
        );
        match kept {
            None => {
                assert!(names.is_empty(), "{lr}: {names:?}");
                assert!(err.contains("no checkpoint was written"), "{err}");
            }
            Some(k) => {
                assert!(all_finite(&out, "latest.json"));
                let meta = ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).unwrap();
                assert_eq!(meta.state.step, k);
                assert!(
                    err.contains(&format!("latest.json (step {k}), is kept")),
                    "{err}"
                );
            }
        }
    }
}

#[test]
fn checkpoints_with_non_finite_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (t, v, out) = finished_run(dir.path(), &[]);
    // Put a NaN into conv1.weight of both checkpoints.
    for kind in ["latest", "best"] {
        let json = out.join(format!("{kind}.json"));
        let meta = ferrosea_train::checkpoint::read_meta(&json).unwrap();
        let file = out.join(&meta.weights_file);
        let mut map = candle_core::safetensors::load(&file, &candle_core::Device::Cpu).unwrap();
        let w = &map["conv1.weight"];
        let mut values = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        values[5] = f32::NAN;
        let bad =
            candle_core::Tensor::from_vec(values, w.shape(), &candle_core::Device::Cpu).unwrap();
        map.insert("conv1.weight".into(), bad);
        candle_core::safetensors::save(&map, &file).unwrap();
    }
    let o = resume(&t, &v, &out).args(["--epochs", "2"]).output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let latest = ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).unwrap();
    assert!(
        err.contains(&latest.weights_file) && err.contains("conv1.weight") && err.contains("NaN"),
        "{err}"
    );
    // The loader evaluate and interpret use says the same.
    let e = ferrosea_runtime::checkpoint::load_network(
        &out.join("best.json"),
        &candle_core::Device::Cpu,
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    let best = ferrosea_train::checkpoint::read_meta(&out.join("best.json")).unwrap();
    assert!(
        e.contains(&best.weights_file) && e.contains("conv1.weight") && e.contains("finite"),
        "{e}"
    );
}

#[test]
fn stray_checkpoint_files_are_removed_when_a_run_resumes_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (t, v, out) = finished_run(dir.path(), &[]);
    // What a run killed between writing a weight file and its JSON, or before removing
    // the files it replaced, leaves behind; and a file of the user's.
    let stray = [
        "best-000000999.safetensors",
        "latest-000000005.safetensors",
        "latest-000000005.optimizer.safetensors",
        "latest-000000007.safetensors.tmp",
        "latest.json.tmp",
        "metrics.tsv.tmp",
    ];
    for name in stray {
        std::fs::write(out.join(name), b"stale").unwrap();
    }
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let o = resume(&t, &v, &out).args(["--epochs", "3"]).output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = |k: &str| ferrosea_train::checkpoint::read_meta(&out.join(k)).unwrap();
    let (best, latest) = (meta("best.json"), meta("latest.json"));
    assert_eq!(latest.state.epoch, 3);
    let mut expected = vec![
        "best.json".to_string(),
        best.weights_file,
        "latest.json".into(),
        latest.weights_file,
        latest.optimizer_file.unwrap(),
        "metrics.tsv".into(),
        "notes.txt".into(),
    ];
    expected.sort();
    assert_eq!(file_names(&out), expected);
}

#[test]
fn resume_refuses_changed_settings_and_names_each() {
    let dir = tempfile::tempdir().unwrap();
    let (t, v, out) = finished_run(dir.path(), &["--seed", "5", "--steps-per-epoch", "2"]);
    let before = file_names(&out);
    let weights = weights_bytes(&out, "latest");
    let o = resume(&t, &v, &out)
        .args([
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "0.01",
            "--seed",
            "6",
            "--steps-per-epoch",
            "3",
        ])
        .output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for phrase in [
        "the batch size was 16, now 8 (--batch-size)",
        "the learning rate was 0.005, now 0.01 (--lr)",
        "the seed was 5, now 6 (--seed)",
        "steps per epoch was 2, now 3 (--steps-per-epoch)",
        "drop the override, or start a new --out",
    ] {
        assert!(err.contains(phrase), "{phrase}: {err}");
    }
    assert!(!err.contains("training file"), "{err}");

    // Another training file of the same rows and targets, then the same path rewritten.
    let other = dataset(&dir.path().join("t2.h5"), 48, 9, TARGETS);
    let o = resume(&other, &v, &out)
        .args(["--epochs", "2"])
        .output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the training file was") && err.contains("t.h5") && err.contains("t2.h5"),
        "{err}"
    );
    std::fs::remove_file(&t).unwrap();
    dataset(&t, 40, 9, TARGETS);
    let o = resume(&t, &v, &out).args(["--epochs", "2"]).output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("48 rows") && err.contains("40 rows"), "{err}");
    assert_eq!(file_names(&out), before);
    assert_eq!(weights_bytes(&out, "latest"), weights);

    // The same settings given again, or left out, resume.
    std::fs::remove_file(&t).unwrap();
    dataset(&t, 48, 1, TARGETS);
    let o = resume(&t, &v, &out)
        .args(["--epochs", "2", "--seed", "5", "--lr", "0.005"])
        .output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    let latest = ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).unwrap();
    assert_eq!(
        (latest.state.epoch, latest.state.step, latest.seed),
        (2, 4, 5)
    );
    // Left out, the seed and the epoch length are the run's.
    let o = resume(&t, &v, &out).args(["--epochs", "3"]).output_safely();
    assert!(o.status.success(), "{}", stderr(&o));
    let latest = ferrosea_train::checkpoint::read_meta(&out.join("latest.json")).unwrap();
    assert_eq!(
        (latest.state.epoch, latest.state.step, latest.seed),
        (3, 6, 5)
    );
}

#[test]
fn x_and_y_values_other_than_0_and_1_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v = dataset(&dir.path().join("v.h5"), 32, 2, TARGETS);
    // Row 37, position 3, channel G holds 2.
    let bad_x = dataset(&dir.path().join("bad-x.h5"), 48, 1, TARGETS);
    overwrite_u8(&bad_x, "x", |x| x[(37 * WINDOW + 3) * 4 + 2] = 2);
    // Row 20, target 1 (GC) holds 255.
    let bad_y = dataset(&dir.path().join("bad-y.h5"), 48, 1, TARGETS);
    overwrite_u8(&bad_y, "y", |y| y[20 * TARGETS.len() + 1] = 255);
    let o = tiny_run(dir.path(), &bad_x, &v, &dir.path().join("o1")).output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad-x.h5: /x row 37 holds 2 at position 3, channel G"),
        "{err}"
    );
    let o = tiny_run(dir.path(), &bad_y, &v, &dir.path().join("o2")).output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad-y.h5: /y row 20 holds 255 for target 1 ('GC')"),
        "{err}"
    );
    // A bad validation file is caught by the same reader (that of predictions too).
    let t = dataset(&dir.path().join("t.h5"), 48, 1, TARGETS);
    let o = tiny_run(dir.path(), &t, &bad_y, &dir.path().join("o3")).output_safely();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("bad-y.h5: /y row 20 holds 255"), "{err}");
    assert!(!dir.path().join("o3/best.json").exists());
}

#[test]
fn zero_epochs_and_zero_steps_per_epoch_are_refused_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let t = dataset(&dir.path().join("t.h5"), 48, 1, TARGETS);
    let out = dir.path().join("o");
    let zero_epochs = dir.path().join("zero.json");
    std::fs::write(
        &zero_epochs,
        serde_json::to_string_pretty(&tiny_danq(1))
            .unwrap()
            .replace("\"epochs\": 1", "\"epochs\": 0"),
    )
    .unwrap();
    for (args, expected) in [
        (vec!["--epochs", "0"], "--epochs must be at least 1"),
        (
            vec!["--steps-per-epoch", "0"],
            "--steps-per-epoch must be at least 1",
        ),
        (
            vec!["--config", zero_epochs.to_str().unwrap()],
            "epochs must be at least 1",
        ),
    ] {
        let mut c = tiny_run(dir.path(), &t, &t, &out);
        if args[0] == "--config" {
            // A second --config is an error of clap's; start from a bare command.
            c = train();
            c.args(["-q", "--train"])
                .arg(&t)
                .arg("--valid")
                .arg(&t)
                .arg("--out")
                .arg(&out);
        }
        let o = c.args(&args).output_safely();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    // The library refuses them too.
    let mut cfg = tiny_danq(1);
    cfg.epochs = 0;
    let e = ferrosea_train::run(&options(&t, &t, &out, cfg))
        .unwrap_err()
        .to_string();
    assert!(e.contains("epochs must be at least 1"), "{e}");
    let mut o = options(&t, &t, &out, tiny_danq(1));
    o.steps_per_epoch = Some(0);
    let e = ferrosea_train::run(&o).unwrap_err().to_string();
    assert!(e.contains("--steps-per-epoch must be at least 1"), "{e}");
    assert!(!out.exists());
}

#[test]
fn init_filters_with_nan_or_negative_probabilities_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = dataset(&dir.path().join("t.h5"), 40, 1, TARGETS);
    for (name, value) in [("nan.meme", "nan"), ("neg.meme", "-0.25")] {
        let meme = dir.path().join(name);
        std::fs::write(
            &meme,
            format!(
                "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n\
                 A 0.25 C 0.25 G 0.25 T 0.25\n\nMOTIF M1 one\nletter-probability matrix: alength= 4 w= 3 nsites= 20 E= 0\n\
                 0.25 0.25 0.25 0.25\n0.5 0.25 {value} 0.25\n0.25 0.25 0.25 0.25\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(format!("run-{name}"));
        let o = train()
            .args(["--preset", "danq-jaspar-tiny", "--train"])
            .arg(&t)
            .arg("--valid")
            .arg(&t)
            .arg("--init-filters")
            .arg(&meme)
            .arg("--out")
            .arg(&out)
            .output_safely();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{name}:13")) && !stderr(&o).contains("sum to 1"),
            "{}",
            stderr(&o)
        );
        assert!(!out.join("best.json").exists() && !out.join("latest.json").exists());
    }
}

//! `ferrosea-analyze variants` end to end on the demo data.

mod common;

use std::process::Command;

#[test]
fn fixture_scores_a_small_vcf() {
    let f = common::fixture();
    let _g = common::serial();
    let dir = tempfile::tempdir().unwrap();
    let vcf = dir.path().join("v.vcf");
    std::fs::write(
        &vcf,
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t27000000\trs1\tA\tG,T\t.\tPASS\t.\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let st = Command::new(common::bin("ferrosea-analyze"))
        .args(["variants", "-q", "--checkpoint"])
        .arg(&f.run)
        .arg("--genome")
        .arg(common::genome())
        .arg("--vcf")
        .arg(&vcf)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scored"], 2);
    assert_eq!(summary["targets"], 29);
}

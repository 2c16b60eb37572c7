//! `ferrosea-analyze variants` end to end on the demo data.

mod common;

use common::{json, ok, write};

#[test]
fn fixture_scores_a_small_vcf() {
    let (f, _g, dir) = common::start();
    let vcf = dir.path().join("v.vcf");
    write(
        &vcf,
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr22\t27000000\trs1\tA\tG,T\t.\tPASS\t.\n",
    );
    let out = dir.path().join("out");
    ok(
        "variants",
        f.analyze(
            &["variants", "-q"],
            &[("--genome", &common::genome()), ("--vcf", &vcf)],
            &out,
        ),
    );
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["scored"], 2);
    assert_eq!(summary["targets"], 29);
}

rule train:
    input:
        train=f"{OUT}/prep/train.h5",
        valid=f"{OUT}/prep/valid.h5",
        recipe=config["train"].get("config") or [],
    output:
        best=f"{OUT}/train/best.json",
        metrics=f"{OUT}/train/metrics.tsv",
    params:
        bin=BIN,
        out=directory_of("best"),
        flags=train_flags(config),
        stamp=training_stamp,
    log:
        f"{OUT}/logs/train.log",
    threads: workflow.cores
    resources:
        gpu=config["train"].get("gpus", 0),
    shell:
        # A killed run resumes from its latest checkpoint when the flags, the training file and
        # the recipe are the same (recorded in .workflow-flags when a run starts); new or
        # changed ones start over.
        "mkdir -p {params.out}; "
        "want={params.flags:q}' '{params.stamp:q}; "
        "if [ -f {params.out}/latest.json ] && [ \"$(cat {params.out}/.workflow-flags 2>/dev/null)\" = \"$want\" ]; "
        "then how=--resume; "
        "else how=--force; printf '%s' \"$want\" > {params.out}/.workflow-flags.tmp "
        "&& mv {params.out}/.workflow-flags.tmp {params.out}/.workflow-flags; fi; "
        "{params.bin}/ferrosea-train $how --train {input.train} --valid {input.valid} "
        "--out {params.out} {params.flags} -j {threads} 2> {log}"

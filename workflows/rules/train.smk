rule train:
    input:
        train=f"{OUT}/prep/train.h5",
        valid=f"{OUT}/prep/valid.h5",
        recipe=config["train"].get("config") or [],
    output:
        # The run's own files (best.json, latest.json, metrics.tsv, the weights) are not
        # declared: Snakemake deletes a job's declared outputs before it runs and after it
        # fails, which would take best.json from a run that is resumed past its best epoch.
        # This marker, written when ferrosea-train succeeds, is what says the run is complete.
        done=f"{OUT}/train/complete",
    params:
        bin=BIN,
        out=directory_of("done"),
        flags=train_flags(config),
        stamp=training_stamp(config),
    log:
        f"{OUT}/logs/train.log",
    threads: CORES
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
        "--out {params.out} {params.flags} -j {threads} 2> {log} "
        "&& touch {output.done}"

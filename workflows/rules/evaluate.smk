rule predict:
    input:
        trained=f"{OUT}/train/complete",
        data=f"{OUT}/prep/test.h5",
    output:
        f"{OUT}/predictions/test.h5",
    params:
        bin=BIN,
        checkpoint=f"{OUT}/train/best.json",
        rc="--rc-average" if config["evaluate"]["rc_average"] else "",
        batch=config["evaluate"].get("batch_size", 256),
        device=first_device(config),
    log:
        f"{OUT}/logs/predict.log",
    threads: CORES
    resources:
        gpu=min(config["train"].get("gpus", 0), 1),
    shell:
        "{params.bin}/ferrosea-evaluate predict --checkpoint {params.checkpoint} --data {input.data} "
        "-o {output} {params.rc} --batch-size {params.batch} --device {params.device} "
        "-j {threads} 2> {log}"


rule metrics:
    input:
        predictions=f"{OUT}/predictions/test.h5",
        reference=config["evaluate"]["reference"] or [],
    output:
        json=f"{OUT}/report/metrics.json",
        per_target=f"{OUT}/report/per_target.tsv",
        summary=f"{OUT}/report/summary.tsv",
    params:
        bin=BIN,
        out=directory_of("json"),
        min_pos=config["evaluate"]["min_positives"],
        reference=(
            f"--reference {config['evaluate']['reference']}"
            if config["evaluate"]["reference"]
            else ""
        ),
    log:
        f"{OUT}/logs/metrics.log",
    threads: CORES
    shell:
        "{params.bin}/ferrosea-evaluate metrics --predictions {input.predictions} -o {params.out} "
        "--min-positives {params.min_pos} {params.reference} -j {threads} 2> {log}"

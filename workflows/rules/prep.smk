rule prep:
    input:
        genome=config["genome"],
        targets=config["targets"],
        peaks=peak_files(config["targets"]),
    output:
        train=f"{OUT}/prep/train.h5",
        valid=f"{OUT}/prep/valid.h5",
        test=f"{OUT}/prep/test.h5",
        report=f"{OUT}/prep/prep.json",
    params:
        bin=BIN,
        out=directory_of("report"),
        rc="--reverse-complement" if config["prep"]["reverse_complement"] else "",
        keep=config["prep"]["keep"],
        valid=config["prep"]["valid"],
        test=config["prep"]["test"],
        extra=config["prep"].get("extra", ""),
    log:
        f"{OUT}/logs/prep.log",
    threads: CORES
    shell:
        "{params.bin}/ferrosea-prep --genome {input.genome} --targets {input.targets} -o {params.out} "
        "--valid {params.valid:q} --test {params.test:q} --keep {params.keep} {params.rc} "
        "-j {threads} {params.extra} 2> {log}"

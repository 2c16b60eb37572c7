rule filters:
    input:
        trained=f"{OUT}/train/complete",
        data=f"{OUT}/prep/test.h5",
    output:
        meme=f"{OUT}/motifs/filters.meme",
        table=f"{OUT}/motifs/filters.tsv",
    params:
        bin=BIN,
        checkpoint=f"{OUT}/train/best.json",
        out=directory_of("meme"),
        threshold=config["interpret"]["threshold"],
        min_sites=config["interpret"]["min_sites"],
        positive="--only-positive" if config["interpret"].get("only_positive") else "",
        influence=(
            f"--influence {config['interpret']['influence']}"
            if config["interpret"].get("influence")
            else ""
        ),
        device=first_device(config),
    log:
        f"{OUT}/logs/filters.log",
    threads: CORES
    resources:
        gpu=min(config["train"].get("gpus", 0), 1),
    shell:
        "{params.bin}/ferrosea-interpret filters --checkpoint {params.checkpoint} --data {input.data} "
        "-o {params.out} --threshold {params.threshold} --min-sites {params.min_sites} "
        "{params.positive} {params.influence} --device {params.device} -j {threads} 2> {log}"


rule compare:
    input:
        query=f"{OUT}/motifs/filters.meme",
        db=config["interpret"]["db"],
    output:
        f"{OUT}/motifs/matches.tsv",
    params:
        bin=BIN,
        dist=config["interpret"].get("dist", "ed"),
        thresh=config["interpret"].get("thresh", 0.5),
    log:
        f"{OUT}/logs/compare.log",
    threads: CORES
    shell:
        "{params.bin}/ferrosea-interpret compare --query {input.query} --db {input.db} -o {output} "
        "--dist {params.dist} --thresh {params.thresh} -j {threads} 2> {log}"


rule report:
    input:
        table=f"{OUT}/motifs/filters.tsv",
        meme=f"{OUT}/motifs/filters.meme",
        matches=f"{OUT}/motifs/matches.tsv",
        db=config["interpret"]["db"],
    output:
        f"{OUT}/motifs/report.html",
    params:
        bin=BIN,
        motifs=directory_of_input("meme"),
    log:
        f"{OUT}/logs/report.log",
    shell:
        "{params.bin}/ferrosea-interpret report --motifs {params.motifs} --matches {input.matches} "
        "--db {input.db} -o {output} 2> {log}"

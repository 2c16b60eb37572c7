# Attributions and the motifs behind them (config key `attribution`): for each listed target,
# ferrosea-interpret attribute on the test windows positive for it, then seqlets (windows of
# high contribution, thresholded against the attributions of shuffled sequences), motifs
# (seqlets clustered by their contribution profiles), compare (JASPAR) and a report page:
#
#   attributions/<target>/attributions.h5, seqlets.tsv, motifs/{motifs.meme, motifs.tsv,
#   motifs.h5, logos/, matches.tsv, report.html}
#
# <target> is the target's name made file-safe (`MA0139.2|CTCF` -> `MA0139.2_CTCF`).

if config.get("attribution"):
    ATTRIBUTION = config["attribution"]
    ATTRIBUTION_TARGETS = attribution_targets(config)

    rule attribute:
        input:
            trained=f"{OUT}/train/complete",
            data=f"{OUT}/prep/test.h5",
        output:
            f"{OUT}/attributions/{{target}}/attributions.h5",
        params:
            bin=BIN,
            checkpoint=f"{OUT}/train/best.json",
            name=lambda wildcards: ATTRIBUTION_TARGETS[wildcards.target],
            method=ATTRIBUTION.get("method", "deeplift-shap"),
            rows=ATTRIBUTION.get("rows", 500),
            references=ATTRIBUTION.get("references", 20),
            null_rows=ATTRIBUTION.get("null_rows", 100),
            seed=ATTRIBUTION.get("seed", 1),
            recurrent=ATTRIBUTION.get("recurrent_rule", "refuse"),
            device=first_device(config),
        log:
            f"{OUT}/logs/attribute.{{target}}.log",
        threads: CORES
        resources:
            gpu=min(config["train"].get("gpus", 0), 1),
        shell:
            "{params.bin}/ferrosea-interpret attribute --checkpoint {params.checkpoint} "
            "--data {input.data} --targets '{params.name}' --positives '{params.name}' "
            "--rows {params.rows} --method {params.method} --references {params.references} "
            "--null-rows {params.null_rows} --seed {params.seed} "
            "--recurrent-rule {params.recurrent} --device {params.device} -j {threads} "
            "-o {output} 2> {log}"

    rule seqlets:
        input:
            f"{OUT}/attributions/{{target}}/attributions.h5",
        output:
            f"{OUT}/attributions/{{target}}/seqlets.tsv",
        params:
            bin=BIN,
            window=ATTRIBUTION.get("window", 21),
            fdr=ATTRIBUTION.get("fdr", 0.05),
        log:
            f"{OUT}/logs/seqlets.{{target}}.log",
        shell:
            "{params.bin}/ferrosea-interpret seqlets --attributions {input} -o {output} "
            "--window {params.window} --fdr {params.fdr} 2> {log}"

    rule motifs:
        input:
            attributions=f"{OUT}/attributions/{{target}}/attributions.h5",
            seqlets=f"{OUT}/attributions/{{target}}/seqlets.tsv",
        output:
            meme=f"{OUT}/attributions/{{target}}/motifs/motifs.meme",
            table=f"{OUT}/attributions/{{target}}/motifs/motifs.tsv",
        params:
            bin=BIN,
            out=directory_of("meme"),
            min_seqlets=ATTRIBUTION.get("min_seqlets", 20),
        log:
            f"{OUT}/logs/motifs.{{target}}.log",
        threads: CORES
        shell:
            "{params.bin}/ferrosea-interpret motifs --attributions {input.attributions} "
            "--seqlets {input.seqlets} -o {params.out} --min-seqlets {params.min_seqlets} "
            "-j {threads} 2> {log}"

    rule compare_motifs:
        input:
            query=f"{OUT}/attributions/{{target}}/motifs/motifs.meme",
            db=config["interpret"]["db"],
        output:
            f"{OUT}/attributions/{{target}}/motifs/matches.tsv",
        params:
            bin=BIN,
            dist=config["interpret"].get("dist", "ed"),
            thresh=config["interpret"].get("thresh", 0.5),
        log:
            f"{OUT}/logs/compare_motifs.{{target}}.log",
        threads: CORES
        shell:
            "{params.bin}/ferrosea-interpret compare --query {input.query} --db {input.db} "
            "-o {output} --dist {params.dist} --thresh {params.thresh} -j {threads} 2> {log}"

    rule report_motifs:
        input:
            meme=f"{OUT}/attributions/{{target}}/motifs/motifs.meme",
            table=f"{OUT}/attributions/{{target}}/motifs/motifs.tsv",
            matches=f"{OUT}/attributions/{{target}}/motifs/matches.tsv",
            db=config["interpret"]["db"],
        output:
            f"{OUT}/attributions/{{target}}/motifs/report.html",
        params:
            bin=BIN,
            motifs=directory_of_input("meme"),
        log:
            f"{OUT}/logs/report_motifs.{{target}}.log",
        shell:
            "{params.bin}/ferrosea-interpret report --motifs {params.motifs} "
            "--matches {input.matches} --db {input.db} -o {output} 2> {log}"

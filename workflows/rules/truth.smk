rule truth:
    input:
        per_target=f"{OUT}/report/per_target.tsv",
        matches=f"{OUT}/motifs/matches.tsv",
    output:
        f"{OUT}/truth.tsv",
    params:
        python=sys.executable,
        script=f"{workflow.basedir}/lib/check_truth.py",
        truth=config.get("truth", {}).get("dir", ""),
        min_roc=config.get("truth", {}).get("min_roc_auc", 0.95),
        max_q=config.get("truth", {}).get("max_q", 0.05),
        min_matched=config.get("truth", {}).get("min_matched", 0.8),
    log:
        f"{OUT}/logs/truth.log",
    shell:
        "{params.python} {params.script} {input.per_target} {input.matches} {params.truth} "
        "{params.min_roc} {params.max_q} {params.min_matched} {output} > {log} 2>&1 "
        "|| (cat {log} >&2; exit 1)"

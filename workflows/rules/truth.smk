rule truth:
    input:
        per_target=f"{OUT}/report/per_target.tsv",
        matches=f"{OUT}/motifs/matches.tsv",
        attributions=attribution_files(config, "motifs/matches.tsv"),
    output:
        f"{OUT}/truth.tsv",
    params:
        python=sys.executable,
        script=f"{workflow.basedir}/lib/check_truth.py",
        truth=config.get("truth", {}).get("dir", ""),
        min_roc=config.get("truth", {}).get("min_roc_auc", 0.95),
        max_q=config.get("truth", {}).get("max_q", 0.05),
        min_matched=config.get("truth", {}).get("min_matched", 0.8),
        # With attributions: their directory, the least AUPRC and the seqlet-count bounds.
        attribution=(
            f"{OUT}/attributions {config.get('truth', {}).get('min_auprc', 0.3)} "
            + " ".join(str(v) for v in config.get("truth", {}).get("seqlet_ratio", [0.5, 1.5]))
            if config.get("attribution")
            else ""
        ),
    log:
        f"{OUT}/logs/truth.log",
    shell:
        "{params.python} {params.script} {input.per_target} {input.matches} {params.truth} "
        "{params.min_roc} {params.max_q} {params.min_matched} {output} {params.attribution} > {log} 2>&1 "
        "|| (cat {log} >&2; exit 1)"

# ferrosea-analyze on the trained network: variant effects (config key `variants`, with an
# optional background for e-values) and genome tracks of tiled regions (config key `tracks`).
# Each rule runs only when its key is set. Every analyze subcommand writes its files under
# temporary names and summary.json last, so an interrupted job never looks finished.
#
# Scatter-gather: with variants.chunks = N > 1 the VCF is cut into N contiguous runs of
# records, each scored by its own job (`variants --chunk K/N` into variants/chunks/K; a SLURM
# job of its own under the cluster profile), and `gather` joins them in chunk order into
# variants/, byte for byte what one job over the whole VCF writes (dev.sh's workflow check
# compares 3 chunks with 1).

ANALYZE_GPU = min(config["train"].get("gpus", 0), 1)
CHECKPOINT = f"{OUT}/train/best.json"

if config.get("variants"):
    VARIANTS = config["variants"]
    VARIANTS_OUT = f"{OUT}/variants"
    VARIANTS_PREFIX = tsv_prefix(VARIANTS["vcf"])
    CHUNKS = VARIANTS.get("chunks", 1)
    BACKGROUND = VARIANTS.get("background") or {}

    if BACKGROUND:

        rule background:
            input:
                trained=f"{OUT}/train/complete",
                genome=config["genome"],
                vcf=BACKGROUND.get("vcf") or [],
                exclude=BACKGROUND.get("exclude") or [],
            output:
                background_file(config),
            params:
                bin=BIN,
                checkpoint=CHECKPOINT,
                source=(
                    f"--vcf {BACKGROUND['vcf']}"
                    if BACKGROUND.get("vcf")
                    else f"--random-snvs {BACKGROUND.get('random_snvs')} "
                    f"--seed {BACKGROUND.get('seed', 1)}"
                ),
                exclude=(
                    f"--exclude {BACKGROUND['exclude']}" if BACKGROUND.get("exclude") else ""
                ),
                rc="--rc-average" if VARIANTS.get("rc_average", True) else "",
                alias=(
                    f"--chrom-alias {VARIANTS['chrom_alias']}"
                    if VARIANTS.get("chrom_alias") and BACKGROUND.get("vcf")
                    else ""
                ),
                batch=VARIANTS.get("batch_size", 64),
                device=first_device(config),
            log:
                f"{OUT}/logs/background.log",
            threads: CORES
            resources:
                gpu=ANALYZE_GPU,
                mem_mb=8000,
                runtime=240,
            shell:
                "{params.bin}/ferrosea-analyze background --checkpoint {params.checkpoint} "
                "--genome {input.genome} -o {output} {params.source} {params.exclude} {params.rc} "
                "{params.alias} --batch-size {params.batch} --device {params.device} "
                "-j {threads} 2> {log}"

    if CHUNKS == 1:

        rule variants:
            input:
                trained=f"{OUT}/train/complete",
                genome=config["genome"],
                vcf=VARIANTS["vcf"],
                background=background_file(config),
            output:
                **variants_files(VARIANTS_OUT, VARIANTS_PREFIX),
            params:
                bin=BIN,
                checkpoint=CHECKPOINT,
                out=directory_of("summary"),
                prefix=VARIANTS_PREFIX,
                background=flag_of_input("--background", "background"),
                flags=variants_flags(config),
            log:
                f"{OUT}/logs/variants.log",
            threads: CORES
            resources:
                gpu=ANALYZE_GPU,
                mem_mb=8000,
                runtime=240,
            shell:
                "{params.bin}/ferrosea-analyze variants --checkpoint {params.checkpoint} "
                "--genome {input.genome} --vcf {input.vcf} -o {params.out} "
                "--prefix {params.prefix:q} {params.background} {params.flags} "
                "-j {threads} 2> {log}"

    else:

        rule variants_chunk:
            input:
                trained=f"{OUT}/train/complete",
                genome=config["genome"],
                vcf=VARIANTS["vcf"],
                background=background_file(config),
            output:
                **variants_files(f"{VARIANTS_OUT}/chunks/{{k}}", VARIANTS_PREFIX),
            wildcard_constraints:
                k=r"[1-9][0-9]*",
            params:
                bin=BIN,
                checkpoint=CHECKPOINT,
                out=directory_of("summary"),
                chunk=lambda wildcards: f"{wildcards.k}/{CHUNKS}",
                prefix=VARIANTS_PREFIX,
                background=flag_of_input("--background", "background"),
                flags=variants_flags(config),
            log:
                f"{OUT}/logs/variants_chunk_{{k}}.log",
            threads: CORES
            resources:
                gpu=ANALYZE_GPU,
                mem_mb=8000,
                runtime=240,
            shell:
                "{params.bin}/ferrosea-analyze variants --checkpoint {params.checkpoint} "
                "--genome {input.genome} --vcf {input.vcf} --chunk {params.chunk} "
                "-o {params.out} --prefix {params.prefix:q} {params.background} {params.flags} "
                "-j {threads} 2> {log}"

        rule variants_gather:
            input:
                # In chunk order: the order gather joins them in.
                expand(f"{VARIANTS_OUT}/chunks/{{k}}/summary.json", k=range(1, CHUNKS + 1)),
            output:
                **variants_files(VARIANTS_OUT, VARIANTS_PREFIX),
            params:
                bin=BIN,
                chunks=lambda wildcards, input: " ".join(os.path.dirname(f) for f in input),
                out=directory_of("summary"),
            log:
                f"{OUT}/logs/variants_gather.log",
            resources:
                mem_mb=4000,
                runtime=60,
            shell:
                "{params.bin}/ferrosea-analyze gather {params.chunks} -o {params.out} 2> {log}"


if config.get("tracks"):
    TRACKS = config["tracks"]

    rule tracks:
        input:
            trained=f"{OUT}/train/complete",
            genome=config["genome"],
        output:
            h5=f"{OUT}/tracks/regions.h5",
            tsv=f"{OUT}/tracks/regions.tsv",
            bigwigs=bigwig_files(config, f"{OUT}/tracks"),
            bedgraphs=bedgraph_files(config, f"{OUT}/tracks"),
            summary=f"{OUT}/tracks/summary.json",
        params:
            bin=BIN,
            checkpoint=CHECKPOINT,
            out=directory_of("summary"),
            regions=tile_regions(config),
            step=TRACKS.get("step", 200),
            targets=track_targets(config),
            bedgraph="--bedgraph" if TRACKS.get("bedgraph") else "",
            rc="--rc-average" if TRACKS.get("rc_average", True) else "",
            batch=TRACKS.get("batch_size", 64),
            device=first_device(config),
        log:
            f"{OUT}/logs/tracks.log",
        threads: CORES
        resources:
            gpu=ANALYZE_GPU,
            mem_mb=8000,
            runtime=240,
        shell:
            "{params.bin}/ferrosea-analyze regions --checkpoint {params.checkpoint} "
            "--genome {input.genome} --tile {params.regions:q} --step {params.step} "
            "-o {params.out} --bigwig {params.targets:q} {params.bedgraph} {params.rc} "
            "--batch-size {params.batch} --device {params.device} -j {threads} 2> {log}"

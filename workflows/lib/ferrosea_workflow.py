"""Helpers of the ferrosea Snakefile (no rules here)."""
import csv
import os


def peak_files(manifest):
    """The peak files a targets manifest names, so that a changed peak file reruns prep."""
    base = os.path.dirname(manifest)
    if not os.path.isfile(manifest):
        raise FileNotFoundError(
            f"the targets manifest {manifest} (config key 'targets') does not exist"
        )
    with open(manifest) as f:
        lines = (l for l in f if l.strip() and not l.startswith("#"))
        rows = csv.DictReader(lines, delimiter="\t")
        if rows.fieldnames is None or "path" not in rows.fieldnames:
            raise ValueError(f"{manifest}: the targets manifest needs a 'path' column")
        return [os.path.join(base, r["path"]) for r in rows]


def train_flags(config):
    """ferrosea-train's flags from the config's train section."""
    t = config["train"]
    recipe = f"--config {t['config']}" if t.get("config") else f"--preset {t['preset']}"
    flags = [recipe, f"--epochs {t['epochs']}", f"--seed {t.get('seed', 1)}"]
    if t.get("batch_size"):
        flags.append(f"--batch-size {t['batch_size']}")
    flags.append(f"--devices {t['devices']}")
    return " ".join(flags + [t.get("extra", "")]).strip()


def first_device(config):
    """The device of the single-device steps (predict, filters)."""
    return config["train"]["devices"].split(",")[0]


def directory_of(name):
    """A rule parameter: the directory of the rule's output `name`."""
    return lambda wildcards, output: os.path.dirname(output[name])


def directory_of_input(name):
    """A rule parameter: the directory of the rule's input `name`."""
    return lambda wildcards, input: os.path.dirname(input[name])


def training_stamp(config):
    """A rule parameter: what a training run depends on besides its flags, namely the
    training file's size and time and the recipe's content (the recipe file's, or in a
    checkout the preset's source, since a preset lives in the binary). Recorded when a run
    starts; a killed run is resumed only when the stamp is unchanged."""
    import hashlib

    def stamp(wildcards, input):
        st = os.stat(input.train)
        text = f"{st.st_size}:{int(st.st_mtime)}"
        recipe = input.get("recipe")
        if not recipe:
            preset = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                  "crates", "train", "presets",
                                  f"{config['train'].get('preset', '')}.json")
            recipe = preset if os.path.isfile(preset) else None
        if recipe:
            with open(recipe, "rb") as f:
                text += ":" + hashlib.sha256(f.read()).hexdigest()[:16]
        return text

    return stamp


def tsv_prefix(vcf):
    """The prefix ferrosea-analyze variants gives its Selene-layout TSVs by default: the VCF's
    file name without .vcf.gz, .vcf.bgz, .vcf or .gz (passed explicitly with --prefix, so
    that the files the rule declares are the files the binary writes)."""
    name = os.path.basename(vcf)
    for ext in (".vcf.gz", ".vcf.bgz", ".vcf", ".gz"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def variants_files(directory, prefix):
    """The files of one ferrosea-analyze variants (or gather) output directory, summary.json
    (written last) last."""
    return {
        "h5": f"{directory}/variants.h5",
        "diffs": f"{directory}/{prefix}_diffs.tsv",
        "abs_diffs": f"{directory}/{prefix}_abs_diffs.tsv",
        "logits": f"{directory}/{prefix}_logits.tsv",
        "ref": f"{directory}/{prefix}.ref_predictions.tsv",
        "alt": f"{directory}/{prefix}.alt_predictions.tsv",
        "vcf": f"{directory}/annotated.vcf.gz",
        "skipped": f"{directory}/skipped.tsv",
        "summary": f"{directory}/summary.json",
    }


def variants_flags(config):
    """The flags of ferrosea-analyze variants from the config's variants section (besides
    the checkpoint, genome, VCF, background, chunk and output)."""
    v = config["variants"]
    flags = []
    if v.get("rc_average", True):
        flags.append("--rc-average")
    if v.get("strict_ref"):
        flags.append("--strict-ref")
    if v.get("chrom_alias"):
        flags.append(f"--chrom-alias {v['chrom_alias']}")
    flags.append(f"--batch-size {v.get('batch_size', 64)}")
    flags.append(f"--device {first_device(config)}")
    return " ".join(flags)


def track_targets(config):
    """The targets of the tracks section as ferrosea-analyze regions --bigwig takes them
    (comma-separated, or all)."""
    t = config["tracks"].get("targets", "all")
    return t if isinstance(t, str) else ",".join(t)


def file_safe(name):
    """A target name as ferrosea-analyze regions names its track files: characters other
    than letters, digits, `.`, `-` and `_` become `_` (`H1-hESC|CTCF` -> `H1-hESC_CTCF`)."""
    s = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    return f"_{s}" if not s or s.startswith(".") else s


def track_files(config, directory, ext):
    """The track files (ext: bw or bedGraph) ferrosea-analyze regions writes for the listed
    targets, named as it names them (file_safe; a clash gets _2, _3, ...); none when the
    targets are `all` (their names are the checkpoint's)."""
    t = config["tracks"].get("targets", "all")
    if isinstance(t, str):
        return []
    used, files = {}, []
    for name in t:
        base = file_safe(name)
        used[base] = used.get(base, 0) + 1
        stem = base if used[base] == 1 else f"{base}_{used[base]}"
        files.append(f"{directory}/{stem}.{ext}")
    return files


def bigwig_files(config, directory):
    """The bigWig files of the tracks section's listed targets (see track_files)."""
    return track_files(config, directory, "bw")


def bedgraph_files(config, directory):
    """The bedGraph files of the listed targets, when the tracks section asks for them."""
    return track_files(config, directory, "bedGraph") if config["tracks"].get("bedgraph") else []


def tile_regions(config):
    """The tracks section's regions as --tile takes them (comma-separated)."""
    r = config["tracks"]["regions"]
    return r if isinstance(r, str) else ",".join(r)


def background_file(config):
    """The background file of the variants rules (rule background's output), or [] when the
    variants section has no background."""
    if config["variants"].get("background"):
        return f"{config['out']}/background/background.h5"
    return []


def flag_of_input(flag, name):
    """A rule parameter: `flag <the input name>` when the rule has that input, else nothing."""
    return lambda wildcards, input: f"{flag} {input[name]}" if input.get(name) else ""


def attribution_targets(config):
    """The attribution section's targets, by their file-safe names (the {target} wildcard of
    rules/attribution.smk): {file-safe name: target name}; two names that become the same
    are an error."""
    out = {}
    for name in config["attribution"]["targets"]:
        safe = file_safe(name)
        if safe in out:
            raise ValueError(
                f"attribution.targets: '{out[safe]}' and '{name}' both become '{safe}' in file names"
            )
        out[safe] = name
    return out


def attribution_files(config, name):
    """The files `name` (e.g. motifs/report.html) of every attributed target."""
    if not config.get("attribution"):
        return []
    return [
        f"{config['out']}/attributions/{t}/{name}" for t in attribution_targets(config)
    ]

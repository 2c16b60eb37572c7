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

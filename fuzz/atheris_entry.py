"""Child process of `fuzz.run` for atheris: one target, libFuzzer's coverage-guided loop
over the instrumented `accord` package. Arguments: TARGET RUNS CORPUS_DIR [SEED_DIR ...]
[libFuzzer flags]."""

from __future__ import annotations

import sys
import warnings

import atheris

with atheris.instrument_imports(include=["accord"]):
    import accord.cli  # noqa: F401 - instrument what the targets import lazily
    from fuzz.targets import TARGETS


def main() -> None:
    name, runs, *rest = sys.argv[1:]
    target = TARGETS[name]
    warnings.simplefilter("ignore")
    for path in rest:  # warm up: fixtures and lazy imports, instrumented too
        if not path.startswith("-"):
            from pathlib import Path

            for seed in sorted(Path(path).iterdir()) if Path(path).is_dir() else ():
                target.check(seed.read_bytes())
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], f"-runs={runs}", "-timeout=1", "-rss_limit_mb=4096", "-max_len=65536", *rest],
                  target.check)  # fmt: skip
    atheris.Fuzz()


if __name__ == "__main__":
    main()

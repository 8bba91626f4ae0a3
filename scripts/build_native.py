"""Compile evalkit's offline scoring modules with mypyc, in place (see evalkit/native.py).

    .venv/bin/python scripts/build_native.py            # build if a source changed (make install runs this)
    .venv/bin/python scripts/build_native.py --force    # rebuild
    .venv/bin/python scripts/build_native.py --clean    # remove the compiled modules: pure Python

Needs mypy (the ``native`` extra), a C compiler and the Python headers. When any is missing or
the build fails, it prints one line and exits 0: evalkit then runs as pure Python, only slower.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["EVALKIT_PURE"] = "1"  # this process hashes sources; it never needs the compiled modules

from evalkit import native  # noqa: E402

SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
tmp, paths = sys.argv[1], sys.argv[2:]
sys.argv = [sys.argv[0], "build_ext", "--inplace", "--build-temp", tmp, "--build-lib", tmp + "/lib"]
setup(name="evalkit-native", packages=[], py_modules=[],
      ext_modules=mypycify(["--ignore-missing-imports", "--follow-imports=silent", "--cache-dir", tmp + "/mypy-cache", *paths],
                           group_name="evalkit._native", opt_level="3", target_dir=tmp))
"""


def clean() -> int:
    files = native.compiled_files() + sorted(native.ROOT.glob("_native__mypyc.*"))
    for f in files:
        f.unlink()
    native.MANIFEST.unlink(missing_ok=True)
    print(f"build_native: removed {len(files)} compiled file(s); evalkit runs as pure Python")
    return 0


def remove_orphans() -> None:
    """Drop compiled modules whose source is gone (a module moved or renamed since the last build)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for f in sorted(native.ROOT.rglob("*.so")):
        if f.name.endswith(suffixes) and not f.name.startswith("_native__mypyc.") \
                and not f.with_name(f.name.split(".", 1)[0] + ".py").is_file():
            f.unlink()
            print(f"build_native: removed {f.relative_to(REPO)} (its source moved or was removed)")


def up_to_date() -> bool:
    return native.build_problem() is None and len(native.compiled_files()) == len(native.MODULES)


def build() -> int:
    try:
        import mypy.version
        import mypyc  # noqa: F401
    except ImportError:
        print("build_native: mypy is not installed (pip install -e '.[native]'); evalkit runs as pure Python")
        return 0
    hashes = native.source_hashes()  # of the sources compiled, taken before the build
    paths = [str(native.source_path(m).relative_to(REPO)) for m in native.MODULES]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="evalkit-native-") as tmp:
        setup_py = Path(tmp) / "setup_native.py"
        setup_py.write_text(SETUP)
        env = {**os.environ, "MYPYC_OPT_LEVEL": "3"}
        env.pop("EVALKIT_PURE", None)
        # from the repo root: module names come from the paths; C sources and objects go to the temp
        # folder, the extension modules beside their sources
        proc = subprocess.run([sys.executable, str(setup_py), tmp, *paths], cwd=REPO, env=env, capture_output=True,
                              text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error" in ln.lower()]
        print(f"build_native: mypyc build failed ({lines[0].strip() if lines else 'exit ' + str(proc.returncode)}); "
              "evalkit runs as pure Python — fix the error above or run with --clean")
        if os.environ.get("EVALKIT_NATIVE_STRICT"):
            sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            return 1
        return 0
    native.MANIFEST.write_text(json.dumps({"sources": hashes, "python": sys.implementation.cache_tag,
                                           "mypy": mypy.version.__version__}, indent=1, sort_keys=True) + "\n")
    print(f"build_native: compiled {len(paths)} modules with mypyc {mypy.version.__version__} "
          f"in {time.perf_counter() - t0:.0f}s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = ap.parse_args()
    remove_orphans()
    if args.clean:
        return clean()
    if not args.force and up_to_date():
        print("build_native: compiled modules are up to date")
        return 0
    return build()


if __name__ == "__main__":
    sys.exit(main())

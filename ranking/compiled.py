"""Building and loading ranking's compiled extensions: the feature kernel of ``/api/rank``
(``ranking/features/_kernel_*.c``) and the candidates' common-case check
(``ranking/serving/_candidates.c``).

The install builds them (``python -m ranking.compiled``: ``run.py`` does so after installing
the requirements; an image's build should too) with the C compiler Python was built with.
A library's name carries its sources' digest, so a changed source is built again and an old
library is never loaded for it. A process that finds no library for the current sources
builds it on import (about a second each, under a file lock so that workers starting
together build it once). Where no compiler is at hand an extension is unavailable and its
caller uses the pure Python path it is checked against (the same values, slower).

Why C and not numba: numba's releases that use llvmlite 0.44 (which lleaves needs: it still
uses LLVM's legacy pass manager, removed from llvmlite 0.45 on) support NumPy up to 2.2, and
this project pins NumPy 2.4.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent
# No FMA contraction: a fused multiply-add rounds once where NumPy rounds twice, and the
# feature kernel must give the reference builder's values to the last bit.
CFLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-Werror")


@dataclass(frozen=True)
class Extension:
    name: str  # the module's import name
    sources: tuple[Path, ...]  # compiled into it
    headers: tuple[Path, ...] = ()  # part of its digest

    @property
    def digest(self) -> str:
        hashed = hashlib.sha256()
        for path in (*self.sources, *self.headers):
            hashed.update(path.read_bytes())
        return hashed.hexdigest()[:16]

    def library(self, digest: str | None = None) -> Path:
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        short = self.name.rpartition(".")[2]
        return self.sources[0].with_name(f"{short}.{digest or self.digest}{suffix}")


FEATURE_KERNEL = Extension(
    "ranking.features._kernel",
    (ROOT / "features" / "_kernel_tables.c", ROOT / "features" / "_kernel_request.c"),
    (ROOT / "features" / "_kernel.h",),
)
CANDIDATES_CHECK = Extension("ranking.serving._candidates", (ROOT / "serving" / "_candidates.c",))
EXTENSIONS = (FEATURE_KERNEL, CANDIDATES_CHECK)


def extension_compile(extension: Extension) -> Path:
    """Compile the extension unless its library exists; returns the library's path. Raises
    ``OSError`` or ``subprocess.CalledProcessError`` when it cannot be built."""
    digest = extension.digest
    target = extension.library(digest)
    with open(target.with_name(f".{target.name.partition('.')[0]}-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        command = [
            *(sysconfig.get_config_var("CC") or "cc").split(),
            *CFLAGS,
            f"-I{sysconfig.get_paths()['include']}",
            f'-DSOURCE_SHA256="{digest}"',
            *map(str, extension.sources),
            "-o",
            str(partial),
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        partial.replace(target)
        for stale in target.parent.glob(f"{target.name.partition('.')[0]}.*.so"):
            if stale != target:
                stale.unlink(missing_ok=True)
        logger.info("%s built in %.1f s: %s", extension.name, time.perf_counter() - started, target.name)
    return target


def extension_load(extension: Extension) -> ModuleType | None:
    """The extension built from its current sources (built now if need be), or None when it
    cannot be built here (the reason is logged)."""
    loaded = sys.modules.get(extension.name)
    if loaded is not None:
        return loaded
    try:
        path = extension.library()
        if not path.exists():
            path = extension_compile(extension)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or error
        logger.warning("%s cannot be built (%s); the Python path serves instead", extension.name, detail)
        return None
    spec = importlib.util.spec_from_file_location(extension.name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[extension.name] = module
    return module


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for extension in EXTENSIONS:
        print(f"{extension.name}: {extension_compile(extension)}")

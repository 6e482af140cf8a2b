"""Building and loading the compiled feature kernel (``_kernel.c``).

The install builds it (``python -m ranking.features.kernel_build``: ``run.py`` does so after
installing the requirements, the image's build should too) with the C compiler Python was
built with; the library's name carries the source's digest, so a changed source is built
again and an old library is never loaded for it. A process that finds no library for the
current source builds it on import (about a second, under a file lock so that workers
starting together build it once). Where no compiler is at hand the kernel is unavailable
and serving uses the reference builder (``ranking.features.matrix``): the same values, slower.

Why C and not numba: numba's releases that use llvmlite 0.44 (which lleaves needs: it still
uses LLVM's legacy pass manager) support NumPy up to 2.2, and this project pins NumPy 2.4.
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
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_kernel.c")
MODULE_NAME = "ranking.features._kernel"
# No FMA contraction: a fused multiply-add rounds once where NumPy rounds twice, and the
# kernel must give the reference builder's values to the last bit.
CFLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-Werror")


def source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def library_path(digest: str | None = None) -> Path:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return SOURCE.with_name(f"_kernel.{digest or source_digest()}{suffix}")


def kernel_compile() -> Path:
    """Compile the current source unless its library exists; returns the library's path.
    Raises ``OSError`` or ``subprocess.CalledProcessError`` when it cannot be built."""
    digest = source_digest()
    target = library_path(digest)
    with open(SOURCE.with_name(".kernel-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        compiler = (sysconfig.get_config_var("CC") or "cc").split()
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        command = [
            *compiler,
            *CFLAGS,
            f"-I{sysconfig.get_paths()['include']}",
            f'-DSOURCE_SHA256="{digest}"',
            str(SOURCE),
            "-o",
            str(partial),
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        partial.replace(target)
        for stale in SOURCE.parent.glob("_kernel.*.so"):
            if stale != target:
                stale.unlink(missing_ok=True)
        logger.info("feature kernel built in %.1f s: %s", time.perf_counter() - started, target.name)
    return target


def kernel_module_load() -> ModuleType | None:
    """The compiled kernel of the current source (built now if need be), or None when it
    cannot be built here (the reason is logged)."""
    loaded = sys.modules.get(MODULE_NAME)
    if loaded is not None:
        return loaded
    try:
        path = library_path()
        if not path.exists():
            path = kernel_compile()
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or error
        logger.warning("the feature kernel cannot be built (%s); serving uses the reference builder", detail)
        return None
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[MODULE_NAME] = module
    return module


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"feature kernel: {kernel_compile()}")

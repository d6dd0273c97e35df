"""Installing a plugin package into a throwaway venv, offline, and running prmgym from it.

The venv is never the project's, so other tests and people sharing that venv do not see the
plugin. It sees prmgym and its dependencies through a ``.pth`` line adding this interpreter's
site-packages (``--system-site-packages`` alone would expose the base Python's, not this
venv's). The install is offline: ``--no-index --no-deps --no-build-isolation`` builds with the
setuptools already here.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

TIMEOUT_S = 600


def run(args, cwd, *, env=None, timeout=TIMEOUT_S):
    """Run a command; fail the test with its output unless it exits 0; return its stdout.

    ``env`` holds variables to set on top of this process's environment.
    """
    done = subprocess.run(
        args,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def copy_package(package, root):
    """A copy of ``package`` under ``root``, so build folders never land in the working tree."""
    source = Path(root) / Path(package).name
    shutil.copytree(
        package, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    return source


def install_into_venv(source, root):
    """A new venv under ``root`` that sees prmgym, with ``source`` pip-installed; its python."""
    venv = Path(root) / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], root)
    python = venv / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root)
    here = sysconfig.get_paths()["purelib"]
    (Path(purelib.strip()) / "prmgym-project.pth").write_text(
        f"import site; site.addsitedir({here!r})\n"
    )
    pip = [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation"]
    run([*pip, source], root)
    return python


def prmgym(python, *args, cwd):
    """Run ``python -m prmgym ARGS`` (exit 0 required); its stdout."""
    return run([python, "-m", "prmgym", *args], cwd)

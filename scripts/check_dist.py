"""Build the sdist and the wheel exactly as a user gets them, and check them before anyone publishes.

``make test`` (the ``dist-check`` target) runs this. Everything happens in a temporary
directory, offline, with the tools from requirements/dev.txt:

1. ``python -m build --no-isolation``: the sdist, then the wheel built from the sdist, so a
   file the sdist forgot fails here and not on a user's machine;
2. ``twine check --strict``: the metadata and the README render as PyPI will show them;
3. the contents: the wheel holds the package (with ``py.typed``), its dist-info and the
   license, nothing else; the sdist that plus what a build needs; no tests in either;
4. the metadata: one version (the package's), no dependency at all, no extra that pins a
   version, the project URLs;
5. a fresh virtual environment with the wheel and nothing else (``--no-deps``), outside the
   source tree: ``twiliosig --version`` prints that version, the CLI signs a request, and
   every public module outside ``twiliosig.contrib`` imports, the middlewares included,
   since they need only the standard library.

Exits 1 with one line per problem; prints a short summary when all is well.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "twiliosig"
#: Besides the package (src/twiliosig/ in the sdist), the files each archive may hold.
SDIST_FILES = {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", ".gitignore"}
WHEEL_METADATA = {"METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE"}
PROJECT_URLS = {"Documentation", "Source", "Issues", "Changelog"}

# Run inside the fresh environment: import every public module outside contrib (each needs
# only the standard library), from the installed copy, and print the version seen there.
IMPORT_ALL = """
import importlib, pkgutil, sys, twiliosig
assert twiliosig.__file__.startswith(sys.prefix), twiliosig.__file__
names = [info.name for info in pkgutil.walk_packages(twiliosig.__path__, "twiliosig.")
         if not any(part.startswith("_") for part in info.name.split("."))
         and not info.name.startswith("twiliosig.contrib") and info.name != "twiliosig.pytest_plugin"]
for name in names:
    importlib.import_module(name)
assert "twiliosig.wsgi" in names and "twiliosig.asgi" in names, names
print(twiliosig.__version__, len(names))
"""


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    # Every argv is built in this file from fixed words and paths it created.
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # noqa: S603


def source_version() -> str:
    for line in (ROOT / "src" / PACKAGE / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.partition("=")[2].strip().strip("\"'")
    raise SystemExit("src/twiliosig/__init__.py has no __version__")


def check_wheel(wheel: Path, version: str) -> list[str]:
    problems = []
    dist_info = f"{PACKAGE}-{version}.dist-info/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.parser.Parser().parsestr(archive.read(dist_info + "METADATA").decode("utf-8"))
    for name in names:
        if name.startswith(dist_info):
            if name.removeprefix(dist_info) not in WHEEL_METADATA:
                problems.append(f"wheel: unexpected {name}")
        elif not name.startswith(f"{PACKAGE}/") or "/tests/" in name or name.endswith((".pyc", "/")):
            problems.append(f"wheel: {name} is not part of the package")
    for required in (f"{PACKAGE}/__init__.py", f"{PACKAGE}/py.typed", f"{dist_info}licenses/LICENSE"):
        if required not in names:
            problems.append(f"wheel: {required} is missing")
    if metadata["Version"] != version:
        problems.append(f"wheel: Version {metadata['Version']} differs from __version__ {version}")
    for requirement in metadata.get_all("Requires-Dist") or []:
        if "extra ==" not in requirement:
            problems.append(f"wheel: a dependency every user installs: {requirement}")
        if "==" in requirement.partition(";")[0]:
            problems.append(f"wheel: an extra pins a version, which would fight a user's own: {requirement}")
    urls = {entry.partition(",")[0].strip() for entry in metadata.get_all("Project-URL") or []}
    problems.extend(f"wheel: no {label} project URL" for label in sorted(PROJECT_URLS - urls))
    return problems


def check_sdist(sdist: Path, version: str) -> list[str]:
    problems = []
    top = f"{PACKAGE}-{version}/"
    with tarfile.open(sdist) as archive:
        names = [member.name for member in archive.getmembers() if member.isfile()]
    for name in names:
        inside = name.removeprefix(top)
        if inside not in SDIST_FILES and not inside.startswith(f"src/{PACKAGE}/"):
            problems.append(f"sdist: unexpected {name}")
        elif "/tests/" in inside or inside.endswith(".pyc"):
            problems.append(f"sdist: {name} is not part of the package")
    for required in ("PKG-INFO", "pyproject.toml", "README.md", "LICENSE", f"src/{PACKAGE}/py.typed"):
        if top + required not in names:
            problems.append(f"sdist: {required} is missing")
    return problems


def check_install(wheel: Path, version: str, work: Path) -> list[str]:
    """Install the wheel alone into a fresh venv and use it from outside the source tree."""
    venv = work / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    if created.returncode != 0:
        return [f"venv: {created.stderr.strip()}"]
    python = venv / "bin" / "python"
    installed = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)]
    )
    if installed.returncode != 0:
        return [f"install: {installed.stderr.strip()}"]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["TWILIO_AUTH_TOKEN"] = "check-dist-token"  # noqa: S105 - a throwaway value the CLI signs with
    problems = []
    cli = venv / "bin" / PACKAGE
    shown = run([str(cli), "--version"], cwd=work, env=env)
    if shown.returncode != 0 or shown.stdout.strip() != f"{PACKAGE} {version}":
        problems.append(f"installed: twiliosig --version gave {shown.stdout.strip()!r} {shown.stderr.strip()!r}")
    signed = run([str(cli), "sign", "https://example.com/twilio/sms", "-p", "Body=hi"], cwd=work, env=env)
    if signed.returncode != 0 or len(signed.stdout.strip()) != 28:
        problems.append(f"installed: twiliosig sign failed: {signed.stderr.strip()!r}")
    imported = run([str(python), "-I", "-c", IMPORT_ALL], cwd=work, env=env)
    if imported.returncode != 0:
        problems.append(f"installed: importing the public modules failed:\n{imported.stderr.strip()}")
    elif imported.stdout.split()[0] != version:
        problems.append(f"installed: twiliosig.__version__ is {imported.stdout.split()[0]}")
    return problems


def main() -> int:
    version = source_version()
    with tempfile.TemporaryDirectory(prefix="twiliosig-dist-") as temporary:
        work = Path(temporary)
        out = work / "dist"
        built = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)])
        if built.returncode != 0:
            print(f"check_dist: the build failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}", file=sys.stderr)
            return 1
        sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            print(f"check_dist: expected one sdist and one wheel, got {sorted(p.name for p in out.iterdir())}")
            return 1
        problems = []
        checked = run([sys.executable, "-m", "twine", "check", "--strict", str(sdists[0]), str(wheels[0])])
        if checked.returncode != 0:
            problems.append(f"twine check: {checked.stdout.strip()} {checked.stderr.strip()}")
        problems += check_wheel(wheels[0], version)
        problems += check_sdist(sdists[0], version)
        problems += check_install(wheels[0], version, work)
        if problems:
            print("check_dist: the distributions are not ready to publish:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        print(f"check_dist: {sdists[0].name} and {wheels[0].name} pass twine check, hold only the package, ")
        print("  and install alone into a fresh venv where the CLI runs and every public module imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build what MWAA installs its workers from, offline: a wheelhouse in ``plugins.zip`` and the
requirements file that installs from it alone; and check both the way the MWAA image will use them.

MWAA (images/airflow/<version>/ of github.com/aws/amazon-mwaa-docker-images) unpacks plugins.zip to
``/usr/local/airflow/plugins`` and, on every scheduler and worker start, runs
``safe-pip-install -r requirements.txt`` = ``pip3 install --constraint $MWAA_ESSENTIAL_CONSTRAINTS_FILE
-r requirements.txt``, adding ``-c $AIRFLOW_CONSTRAINTS_FILE`` (the full Airflow constraints) unless a
line of the file matches ``-c `` or ``--constraint `` (mwaa/utils/user_requirements.py), under a
9-minute cap. The requirements file written here carries ``--no-index`` and ``--find-links`` to the
unpacked wheels, and its constraint line is written for a reason (see ``CONSTRAINT_DECISION``).

The wheels are MWAA's platform (CPython 3.12, manylinux up to glibc 2.34: Amazon Linux 2023), fetched
with ``pip download --only-binary=:all: --python-version 3.12 --platform ...``: no Python 3.12 needed.

    python3 scripts/mwaa_wheelhouse.py build [--out build/mwaa]   # plugins.zip + requirements.txt
    python3 scripts/mwaa_wheelhouse.py check [--out build/mwaa]   # the offline install checks

``check`` (``make mwaa-check`` runs it, then scripts/mwaa_check.py in the venv it made):
1. the image's rules on the requirements file: its constraint scan finds the deliberate line, every
   pin agrees with the essential constraints, apache-airflow is MWAA's;
2. pip resolves the file byte for byte, ``--no-index``, against the wheels unpacked from plugins.zip,
   for CPython 3.12 on manylinux_2_34 (a dry run: no 3.12 interpreter here): a missing wheel fails;
3. a venv on the local Python (3.11) installs the same file, ``--no-index``, from a second
   wheelhouse of the same pins for the local platform (plus the backports 3.11 alone needs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements-mwaa.txt"
ESSENTIAL = ROOT / "infrastructure" / "modules" / "mwaa" / "essential-constraints.txt"
OUT = ROOT / "build" / "mwaa"
MWAA_PYTHON = "3.12"
MWAA_ABI = "cp312"
MWAA_PLATFORM = "manylinux_2_34_x86_64"  # Amazon Linux 2023: glibc 2.34
# pip takes a wheel for one of these tags only (it does not widen a --platform): glibc 2.34 runs them all
MWAA_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1)),
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
)  # fmt: skip
PLUGINS_DIR = "/usr/local/airflow/plugins"  # where MWAA unpacks plugins.zip
WHEELS = "wheels"  # the folder of plugins.zip holding the wheels
PLUGINS_FOLDER = ROOT / "plugins"  # the files at the root of plugins.zip (Airflow's plugins folder)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.M)
# mwaa/utils/user_requirements.py, _requirements_has_constraints: any line, a comment too.
NO_WHEEL = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)==(\S+)")
KEEP_PIP = {"PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK"}
MWAA_CONSTRAINT_SCAN = re.compile(r"-c |--constraint ")
CONSTRAINT_LINE = "--constraint ${MWAA_ESSENTIAL_CONSTRAINTS_FILE}"
CONSTRAINT_DECISION = f"""\
# The constraint decision. MWAA adds its full Airflow constraints file ($AIRFLOW_CONSTRAINTS_FILE,
# about 700 pins) to this install when no line here names a constraints file. The pins below are a
# complete lock (requirements-mwaa.txt), resolved against the pins MWAA never lets a user override
# (its essential constraints, which safe-pip-install applies to every install anyway); the full file
# pins 140 of them differently (google-genai 2.17.0 against 3.6.1, the providers one release behind...),
# so with it the install fails. The next line names the essential constraints (pip expands the
# image's variable) and so keeps the full file out; scripts/mwaa_wheelhouse.py check holds it here.
{CONSTRAINT_LINE}
"""


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements or constraints text, by normalised name."""
    return {_name(name): version for name, version in PIN.findall(text)}


def requirements_text(lock: Path = LOCK) -> str:
    """The requirements file MWAA gets: offline options, the constraint decision, the lock's pins."""
    lines = [line for line in lock.read_text(encoding="utf-8").splitlines() if PIN.match(line)]
    return (
        "# Amazon MWAA installs this file on every scheduler and worker start (requirements_s3_path).\n"
        "# Written by scripts/mwaa_wheelhouse.py from requirements-mwaa.txt: edit that, not this.\n"
        f"# Offline: every wheel is in plugins.zip, which MWAA unpacks to {PLUGINS_DIR}.\n"
        "--no-index\n"
        f"--find-links {PLUGINS_DIR}/{WHEELS}\n"
        f"{CONSTRAINT_DECISION}" + "".join(f"{line}\n" for line in lines)
    )


class PipFailed(Exception):
    def __init__(self, output: str) -> None:
        super().__init__(output[-500:])
        self.output = output


def pip_env(**extra: str) -> dict[str, str]:
    """The environment for pip without this machine's pip configuration (its extra indexes, its
    find-links, its global constraints): what passes here must pass with PyPI alone and --no-index."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_") or key in KEEP_PIP}
    return {**env, "PIP_CONFIG_FILE": os.devnull, **extra}


def _pip(*args: str, quiet: bool = True, python: str = sys.executable) -> None:
    command = [python, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, env=pip_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PipFailed(result.stdout + result.stderr)
    if not quiet:
        print(f"mwaa-wheelhouse: {len(re.findall('^Saved ', result.stdout, re.M))} wheel(s) downloaded")


def _wheel_names(folder: Path) -> set[str]:
    return {_name(path.name.split("-")[0]) for path in folder.glob("*.whl")}


def _drop_moved_pins(folder: Path, wanted: dict[str, str]) -> None:
    """A re-lock moved or dropped a pin: its old wheel goes."""
    for path in folder.glob("*.whl"):
        name, version = path.name.split("-")[:2]
        if _name(name) not in wanted or _name(version) != _name(wanted[_name(name)]):
            path.unlink()


def fill_wheelhouse(requirements: Path, folder: Path, platform: list[str]) -> None:
    """Every pin of ``requirements`` as a wheel in ``folder`` (kept between runs: only new pins are
    fetched). A pin published as an sdist only is built here, and must come out pure Python."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = pins(requirements.read_text(encoding="utf-8"))
    _drop_moved_pins(folder, wanted)
    missing = sorted(set(wanted) - _wheel_names(folder))
    if not missing:
        return
    while missing:  # pip stops at the first pin without a wheel: build that one, then go on
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as todo:
            todo.write("".join(f"{name}=={wanted[name]}\n" for name in missing))
        try:
            _pip(
                "download",
                "--no-deps",
                "--only-binary=:all:",
                *platform,
                "-d",
                str(folder),
                "-r",
                todo.name,
                quiet=False,
            )
            break
        except PipFailed as failed:
            sdist_only = NO_WHEEL.search(failed.output)
            if sdist_only is None or _name(sdist_only.group(1)) not in missing:
                raise SystemExit(f"mwaa-wheelhouse: pip download failed:\n{failed.output[-2000:]}") from None
            _build_pure_wheel(f"{sdist_only.group(1)}=={sdist_only.group(2)}", folder)
            missing = sorted(set(wanted) - _wheel_names(folder))
        finally:
            os.unlink(todo.name)


def _build_pure_wheel(spec: str, folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _pip("wheel", "--no-deps", f"--no-binary={spec.split('==')[0]}", "-w", tmp, spec)
        (wheel,) = Path(tmp).glob("*.whl")
        if not wheel.name.endswith("-none-any.whl"):
            raise SystemExit(
                f"mwaa-wheelhouse: {spec} has no wheel for MWAA's platform ({wheel.name} built here)"
            )
        shutil.move(str(wheel), folder / wheel.name)


def run_pip_install(command: list[str], essential: Path) -> None:
    """Run a ``pip install`` of MWAA's requirements file here; its ``--find-links`` to MWAA's plugins
    folder does not exist on this machine, and pip's warning about it (one per package) is left out."""
    env = pip_env(MWAA_ESSENTIAL_CONSTRAINTS_FILE=str(essential))
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    for line in (result.stdout + result.stderr).splitlines():
        if f"'{PLUGINS_DIR}/{WHEELS}' is ignored" not in line:
            print(line, file=sys.stderr)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, command)


def mwaa_platform_args() -> list[str]:
    platforms = [arg for tag in MWAA_PLATFORMS for arg in ("--platform", tag)]
    return ["--python-version", MWAA_PYTHON, "--implementation", "cp", "--abi", MWAA_ABI, *platforms]


def build_plugins_zip(dest: Path = OUT, lock: Path = LOCK) -> Path:
    """Write ``dest/requirements.txt`` and ``dest/plugins.zip`` (the wheels, under ``wheels/``) for the
    lock; returns the plugins.zip. Wheels are cached in ``dest/wheels-cp312``. CD's bundle stage
    calls this before ``terraform apply``, which uploads both (infrastructure/modules/mwaa)."""
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    requirements.write_text(requirements_text(lock), encoding="utf-8")
    wheelhouse = dest / f"wheels-{MWAA_ABI}"
    fill_wheelhouse(requirements, wheelhouse, mwaa_platform_args())
    plugins = write_plugins_zip(dest / "plugins.zip", wheelhouse)
    size = plugins.stat().st_size / 2**20
    print(
        f"mwaa-wheelhouse: {plugins} ({len(list(wheelhouse.glob('*.whl')))} wheels, {size:.0f} MiB), {requirements}"
    )
    return plugins


def write_plugins_zip(plugins: Path, wheelhouse: Path, folder: Path = PLUGINS_FOLDER) -> Path:
    """``plugins``: the files of the repo's plugins folder at its root (``airflow_local_settings.py``: MWAA's
    plugins folder is on ``sys.path``) and the wheels under ``wheels/``."""
    partial = plugins.with_suffix(".zip.part")
    files = [(path.name, path) for path in sorted(folder.glob("*.py"))]
    files += [(f"{WHEELS}/{wheel.name}", wheel) for wheel in sorted(wheelhouse.glob("*.whl"))]
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:  # wheels are zips
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    partial.replace(plugins)  # a stable zip: same files, same bytes, same S3 object version
    return plugins


def image_rule_problems(text: str, essential: Path = ESSENTIAL) -> list[str]:
    """What the MWAA image would do differently from what we mean with this requirements file."""
    problems = []
    scanned = [line for line in text.splitlines() if MWAA_CONSTRAINT_SCAN.search(line)]
    if scanned != [CONSTRAINT_LINE]:
        problems.append(f"the image's constraint scan must find only {CONSTRAINT_LINE!r}, found {scanned}")
    for option in ("--no-index", f"--find-links {PLUGINS_DIR}/{WHEELS}"):
        if option not in text.splitlines():
            problems.append(f"no {option!r} line: MWAA would install from the internet")
    enforced, locked = pins(essential.read_text(encoding="utf-8")), pins(text)
    for name, version in sorted(enforced.items()):
        if locked.get(name, version) != version:
            problems.append(f"{name}=={locked[name]}: MWAA enforces {name}=={version} (`make lock-mwaa`)")
    if locked.get("apache-airflow") != enforced["apache-airflow"]:
        problems.append(f"apache-airflow is not pinned to MWAA's {enforced['apache-airflow']}")
    return problems


def resolve_for_mwaa(requirements: Path, plugins: Path, essential: Path = ESSENTIAL) -> None:
    """pip (as the image runs it) resolves the file for CPython 3.12/manylinux against the wheels of
    plugins.zip alone: a dry run, since no 3.12 interpreter is here. Fails on any missing wheel."""
    with tempfile.TemporaryDirectory(prefix="tn-mwaa-plugins-") as tmp:
        with zipfile.ZipFile(plugins) as archive:
            archive.extractall(tmp)
        command = [
            sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--dry-run",
            "--ignore-installed", "--target", str(Path(tmp) / "target"), "--only-binary=:all:",
            *mwaa_platform_args(), "--no-index", "--find-links", str(Path(tmp) / WHEELS),
            "--constraint", str(essential), "-r", str(requirements),
        ]  # fmt: skip
        run_pip_install(command, essential)
    print(
        f"mwaa-wheelhouse: pip resolves {requirements.name} from plugins.zip alone for CPython {MWAA_PYTHON}/{MWAA_PLATFORM}"
    )


def install_locally(requirements: Path, dest: Path, venv: Path, essential: Path = ESSENTIAL) -> None:
    """The same file installed, ``--no-index``, into a venv of the local Python from a wheelhouse of the
    same pins for this platform (and the packages only this Python needs, e.g. backports)."""
    same = pins(requirements.read_text(encoding="utf-8"))
    only_pins, local = dest / "pins.txt", dest / "local-requirements.txt"
    only_pins.write_text("".join(f"{name}=={version}\n" for name, version in same.items()), encoding="utf-8")
    subprocess.run(
        [
            "uv", "pip", "compile", "--quiet", "--no-header", str(only_pins), "-o", str(local),
            "--python", sys.executable, "--constraint", str(essential),
        ],
        check=True,
    )  # fmt: skip
    local_pins = pins(local.read_text(encoding="utf-8"))
    moved = {
        name: (version, local_pins.get(name))
        for name, version in same.items()
        if local_pins.get(name) != version
    }
    if moved:
        raise SystemExit(f"mwaa-wheelhouse: on the local Python these pins move (MWAA, here): {moved}")
    extra = sorted(set(local_pins) - set(same))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    wheelhouse = dest / f"wheels-local-{version}"
    fill_wheelhouse(local, wheelhouse, [])
    subprocess.run(
        ["uv", "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)], check=True
    )  # nothing left over
    command = [
        sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(venv / "bin" / "python"),
        "install", "--quiet", "--no-index", "--find-links", str(wheelhouse),
        "--constraint", str(essential), "-r", str(requirements),
    ]  # fmt: skip
    run_pip_install(command, essential)  # what safe-pip-install runs, with the wheels of this platform
    print(
        f"mwaa-wheelhouse: {venv} (Python {version}) installed {len(same)} pins of {requirements.name} "
        f"--no-index from {wheelhouse.name}"
        + (f", and {len(extra)} for Python {version} only: {', '.join(extra)}" if extra else "")
    )


def check(dest: Path = OUT, venv: Path | None = None) -> int:
    requirements, plugins = dest / "requirements.txt", dest / "plugins.zip"
    for path in (requirements, plugins):
        if not path.is_file():
            print(f"mwaa-wheelhouse: {path} is missing: run `make mwaa-wheelhouse`", file=sys.stderr)
            return 1
    text = requirements.read_text(encoding="utf-8")
    if text != requirements_text():
        print(
            f"mwaa-wheelhouse: {requirements} is older than requirements-mwaa.txt: run `make mwaa-wheelhouse`",
            file=sys.stderr,
        )
        return 1
    problems = image_rule_problems(text)
    for line in problems:
        print(f"mwaa-wheelhouse: {line}", file=sys.stderr)
    if problems:
        return 1
    print("mwaa-wheelhouse: the image's rules hold (constraint scan, essential constraints, Airflow pin)")
    resolve_for_mwaa(requirements, plugins)
    if venv is not None:
        install_locally(requirements, dest, venv)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where plugins.zip and requirements.txt go (build/mwaa)"
    )
    parser.add_argument("--venv", type=Path, help="check: also install into this venv of the local Python")
    args = parser.parse_args(argv)
    if args.command == "build":
        build_plugins_zip(args.out)
        return 0
    try:
        return check(args.out, args.venv)
    except subprocess.CalledProcessError as exc:
        print(
            f"mwaa-wheelhouse: failed: {' '.join(map(str, exc.cmd[:6]))} ... (exit {exc.returncode})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

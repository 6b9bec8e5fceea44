"""Bring-your-own training scripts, with SageMaker's contract.

A script (one ``.py`` file, or a ``.zip`` of a project with an entry point) runs with:

- its channels as ``<root>/input/data/<channel>/data.parquet``, each folder named in
  ``SM_CHANNEL_<CHANNEL>``, their names in ``SM_CHANNELS`` (JSON);
- its hyperparameters in ``SM_HPS`` (JSON), in ``SM_HP_<NAME>``, in
  ``<root>/input/config/hyperparameters.json``, and as ``--name value`` arguments;
- ``SM_MODEL_DIR``: what it saves there becomes the job's ``model.tar.gz``;
- ``SM_OUTPUT_DATA_DIR``: other files to keep (``output.tar.gz``);
- ``SM_NUM_CPUS``, ``SM_NUM_GPUS``.

Its metrics are read from its output by the job's ``metric_definitions``: each a name and a
regular expression whose first group is the value, as SageMaker does.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MAX_SOURCE_BYTES = 50 * 1024 * 1024
MAX_UNPACKED_BYTES = 500 * 1024 * 1024
MAX_FILES = 5_000
MAX_DEFINITIONS = 40
NAME_RE = re.compile(r"^[A-Za-z0-9_.:/-]{1,200}$")
HP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


class ScriptError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _safe_member(name: str) -> PurePosixPath | None:
    """A zip member's path inside the code folder, or None where it would leave it."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or any(part in ("..", "") for part in path.parts[:-1]):
        return None
    if ".." in path.parts or not path.parts:
        return None
    return path


def check_source(filename: str, data: bytes, entry_point: str | None) -> tuple[str, str]:
    """The source's kind (``py`` or ``zip``) and its entry point, checked: a Python file
    must parse; a zip must open, stay within the size limits, keep its files inside the
    folder it unpacks to, and hold the entry point."""
    if len(data) > MAX_SOURCE_BYTES:
        raise ScriptError(f"The source is larger than {MAX_SOURCE_BYTES >> 20} MiB.", "source")
    lower = filename.lower()
    if lower.endswith(".py"):
        try:
            compile(data.decode("utf-8"), filename, "exec")
        except UnicodeDecodeError:
            raise ScriptError("The script is not UTF-8 text.", "source") from None
        except SyntaxError as exc:
            raise ScriptError(
                f"The script does not parse: {exc.msg} (line {exc.lineno}).", "source"
            ) from None
        if entry_point and entry_point != PurePosixPath(filename).name:
            raise ScriptError("A single .py file is its own entry point.", "entry_point")
        return "py", "train.py"
    if not lower.endswith(".zip"):
        raise ScriptError("The source is a .py file or a .zip of your code.", "source")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ScriptError("The source is not a valid zip file.", "source") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise ScriptError(f"The zip holds more than {MAX_FILES:,} files.", "source")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise ScriptError(
                f"The zip unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB.", "source"
            )
        names = set()
        for member in members:
            path = _safe_member(member.filename)
            if path is None:
                raise ScriptError(
                    f"The zip entry {member.filename!r} would land outside its folder.",
                    "source",
                )
            names.add(str(path))
    if not entry_point:
        raise ScriptError("Name the entry point: the .py file in the zip to run.", "entry_point")
    entry = _safe_member(entry_point)
    if entry is None or str(entry) not in names or entry.suffix != ".py":
        raise ScriptError(f"The zip has no Python file {entry_point!r}.", "entry_point")
    return "zip", str(entry)


def check_metric_definitions(value: Any) -> list[dict[str, str]]:
    """``[{"name", "regex"}]``: names unique, each regex with one group (the value)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ScriptError(
            'metric_definitions is a list of {"name", "regex"}.', "metric_definitions"
        )
    if len(value) > MAX_DEFINITIONS:
        raise ScriptError(f"At most {MAX_DEFINITIONS} metric definitions.", "metric_definitions")
    out, seen = [], set()
    for i, item in enumerate(value):
        where = f"metric_definitions.{i}"
        if not isinstance(item, dict) or set(item) != {"name", "regex"}:
            raise ScriptError('Each metric definition is {"name", "regex"}.', where)
        name, regex = item["name"], item["regex"]
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ScriptError(
                "A metric name is 1–200 letters, digits and _ . : / - (e.g. validation:acc).",
                f"{where}.name",
            )
        if name in seen:
            raise ScriptError(f"The metric {name!r} is defined twice.", f"{where}.name")
        seen.add(name)
        try:
            pattern = re.compile(regex) if isinstance(regex, str) else None
        except re.error as exc:
            raise ScriptError(f"The regex does not compile: {exc}.", f"{where}.regex") from None
        if pattern is None or pattern.groups < 1:
            raise ScriptError(
                "The regex needs a group around the value, e.g. val_acc=([0-9.]+).",
                f"{where}.regex",
            )
        out.append({"name": name, "regex": regex})
    return out


def check_hyperparameters(value: Any) -> dict[str, Any]:
    """A script's hyperparameters: names to numbers, text or booleans (passed as given)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ScriptError("hyperparameters is an object of name → value.", "hyperparameters")
    for name, item in value.items():
        if not isinstance(name, str) or not HP_NAME_RE.match(name):
            raise ScriptError(
                f"A hyperparameter name is a word of letters, digits, _ . - (got {name!r}).",
                "hyperparameters",
            )
        if not isinstance(item, str | int | float | bool) or (
            isinstance(item, float) and not math.isfinite(item)
        ):
            raise ScriptError(
                f"{name} must be a number, text or true/false.", f"hyperparameters.{name}"
            )
    return dict(value)


def _arg(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass
class Workspace:
    """The folders of one run, SageMaker-style, under ``root``."""

    root: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output" / "data"

    def channel(self, name: str) -> Path:
        return self.root / "input" / "data" / name


def prepare(
    root: Path,
    *,
    source: Path,
    kind: str,
    entry_point: str,
    channels: dict[str, Path],
    hyperparameters: dict[str, Any],
    cpus: int,
    gpus: int,
    python: str,
) -> tuple[Workspace, list[str], dict[str, str]]:
    """Lay out the run's folders (code, channels, config, model, output) and give the
    command and environment that run the entry point in them."""
    space = Workspace(root)
    for folder in (space.code, space.model, space.output, root / "input" / "config"):
        folder.mkdir(parents=True, exist_ok=True)
    if kind == "py":
        (space.code / entry_point).write_bytes(source.read_bytes())
    else:
        with zipfile.ZipFile(source) as archive:
            for member in archive.infolist():
                inside = _safe_member(member.filename)
                if member.is_dir() or inside is None:
                    continue
                dest = space.code.joinpath(*inside.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, dest.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
    for name, path in channels.items():
        folder = space.channel(name)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / "data.parquet")  # a copy: the script may write to it
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({k: _arg(v) for k, v in hyperparameters.items()})
    )
    env = {
        "SM_MODEL_DIR": str(space.model),
        "SM_OUTPUT_DATA_DIR": str(space.output),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_NUM_CPUS": str(cpus),
        "SM_NUM_GPUS": str(gpus),
        "SM_INPUT_DIR": str(root / "input"),
        "SM_MODULE_DIR": str(space.code),
        "OMP_NUM_THREADS": str(cpus),
    }
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(space.channel(name))
    for name, value in hyperparameters.items():
        env[f"SM_HP_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}"] = _arg(value)
    argv = [python, str(space.code / entry_point)]
    for name, value in hyperparameters.items():
        argv += [f"--{name}", _arg(value)]
    return space, argv, env


@dataclass
class MetricCapture:
    """Reads metric values out of a script's output lines, a step per value seen."""

    definitions: list[dict[str, str]]
    last: dict[str, float] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._patterns = [(d["name"], re.compile(d["regex"])) for d in self.definitions]

    def feed(self, line: str) -> list[tuple[str, float, int]]:
        found = []
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                try:
                    value = float(match.group(1))
                except (TypeError, ValueError):
                    continue
                if not math.isfinite(value):
                    continue
                step = self.steps.get(name, 0)
                self.steps[name] = step + 1
                self.last[name] = value
                found.append((name, value, step))
        return found


def package(folder: Path, dest: Path, metadata: dict[str, Any] | None = None) -> bool:
    """``folder``'s files as ``dest`` (tar.gz), with ``metadata.json`` unless the folder
    has its own; False (nothing written) where the folder is empty and no metadata."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    if not files and metadata is None:
        return False
    with tarfile.open(dest, "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        if metadata is not None and not (folder / "metadata.json").exists():
            data = json.dumps(metadata, indent=2).encode()
            info = tarfile.TarInfo("metadata.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return True

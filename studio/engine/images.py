"""Safely turn a ZIP of images into a folder of generated names plus a Parquet manifest.

Invariants:
- Member names are data, never paths: images are written as `images/000001.png` and the
  original name is kept only in the manifest's `source_name` column.
- A hostile archive is refused before anything is decompressed (traversal, links, declared
  sizes and ratios), and decompression is still counted byte by byte, since headers can lie.
- All or nothing: extraction happens in a temporary folder beside the destination that is
  renamed into place only once the manifest is written; on failure both are removed.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from studio.engine.contracts import ColumnSchema, IngestError, IngestResult
from studio.engine.progress import ProgressCallback, ThrottledProgress

IMAGE_EXTENSIONS: Final = frozenset({"jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"})
# Ratios are only judged above this size: tiny or flat images compress extremely well and
# are harmless, while the total-size limit still bounds many small members together.
ZIP_RATIO_FLOOR_BYTES: Final = 1 << 20
_COPY_CHUNK: Final = 1 << 20
_LABEL_MANIFEST_NAME: Final = "manifest.csv"

MANIFEST_SCHEMA: Final = pa.schema(
    [
        pa.field("image", pa.string(), nullable=False),
        pa.field("source_name", pa.string(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class _ImageRow:
    """One extracted, verified image as it will appear in the manifest."""

    image: str
    source_name: str
    label: str | None
    width: int
    height: int
    mode: str
    format: str
    size: int


def ingest_images_zip(
    src: Path,
    dest_dir: Path,
    manifest: Path,
    *,
    max_files: int = 100_000,
    max_total_bytes: int = 4 << 30,
    max_ratio: float = 200.0,
    max_member_bytes: int = 64 << 20,
    on_progress: ProgressCallback | None = None,
) -> IngestResult:
    """Safely extract a ZIP's images into `dest_dir` and describe them in a Parquet manifest.

    Images get generated names (`images/000001.png`); labels come from an optional
    `manifest.csv` (columns `file,label`) or else the member's parent folder. Corrupt images
    are skipped. Either both `dest_dir` and `manifest` appear complete, or neither does.
    """
    if src.stat().st_size == 0:
        raise IngestError("empty_file", "The file is empty.")
    if dest_dir.exists() and any(dest_dir.iterdir()):
        raise FileExistsError(f"{dest_dir} is not empty")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    progress = ThrottledProgress(on_progress)
    limits = _ZipLimits(max_files, max_total_bytes, max_ratio, max_member_bytes)
    work = Path(tempfile.mkdtemp(dir=dest_dir.parent, prefix=f".{dest_dir.name}.", suffix=".tmp"))
    fd, manifest_tmp_name = tempfile.mkstemp(
        dir=manifest.parent, prefix=f".{manifest.name}.", suffix=".tmp"
    )
    os.close(fd)
    manifest_tmp = Path(manifest_tmp_name)
    moved = False
    try:
        _check_entry_count(src, max_files)
        try:
            with zipfile.ZipFile(src) as archive:
                rows = _extract_images(archive, work, limits, progress)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise IngestError("bad_zip", f"The ZIP archive is damaged or unsupported: {exc}.")
        except RuntimeError as exc:
            # zipfile raises a bare RuntimeError for encrypted members.
            raise IngestError("bad_zip", f"The ZIP archive cannot be read: {exc}.")
        table = pa.table(
            {
                "image": [r.image for r in rows],
                "source_name": [r.source_name for r in rows],
                "label": [r.label for r in rows],
                "width": [r.width for r in rows],
                "height": [r.height for r in rows],
                "mode": [r.mode for r in rows],
                "format": [r.format for r in rows],
                "bytes": [r.size for r in rows],
            },
            schema=MANIFEST_SCHEMA,
        )
        pq.write_table(table, manifest_tmp)
        os.replace(work, dest_dir)
        moved = True
        os.replace(manifest_tmp, manifest)
    except BaseException:
        shutil.rmtree(dest_dir if moved else work, ignore_errors=True)
        manifest_tmp.unlink(missing_ok=True)
        raise
    progress(1.0)
    columns = tuple(
        ColumnSchema(name=f.name, dtype=str(f.type), nullable=table.column(f.name).null_count > 0)
        for f in MANIFEST_SCHEMA
    )
    return IngestResult(
        num_rows=table.num_rows, columns=columns, format="images", bytes_read=src.stat().st_size
    )


@dataclass(frozen=True)
class _ZipLimits:
    """Bounds that make a ZIP a bomb rather than a dataset."""

    max_files: int
    max_total_bytes: int
    max_ratio: float
    max_member_bytes: int


_EOCD: Final = b"PK\x05\x06"
_ZIP64_LOCATOR: Final = b"PK\x06\x07"
_ZIP64_EOCD: Final = b"PK\x06\x06"


def _check_entry_count(src: Path, max_files: int) -> None:
    """Refuse too many entries from the end-of-directory record, before zipfile reads them.

    zipfile builds an object per entry up front, so a directory of millions of entries
    would exhaust memory before `infolist()` could be counted.
    """
    size = src.stat().st_size
    with src.open("rb") as f:
        start = max(size - (65_535 + 22), 0)
        f.seek(start)
        tail = f.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) < at + 22:
            return  # not a zip: zipfile reports it
        (entries,) = struct.unpack_from("<H", tail, at + 10)
        locator = at - 20
        if entries == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
            (record_at,) = struct.unpack_from("<Q", tail, locator + 8)
            f.seek(record_at)
            record = f.read(56)
            if record[:4] == _ZIP64_EOCD and len(record) == 56:
                (entries,) = struct.unpack_from("<Q", record, 32)
    if entries > max_files:
        raise IngestError(
            "zip_bomb", f"The archive holds {entries} entries; at most {max_files} are allowed."
        )


def _extract_images(
    archive: zipfile.ZipFile, work: Path, limits: _ZipLimits, progress: ThrottledProgress
) -> list[_ImageRow]:
    members = archive.infolist()
    if len(members) > limits.max_files:
        raise IngestError(
            "zip_bomb",
            f"The archive holds {len(members)} entries; at most {limits.max_files} are allowed.",
        )
    wanted: list[zipfile.ZipInfo] = []
    label_manifest: zipfile.ZipInfo | None = None
    for info in members:
        _check_member_name(info)
        if info.is_dir() or _is_junk(info.filename):
            continue
        name = PurePosixPath(info.filename)
        if name.name.lower() == _LABEL_MANIFEST_NAME:
            if label_manifest is None or len(name.parts) < len(
                PurePosixPath(label_manifest.filename).parts
            ):
                label_manifest = info
            continue
        if _image_extension(info.filename) is not None:
            wanted.append(info)
    # Judge the declared sizes of everything we will decompress before decompressing any.
    to_read = [*wanted, *([label_manifest] if label_manifest else [])]
    declared = sum(i.file_size for i in to_read)
    if declared > limits.max_total_bytes:
        raise IngestError(
            "zip_bomb",
            f"The images would take {declared} bytes once extracted; "
            f"at most {limits.max_total_bytes} are allowed.",
        )
    for info in to_read:
        _check_member_size(info, limits)

    budget = _Budget(limits.max_total_bytes)
    labels = _read_label_manifest(archive, label_manifest, limits, budget)
    images_dir = work / "images"
    images_dir.mkdir()
    rows: list[_ImageRow] = []
    skipped = 0
    for position, info in enumerate(wanted, start=1):
        extension = _image_extension(info.filename)
        assert extension is not None
        relative = f"images/{len(rows) + 1:06d}.{extension}"
        target = work / relative
        size = _copy_member(archive, info, target, limits, budget)
        described = _describe_image(target)
        if described is None:
            target.unlink()
            skipped += 1
        else:
            width, height, mode, image_format = described
            rows.append(
                _ImageRow(
                    image=relative,
                    source_name=info.filename,
                    label=_label_for(info.filename, labels),
                    width=width,
                    height=height,
                    mode=mode,
                    format=image_format,
                    size=size,
                )
            )
        progress(position / len(wanted))
    if not rows:
        detail = f" ({skipped} could not be opened as images)" if skipped else ""
        raise IngestError(
            "no_images",
            f"The archive holds no readable images{detail}; supported types are "
            f"{', '.join(sorted(IMAGE_EXTENSIONS))}.",
        )
    return rows


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_member_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts or "\x00" in name:
        raise IngestError(
            "zip_traversal",
            f"The archive entry {name!r} points outside the archive; it was refused.",
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise IngestError(
            "zip_traversal", f"The archive entry {name!r} is a symbolic link; it was refused."
        )


def _is_junk(name: str) -> bool:
    """OS droppings that are never data: macOS resource forks, Finder and Explorer files."""
    parts = PurePosixPath(name).parts
    return (
        not parts
        or parts[0] == "__MACOSX"
        or parts[-1].startswith(".")
        or parts[-1].lower() in ("thumbs.db", "desktop.ini")
    )


def _image_extension(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    return suffix if suffix in IMAGE_EXTENSIONS else None


def _check_member_size(info: zipfile.ZipInfo, limits: _ZipLimits) -> None:
    if info.file_size > limits.max_member_bytes:
        raise IngestError(
            "zip_bomb",
            f"The entry {info.filename!r} is {info.file_size} bytes once extracted; "
            f"at most {limits.max_member_bytes} are allowed per file.",
        )
    if info.file_size > ZIP_RATIO_FLOOR_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise IngestError(
                "zip_bomb",
                f"The entry {info.filename!r} expands {ratio:.0f} times; "
                f"at most {limits.max_ratio:.0f} is allowed.",
            )


class _Budget:
    """Counts bytes actually decompressed, since a ZIP's declared sizes can lie."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise IngestError(
                "zip_bomb", f"The archive expands past {self.limit} bytes; it was refused."
            )


def _copy_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    limits: _ZipLimits,
    budget: _Budget,
) -> int:
    allowed = min(info.file_size, limits.max_member_bytes)
    written = 0
    with archive.open(info) as source, target.open("wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            budget.spend(len(chunk))
            if written > allowed:
                raise IngestError(
                    "zip_bomb",
                    f"The entry {info.filename!r} expands beyond its declared size; "
                    "the archive was refused.",
                )
            out.write(chunk)
    return written


def _read_label_manifest(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo | None,
    limits: _ZipLimits,
    budget: _Budget,
) -> dict[str, str | None]:
    """Map member names to labels from an optional `manifest.csv` with `file,label` columns."""
    if info is None:
        return {}
    data = bytearray()
    with archive.open(info) as source:
        while chunk := source.read(_COPY_CHUNK):
            data += chunk
            budget.spend(len(chunk))
            if len(data) > min(info.file_size, limits.max_member_bytes):
                raise IngestError("zip_bomb", "The manifest.csv expands beyond its declared size.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IngestError("bad_encoding", "The archive's manifest.csv is not UTF-8 text.")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"file", "label"} <= set(reader.fieldnames):
        return {}
    # Paths in the manifest may be written relative to the manifest's own folder.
    base = PurePosixPath(info.filename).parent
    labels: dict[str, str | None] = {}
    for row in reader:
        file_name = (row.get("file") or "").strip()
        if not file_name:
            continue
        label = (row.get("label") or "").strip() or None
        labels[file_name] = label
        labels.setdefault(str(base / file_name), label)
    return labels


def _label_for(name: str, labels: dict[str, str | None]) -> str | None:
    if name in labels:
        return labels[name]
    parent = PurePosixPath(name).parent.name
    return parent or None


def _describe_image(path: Path) -> tuple[int, int, str, str] | None:
    """Width, height, mode and format of a verified image, or None if PIL cannot trust it."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
            image_format = image.format or ""
            image.verify()
    except Exception:
        # Corrupt or hostile files make PIL's plugins raise assorted exception types
        # (OSError, SyntaxError, ValueError, DecompressionBombError, ...): all mean "skip".
        return None
    return width, height, mode, image_format

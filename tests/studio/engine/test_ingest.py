"""Ingestion engine: formats, type inference, errors and safe ZIP extraction (no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import os
import stat
import struct
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from studio.engine.contracts import IngestError
from studio.engine.ingest import (
    detect_format,
    ingest_images_zip,
    ingest_tabular,
    preview_parquet,
    sniff,
)

# ---------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def out_path(tmp_path: Path) -> Path:
    """A destination inside its own folder, so leftovers are easy to spot."""
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    return folder / "data.parquet"


def assert_nothing_left(dest: Path) -> None:
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def ingest_error(src: Path, fmt: str, dest: Path, **kwargs: int) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_tabular(src, fmt, dest, **kwargs)  # type: ignore[arg-type]
    assert_nothing_left(dest)
    return caught.value


def dtypes(dest: Path) -> dict[str, str]:
    return {f.name: str(f.type) for f in pq.read_schema(dest)}


def png_bytes(width: int, height: int, color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(tmp_path: Path, members: dict[str, bytes], name: str = "images.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def image_targets(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "store"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "images", folder / "manifest.parquet"


def zip_error(src: Path, tmp_path: Path, **limits: float) -> IngestError:
    dest_dir, manifest = image_targets(tmp_path)
    with pytest.raises(IngestError) as caught:
        ingest_images_zip(src, dest_dir, manifest, **limits)  # type: ignore[arg-type]
    assert list(dest_dir.parent.iterdir()) == []
    return caught.value


# ---------------------------------------------------------------- detect_format & sniff


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("A.CSV", "csv"),
        ("a.tsv", "tsv"),
        ("a.tab", "tsv"),
        ("a.parquet", "parquet"),
        ("a.PQ", "parquet"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("photos.Zip", "images"),
        ("../../etc/passwd.csv", "csv"),
    ],
)
def test_it_detects_the_format_from_the_suffix_alone(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["a.xlsx", "README", "archive.tar.gz", "csv"])
def test_it_rejects_unknown_extensions(name: str) -> None:
    with pytest.raises(IngestError) as caught:
        detect_format(name)
    assert caught.value.code == "unknown_format"


def test_sniff_rejects_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.csv", b""), "csv")
    assert caught.value.code == "empty_file"


def test_sniff_rejects_random_bytes_as_binary(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.csv", os.urandom(100_000)), "csv")
    assert caught.value.code == "binary_file"


def test_sniff_rejects_text_that_is_not_utf8_as_a_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.csv", "name\ncafé\n".encode("latin-1")), "csv")
    assert caught.value.code == "bad_encoding"


def test_sniff_names_utf16_text_as_a_bad_encoding_rather_than_binary(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.tsv", "a\tb\n1\t2\n".encode("utf-16")), "tsv")
    assert caught.value.code == "bad_encoding"


def test_sniff_accepts_a_bom_and_a_multibyte_character_cut_at_the_sample_edge(
    tmp_path: Path,
) -> None:
    # "é" is two bytes; place it so the 64 KiB sample ends between them.
    body = b"\xef\xbb\xbfa\n" + b"x" * (64 * 1024 - 6) + "é\n".encode() * 10
    sniff(write(tmp_path, "a.csv", body), "csv")


def test_sniff_checks_the_parquet_magic_at_both_ends(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": [1]}), good)
    sniff(good, "parquet")
    truncated = write(tmp_path, "bad.parquet", good.read_bytes()[:-10])
    with pytest.raises(IngestError) as caught:
        sniff(truncated, "parquet")
    assert caught.value.code == "bad_parquet"


def test_sniff_rejects_a_zip_that_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.zip", b"PK but not really"), "images")
    assert caught.value.code == "bad_zip"


def test_sniff_rejects_json_lines_that_are_not_objects(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        sniff(write(tmp_path, "a.jsonl", "[1, 2]\n"), "jsonl")
    assert caught.value.code == "bad_json"


# ---------------------------------------------------------------- CSV / TSV

MIXED_CSV = (
    "id,score,name,ok,day,at\n"
    "1,1.5,ann,true,2024-01-02,2024-01-02 10:00:00\n"
    ",2.5,bob,false,2024-01-03,2024-01-03T11:30:00\n"
    "3,,cy,true,,2024-01-04 12:00:00\n"
)


def test_it_converts_csv_keeping_true_types(tmp_path: Path) -> None:
    dest = out_path(tmp_path)
    result = ingest_tabular(write(tmp_path, "a.csv", MIXED_CSV), "csv", dest)
    assert result.num_rows == 3
    assert result.format == "csv"
    assert result.bytes_read == len(MIXED_CSV)
    assert [(c.name, c.dtype) for c in result.columns] == [
        ("id", "int64"),
        ("score", "double"),
        ("name", "string"),
        ("ok", "bool"),
        ("day", "date32[day]"),
        ("at", "timestamp[s]"),
    ]
    table = pq.read_table(dest)
    assert table.column("day").to_pylist()[0] == dt.date(2024, 1, 2)
    assert table.column("id").to_pylist() == [1, None, 3]


def test_it_keeps_integer_columns_with_gaps_as_int64(tmp_path: Path) -> None:
    result = ingest_tabular(write(tmp_path, "a.csv", MIXED_CSV), "csv", out_path(tmp_path))
    nullable = {c.name: c.nullable for c in result.columns}
    assert nullable["id"] is True
    assert nullable["name"] is False
    assert dtypes(out_path(tmp_path))["id"] == "int64"


def test_it_reads_empty_cells_as_missing_in_every_column_type(tmp_path: Path) -> None:
    dest = out_path(tmp_path)
    result = ingest_tabular(write(tmp_path, "a.csv", "n,s\n1,x\n,\n3,z\n"), "csv", dest)
    assert [c.nullable for c in result.columns] == [True, True]
    assert pq.read_table(dest).column("s").to_pylist() == ["x", None, "z"]


def test_it_converts_tsv(tmp_path: Path) -> None:
    dest = out_path(tmp_path)
    result = ingest_tabular(write(tmp_path, "a.tsv", "a\tb\n1\tx, y\n2\tz\n"), "tsv", dest)
    assert result.num_rows == 2
    assert pq.read_table(dest).column("b").to_pylist() == ["x, y", "z"]


def test_it_accepts_quoted_values_spanning_lines_and_a_bom(tmp_path: Path) -> None:
    body = '\ufeffa,b\n1,"two\nlines"\n2,plain\n'
    dest = out_path(tmp_path)
    result = ingest_tabular(write(tmp_path, "a.csv", body), "csv", dest)
    assert [c.name for c in result.columns] == ["a", "b"]
    assert pq.read_table(dest).column("b").to_pylist() == ["two\nlines", "plain"]


def late_change_csv(tmp_path: Path, late_value: str) -> Path:
    rows = "".join(f"{i},{i % 7}\n" for i in range(150_000))  # about 1.3 MB of ints
    return write(tmp_path, "late.csv", f"n,k\n{rows}{late_value},1\n7,1\n")


def test_it_restarts_with_a_string_column_when_a_late_value_is_not_a_number(
    tmp_path: Path,
) -> None:
    dest = out_path(tmp_path)
    result = ingest_tabular(late_change_csv(tmp_path, "x"), "csv", dest, block_size=64 << 10)
    assert result.num_rows == 150_002
    assert dtypes(dest) == {"n": "string", "k": "int64"}
    assert pq.read_table(dest).column("n").to_pylist()[-2:] == ["x", "7"]
    assert list(dest.parent.iterdir()) == [dest]


def test_it_restarts_with_a_double_column_when_a_late_value_is_a_float(tmp_path: Path) -> None:
    dest = out_path(tmp_path)
    result = ingest_tabular(late_change_csv(tmp_path, "1.5"), "csv", dest, block_size=64 << 10)
    assert dtypes(dest)["n"] == "double"
    assert {c.name: c.dtype for c in result.columns}["n"] == "double"
    assert pq.read_table(dest).column("n").to_pylist()[-2] == 1.5


def test_it_types_a_column_that_starts_empty_from_its_first_late_value(tmp_path: Path) -> None:
    rows = "".join(f"{i},\n" for i in range(20_000))
    src = write(tmp_path, "a.csv", f"a,b\n{rows}1,5\n2,6\n")
    dest = out_path(tmp_path)
    ingest_tabular(src, "csv", dest, block_size=16 << 10)
    assert dtypes(dest) == {"a": "int64", "b": "int64"}


def test_it_accepts_a_header_only_csv_as_zero_rows(tmp_path: Path) -> None:
    for body in ("a,b\n", "a,b"):
        dest = out_path(tmp_path)
        result = ingest_tabular(write(tmp_path, "h.csv", body), "csv", dest)
        assert result.num_rows == 0
        assert [(c.name, c.dtype) for c in result.columns] == [("a", "string"), ("b", "string")]
        assert pq.read_table(dest).num_rows == 0


def test_it_rejects_an_empty_file(tmp_path: Path) -> None:
    assert ingest_error(write(tmp_path, "a.csv", b""), "csv", out_path(tmp_path)).code == (
        "empty_file"
    )


def test_it_rejects_a_file_of_blank_lines(tmp_path: Path) -> None:
    error = ingest_error(write(tmp_path, "a.csv", "\n\n\n"), "csv", out_path(tmp_path))
    assert error.code == "empty_file"


def test_it_rejects_binary_junk_and_leaves_nothing_behind(tmp_path: Path) -> None:
    error = ingest_error(write(tmp_path, "a.csv", os.urandom(50_000)), "csv", out_path(tmp_path))
    assert error.code == "binary_file"


def test_it_reports_the_line_of_a_ragged_row(tmp_path: Path) -> None:
    src = write(tmp_path, "a.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8,9\n")
    error = ingest_error(src, "csv", out_path(tmp_path))
    assert error.code == "ragged_rows"
    assert error.message.startswith("Line 3 has 5 fields where the header has 4")


def test_it_reports_a_ragged_row_far_down_a_streamed_file(tmp_path: Path) -> None:
    rows = "".join(f"{i},x\n" for i in range(10_000))
    long_row = "1," + "y" * 300 + ",3"
    src = write(tmp_path, "a.csv", f"a,b\n{rows}{long_row}\n")
    error = ingest_error(src, "csv", out_path(tmp_path), block_size=8 << 10)
    assert error.code == "ragged_rows"
    assert error.message.startswith("Line 10002 has 3 fields where the header has 2")


def test_it_detects_a_quote_left_open_in_the_last_column(tmp_path: Path) -> None:
    src = write(tmp_path, "a.csv", 'a,b\n1,ok\n2,"oops\n3,fine\n')
    assert ingest_error(src, "csv", out_path(tmp_path)).code == "unterminated_quote"


def test_it_detects_a_quote_left_open_in_a_middle_column(tmp_path: Path) -> None:
    src = write(tmp_path, "a.csv", 'a,b,c\n1,"oops,3\n4,5,6\n')
    error = ingest_error(src, "csv", out_path(tmp_path))
    assert error.code == "unterminated_quote"
    assert "Line 2" in error.message


def test_it_detects_a_quote_left_open_across_blocks(tmp_path: Path) -> None:
    rows = "".join(f"{i},x\n" for i in range(5_000))
    src = write(tmp_path, "a.csv", f'a,b\n1,"oops\n{rows}')
    error = ingest_error(src, "csv", out_path(tmp_path), block_size=4 << 10)
    assert error.code == "unterminated_quote"


def test_it_rejects_duplicate_column_names(tmp_path: Path) -> None:
    error = ingest_error(write(tmp_path, "a.csv", "a,b,a\n1,2,3\n"), "csv", out_path(tmp_path))
    assert error.code == "duplicate_column"
    assert "'a'" in error.message


def test_it_rejects_an_empty_column_name(tmp_path: Path) -> None:
    error = ingest_error(write(tmp_path, "a.csv", "a,,c\n1,2,3\n"), "csv", out_path(tmp_path))
    assert error.code == "empty_column_name"


def test_it_rejects_invalid_utf8_further_down_the_file(tmp_path: Path) -> None:
    rows = "".join(f"{i},text\n" for i in range(5_000)).encode()
    src = write(tmp_path, "a.csv", b"a,b\n" + rows + b"1,caf\xe9\n")
    error = ingest_error(src, "csv", out_path(tmp_path), block_size=4 << 10)
    assert error.code == "bad_encoding"


def test_it_rejects_invalid_utf8_in_the_first_block(tmp_path: Path) -> None:
    src = write(tmp_path, "a.csv", b"a,b\n1,caf\xe9\n")
    assert ingest_error(src, "csv", out_path(tmp_path)).code == "bad_encoding"


def test_it_reports_progress_as_a_rising_fraction_ending_at_one(tmp_path: Path) -> None:
    seen: list[float] = []
    rows = "".join(f"{i},{i}\n" for i in range(50_000))
    src = write(tmp_path, "a.csv", f"a,b\n{rows}")
    # pyarrow reads a few dozen blocks ahead, so keep blocks small next to the file.
    ingest_tabular(src, "csv", out_path(tmp_path), on_progress=seen.append, block_size=4 << 10)
    assert len(seen) > 3
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_it_replaces_an_existing_destination_only_when_done(tmp_path: Path) -> None:
    dest = out_path(tmp_path)
    dest.write_bytes(b"old")
    with pytest.raises(IngestError):
        ingest_tabular(write(tmp_path, "a.csv", "a,b\n1\n"), "csv", dest)
    assert dest.read_bytes() == b"old"
    assert list(dest.parent.iterdir()) == [dest]


# ---------------------------------------------------------------- JSON Lines


def test_it_converts_json_lines_keeping_types(tmp_path: Path) -> None:
    body = (
        '{"id": 1, "name": "ann", "ok": true, "at": "2024-01-02T10:00:00", "tags": ["a"]}\n'
        "\n"
        '{"id": null, "name": "bob", "ok": false, "at": "2024-01-03T10:00:00", "tags": []}\n'
    )
    dest = out_path(tmp_path)
    result = ingest_tabular(write(tmp_path, "a.jsonl", body), "jsonl", dest)
    assert result.num_rows == 2
    assert {c.name: c.dtype for c in result.columns} == {
        "id": "int64",
        "name": "string",
        "ok": "bool",
        "at": "timestamp[s]",
        "tags": "list<item: string>",
    }
    assert {c.name: c.nullable for c in result.columns}["id"] is True


def test_it_unifies_json_chunks_that_add_fields_or_widen_types(tmp_path: Path) -> None:
    early = "".join(f'{{"n": {i}, "at": "2024-01-01T00:00:00"}}\n' for i in range(3_000))
    late = '{"n": 2.5, "at": "soon", "extra": "x"}\n'
    dest = out_path(tmp_path)
    result = ingest_tabular(
        write(tmp_path, "a.jsonl", early + late), "jsonl", dest, block_size=8 << 10
    )
    assert result.num_rows == 3_001
    assert dtypes(dest) == {"n": "double", "at": "string", "extra": "string"}
    table = pq.read_table(dest)
    assert table.column("at").to_pylist()[0] == "2024-01-01T00:00:00"
    assert table.column("extra").null_count == 3_000


def test_it_reports_the_line_of_bad_json(tmp_path: Path) -> None:
    src = write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": 2\n{"a": 3}\n')
    error = ingest_error(src, "jsonl", out_path(tmp_path))
    assert error.code == "bad_json"
    assert error.message.startswith("Line 3 is not valid JSON")


def test_it_reads_json_lines_longer_than_a_block(tmp_path: Path) -> None:
    long_line = json.dumps({"a": 1, "text": "y" * 50_000}) + "\n"
    src = write(tmp_path, "a.jsonl", long_line + '{"a": 2, "text": "short"}\n' + long_line)
    result = ingest_tabular(src, "jsonl", out_path(tmp_path), block_size=4 << 10)
    assert result.num_rows == 3


def test_it_reports_bad_json_in_a_later_chunk_with_its_file_line(tmp_path: Path) -> None:
    good = "".join(f'{{"a": {i}}}\n' for i in range(2_000))
    src = write(tmp_path, "a.jsonl", good + "{oops}\n")
    error = ingest_error(src, "jsonl", out_path(tmp_path), block_size=4 << 10)
    assert error.code == "bad_json"
    assert "Line 2001" in error.message


def test_it_rejects_a_json_field_that_mixes_numbers_and_text(tmp_path: Path) -> None:
    src = write(tmp_path, "a.jsonl", '{"a": 1}\n{"a": "x"}\n')
    error = ingest_error(src, "jsonl", out_path(tmp_path))
    assert error.code == "bad_json"
    assert "'a'" in error.message


def test_it_rejects_invalid_utf8_in_json(tmp_path: Path) -> None:
    src = write(tmp_path, "a.jsonl", b'{"a": "caf\xe9"}\n')
    assert ingest_error(src, "jsonl", out_path(tmp_path)).code == "bad_encoding"


def test_it_rejects_json_lines_with_no_objects(tmp_path: Path) -> None:
    assert ingest_error(write(tmp_path, "a.jsonl", "\n \n"), "jsonl", out_path(tmp_path)).code == (
        "empty_file"
    )


# ---------------------------------------------------------------- Parquet


def test_it_normalizes_parquet_row_group_by_row_group(tmp_path: Path) -> None:
    table = pa.table(
        {
            "n": pa.array([1, None, 3] * 1000, pa.int64()),
            "s": pa.array(["a", "b", "c"] * 1000, pa.large_string()),
            "cat": pa.array(["x", "y", "x"] * 1000).dictionary_encode(),
            "day": pa.array([dt.date(2024, 1, 1)] * 3000, pa.date32()),
        }
    )
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=500)
    dest = out_path(tmp_path)
    result = ingest_tabular(src, "parquet", dest)
    assert result.num_rows == 3000
    assert [(c.name, c.dtype, c.nullable) for c in result.columns] == [
        ("n", "int64", True),
        ("s", "string", False),
        ("cat", "string", False),
        ("day", "date32[day]", False),
    ]
    assert pq.read_table(dest).column("cat").to_pylist()[:3] == ["x", "y", "x"]


def test_it_rejects_a_damaged_parquet_file(tmp_path: Path) -> None:
    src = write(tmp_path, "a.parquet", b"PAR1" + os.urandom(2_000) + b"PAR1")
    assert ingest_error(src, "parquet", out_path(tmp_path)).code == "bad_parquet"


def test_it_rejects_csv_bytes_named_parquet(tmp_path: Path) -> None:
    src = write(tmp_path, "a.parquet", "a,b\n1,2\n")
    assert ingest_error(src, "parquet", out_path(tmp_path)).code == "bad_parquet"


# ---------------------------------------------------------------- preview


def test_preview_returns_json_safe_values_and_honours_the_limit(tmp_path: Path) -> None:
    table = pa.table(
        {
            "f": [1.5, float("nan"), float("inf")],
            "day": [dt.date(2024, 1, 2)] * 3,
            "at": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)] * 3, pa.timestamp("ns")),
            "raw": [b"\x00\x01", b"", None],
            "money": pa.array([decimal.Decimal("1.25")] * 3, pa.decimal128(5, 2)),
            "nested": [{"x": [1, 2]}] * 3,
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=2)
    names, rows = preview_parquet(path, limit=2)
    assert names == ["f", "day", "at", "raw", "money", "nested"]
    assert rows == [
        [1.5, "2024-01-02", "2024-01-02T03:04:05", "<2 bytes>", 1.25, {"x": [1, 2]}],
        [None, "2024-01-02", "2024-01-02T03:04:05", "<0 bytes>", 1.25, {"x": [1, 2]}],
    ]
    json.dumps(preview_parquet(path)[1], allow_nan=False)


# ---------------------------------------------------------------- images


def test_it_extracts_images_from_class_folders_under_generated_names(tmp_path: Path) -> None:
    src = make_zip(
        tmp_path,
        {
            "cats/1.png": png_bytes(4, 3),
            "cats/2.PNG": png_bytes(5, 5),
            "dogs/a.png": png_bytes(2, 8),
            "loose.png": png_bytes(1, 1),
            "__MACOSX/cats/._1.png": b"junk",
            "cats/.DS_Store": b"junk",
            "notes.txt": b"not an image",
        },
    )
    dest_dir, manifest = image_targets(tmp_path)
    result = ingest_images_zip(src, dest_dir, manifest)
    assert result.format == "images"
    assert result.num_rows == 4
    rows = pq.read_table(manifest).to_pylist()
    by_source = {r["source_name"]: r for r in rows}
    assert set(by_source) == {"cats/1.png", "cats/2.PNG", "dogs/a.png", "loose.png"}
    assert by_source["cats/2.PNG"]["label"] == "cats"
    assert by_source["loose.png"]["label"] is None
    assert (by_source["dogs/a.png"]["width"], by_source["dogs/a.png"]["height"]) == (2, 8)
    assert (by_source["cats/1.png"]["format"], by_source["cats/1.png"]["mode"]) == ("PNG", "RGB")
    assert sorted(r["image"] for r in rows) == [f"images/00000{i}.png" for i in range(1, 5)]
    for row in rows:
        assert (dest_dir / row["image"]).stat().st_size == row["bytes"]
    assert [(c.name, c.dtype) for c in result.columns] == [
        ("image", "string"),
        ("source_name", "string"),
        ("label", "string"),
        ("width", "int32"),
        ("height", "int32"),
        ("mode", "string"),
        ("format", "string"),
        ("bytes", "int64"),
    ]
    assert {c.name: c.nullable for c in result.columns}["label"] is True
    assert sorted(p.name for p in dest_dir.parent.iterdir()) == ["images", "manifest.parquet"]


def test_it_takes_labels_from_a_manifest_csv_when_present(tmp_path: Path) -> None:
    src = make_zip(
        tmp_path,
        {
            "data/manifest.csv": b"file,label\nx.png,spam\ny.png,\n",
            "data/x.png": png_bytes(2, 2),
            "data/y.png": png_bytes(2, 2),
        },
    )
    dest_dir, manifest = image_targets(tmp_path)
    ingest_images_zip(src, dest_dir, manifest)
    labels = {r["source_name"]: r["label"] for r in pq.read_table(manifest).to_pylist()}
    assert labels == {"data/x.png": "spam", "data/y.png": None}


def test_it_skips_corrupt_images_and_fails_when_none_are_readable(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {"a/ok.png": png_bytes(3, 3), "a/bad.png": b"\x89PNG broken"})
    dest_dir, manifest = image_targets(tmp_path)
    assert ingest_images_zip(src, dest_dir, manifest).num_rows == 1
    assert len(list((dest_dir / "images").iterdir())) == 1

    only_bad = make_zip(tmp_path, {"a/bad.png": b"\x89PNG broken"}, name="bad.zip")
    error = zip_error(only_bad, tmp_path / "second")
    assert error.code == "no_images"


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "/abs.png", "C:\\x.png"])
def test_it_refuses_member_names_that_escape_the_archive(tmp_path: Path, name: str) -> None:
    src = make_zip(tmp_path, {"ok/1.png": png_bytes(2, 2), name: png_bytes(2, 2)})
    assert zip_error(src, tmp_path).code == "zip_traversal"
    assert not (tmp_path / "evil.png").exists()


def test_it_refuses_symbolic_links(tmp_path: Path) -> None:
    src = tmp_path / "links.zip"
    with zipfile.ZipFile(src, "w") as archive:
        archive.writestr("ok/1.png", png_bytes(2, 2))
        link = zipfile.ZipInfo("ok/2.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert zip_error(src, tmp_path).code == "zip_traversal"


def test_it_refuses_a_member_with_a_suspicious_compression_ratio(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {"a/1.png": png_bytes(2, 2), "a/bomb.png": bytes(8 << 20)})
    error = zip_error(src, tmp_path)
    assert error.code == "zip_bomb"
    assert "bomb.png" in error.message


def test_it_refuses_archives_past_the_total_size_limit(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {f"a/{i}.png": png_bytes(20, 20) for i in range(3)})
    assert zip_error(src, tmp_path, max_total_bytes=150).code == "zip_bomb"


def test_it_refuses_archives_with_too_many_entries(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {f"a/{i}.png": png_bytes(2, 2) for i in range(3)})
    error = zip_error(src, tmp_path, max_files=2)
    assert error.code == "zip_bomb"
    assert "3 entries" in error.message


def test_it_counts_entries_of_zip64_archives(tmp_path: Path) -> None:
    src = tmp_path / "big.zip"
    with zipfile.ZipFile(src, "w") as archive:
        for i in range(70_000):  # past 65,535 entries the count lives in the ZIP64 record
            archive.writestr(f"{i}.txt", b"")
    assert "70000 entries" in zip_error(src, tmp_path, max_files=69_999).message


def test_it_refuses_a_member_past_the_per_file_limit(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {"a/big.png": png_bytes(64, 64)})
    assert zip_error(src, tmp_path, max_member_bytes=50).code == "zip_bomb"


def test_it_never_trusts_a_header_that_understates_the_size(tmp_path: Path) -> None:
    src = make_zip(tmp_path, {"a/1.png": png_bytes(30, 30)})
    data = bytearray(src.read_bytes())
    # Patch the declared uncompressed size in both the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        struct.pack_into("<I", data, at, 10)
    src.write_bytes(bytes(data))
    assert zip_error(src, tmp_path).code in {"zip_bomb", "bad_zip"}


def test_it_rejects_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    src = write(tmp_path, "a.zip", os.urandom(1_000))
    assert zip_error(src, tmp_path).code == "bad_zip"

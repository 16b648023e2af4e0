"""Readers: every supported file kind gives the same rows; every error names file and line."""

import gzip
import json

import pytest

from alignkit.data.formats import text_of
from alignkit.data.readers import read_rows
from alignkit.errors import UserError

RECORDS = [{"text": "first document"}, {"text": "第二个文档"}, {"text": "third, with a comma"}]


def write_all_kinds(directory):
    """The same three records in every format we read."""
    (directory / "a.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    (directory / "a.json").write_text(json.dumps(RECORDS, ensure_ascii=False))
    (directory / "a.csv").write_text('text\nfirst document\n第二个文档\n"third, with a comma"\n')
    (directory / "a.tsv").write_text("text\nfirst document\n第二个文档\nthird, with a comma\n")
    (directory / "a.txt").write_text("first document\n\n第二个文档\nthird, with a comma\n")
    with gzip.open(directory / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(RECORDS), directory / "a.parquet")


def test_every_format_reads_the_same_rows(tmp_path):
    write_all_kinds(tmp_path)
    for name in ["a.jsonl", "a.json", "a.csv", "a.tsv", "a.txt", "b.jsonl.gz", "a.parquet"]:
        rows = read_rows(tmp_path / name)
        assert [text_of(r) for r in rows] == [r["text"] for r in RECORDS], name


def test_a_directory_reads_every_file_in_order(tmp_path):
    write_all_kinds(tmp_path)
    rows = read_rows(tmp_path)
    assert len(rows) == 7 * len(RECORDS)
    assert rows[0].source.endswith("a.csv:2")


def test_datasets_save_to_disk_directory(tmp_path):
    import datasets  # a test-only dependency: the reader itself needs only pyarrow

    datasets.Dataset.from_list(RECORDS).save_to_disk(str(tmp_path / "ds"))
    assert [text_of(r) for r in read_rows(tmp_path / "ds")] == [r["text"] for r in RECORDS]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(RECORDS)}).save_to_disk(str(tmp_path / "dd"))
    assert len(read_rows(tmp_path / "dd")) == 3


def test_content_field_and_named_field(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"content": "hello"}\n{"body": "x", "content": "world"}\n')
    rows = read_rows(path)
    assert [text_of(r) for r in rows] == ["hello", "world"]
    assert text_of(rows[1], "body") == "x"


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:2: not valid JSON"):
        read_rows(path)


def test_missing_text_field_names_file_line_and_found_fields(tmp_path):
    path = tmp_path / "fields.jsonl"
    path.write_text('{"text": "ok"}\n\n{"body": "no text here"}\n')
    rows = read_rows(path)
    with pytest.raises(UserError, match=r"fields\.jsonl:3: expected a 'text' \(or 'content'\).*found fields: body"):
        [text_of(r) for r in rows]


def test_non_string_text_is_an_error(tmp_path):
    path = tmp_path / "n.json"
    path.write_text('[{"text": "a"}, {"text": 5}]')
    rows = read_rows(path)
    with pytest.raises(UserError, match=r"n\.json: row 2: field 'text' should be a string"):
        [text_of(r) for r in rows]


def test_empty_missing_and_unsupported_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(UserError, match=r"empty\.jsonl: no rows"):
        read_rows(tmp_path / "empty.jsonl")
    with pytest.raises(UserError, match=r"nothere\.jsonl: no such file"):
        read_rows(tmp_path / "nothere.jsonl")
    (tmp_path / "x.xml").write_text("<a/>")
    with pytest.raises(UserError, match=r"x\.xml: unsupported file type"):
        read_rows(tmp_path / "x.xml")


def test_csv_with_too_many_fields_names_the_line(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("text\nfine\ntoo,many\n")
    with pytest.raises(UserError, match=r"wide\.csv:3: more fields than the header"):
        read_rows(path)


def test_json_not_a_list_of_objects(tmp_path):
    path = tmp_path / "l.json"
    path.write_text('["just", "strings"]')
    with pytest.raises(UserError, match=r"l\.json: row 1: expected a JSON object"):
        read_rows(path)

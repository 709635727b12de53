"""The CSV reader under the imports: line numbers, offsets to resume from, and header errors."""

from pathlib import Path

import pytest

from admin.csv_input import Columns, CsvFile
from admin.errors import EXIT_DATA, EXIT_NO_INPUT, AdminError

COLUMNS = Columns(required=("id", "note"), optional=("extra",))


def test_rows_know_their_lines_across_quoted_line_breaks_and_chunks_resume_by_offset(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b'\xef\xbb\xbfid,note\n1,plain\n2,"two\nlines"\n\n3,\xff\xfe\n4,last\n')
    file = CsvFile(path, COLUMNS)
    assert file.header == ["id", "note"]

    chunks = list(file.chunks(offset=0, line=1, rows_max=2))

    assert [chunk.lines for chunk in chunks] == [[2, 3], [6, 7]]
    assert chunks[0].rows[1] == ["2", "two\nlines"]
    assert chunks[1].undecodable_lines == {6}
    resumed = list(file.chunks(offset=chunks[0].end_offset, line=chunks[0].end_line, rows_max=10))
    assert [(c.lines, c.rows) for c in resumed] == [([6, 7], chunks[1].rows)]
    assert resumed[0].end_offset == path.stat().st_size


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the first line must be a header"),
        (b"id,note,id\n", "names the column 'id' twice"),
        (b"id,notes\n", "unknown column 'notes'"),
        (b"id,extra\n", "lacks the required column 'note'"),
    ],
)
def test_a_bad_header_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(content)
    with pytest.raises(AdminError) as error:
        CsvFile(path, COLUMNS)
    assert error.value.exit_code == EXIT_DATA
    assert message in error.value.message


def test_a_missing_file_is_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(AdminError) as error:
        CsvFile(tmp_path / "absent.csv", COLUMNS)
    assert error.value.exit_code == EXIT_NO_INPUT

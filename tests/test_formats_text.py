"""The bridge text format in detail: what MATLAB's fprintf lines produce, and every bad line.

The README's few-line MATLAB writer is reproduced here as the text it prints, so the format it
documents is the format bridge reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge import _formats as formats
from bridge.errors import FileFormatError


def _read(tmp_path, text: str, name: str = "job.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return formats.read(path)


def _error(tmp_path, text: str) -> str:
    with pytest.raises(FileFormatError) as caught:
        _read(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message and "job.txt" in message
    return message


def test_what_the_readme_fprintf_lines_print(tmp_path):
    # fprintf(f, '%% op conv2\n%% shape same\n');
    # fprintf(f, '%% A double %d %d\n', size(A));
    # fprintf(f, [repmat(' %.17g', 1, size(A,2)) '\n'], A.');   (each row starts with a space)
    text = (
        "% op conv2\n% shape same\n"
        "% A double 2 3\n 1 2 3\n 0.10000000000000001 NaN -Inf\n"
        "% B double 1 1\n 2\n"
    )
    variables, request = _read(tmp_path, text)
    assert request == {"op": "conv2", "shape": "same"}
    assert np.array_equal(
        variables["A"].array(), [[1, 2, 3], [0.1, np.nan, -np.inf]], equal_nan=True
    )
    assert variables["B"].size == (1, 1)


def test_comments_blank_lines_and_windows_line_ends(tmp_path):
    text = "% written by my script\r\n\r\n% A int16 1 2\r\n-3 4\r\n\r\n% another comment\r\n"
    variables, request = _read(tmp_path, text)
    assert request == {}
    assert variables["A"].array().tolist() == [[-3, 4]] and variables["A"].matlab_class == "int16"


def test_nd_arrays_are_the_rows_of_the_reshaped_matrix(tmp_path):
    # MATLAB: A = reshape(1:12, 2, 3, 2); the rows of reshape(A, 2, []) are 1 3 5 7 9 11 / 2 4 ...
    text = "% A double 2 3 2\n1 3 5 7 9 11\n2 4 6 8 10 12\n"
    got = _read(tmp_path, text)[0]["A"].array()
    assert np.array_equal(got, np.arange(1.0, 13).reshape((2, 3, 2), order="F"))


def test_complex_is_real_rows_then_imaginary_rows(tmp_path):
    text = "% z single complex 2 1\n1\n2\n-1\nInf\n"
    got = _read(tmp_path, text)[0]["z"]
    assert got.complex and got.array().dtype == np.complex64
    assert np.array_equal(got.array().real, [[1], [2]]) and np.array_equal(
        got.array().imag, [[-1], [np.inf]]
    )


def test_64_bit_integers_are_exact(tmp_path):
    text = (
        "% i int64 1 2\n-9223372036854775808 9223372036854775807\n"
        "% u uint64 1 1\n18446744073709551615\n"
    )
    variables, _ = _read(tmp_path, text)
    assert variables["i"].array().tolist() == [[-(2**63), 2**63 - 1]]
    assert variables["u"].array().tolist() == [[2**64 - 1]]


def test_empty_arrays_have_no_rows_and_may_have_blank_lines(tmp_path):
    # MATLAB's fprintf prints the bare '\n' of an empty row format once.
    variables, _ = _read(tmp_path, "% E double 3 0\n\n% F logical 0 2\n")
    assert variables["E"].array().shape == (3, 0) and variables["F"].array().dtype == np.bool_


def test_python_writes_nan_and_inf_as_matlab_does(tmp_path):
    path = tmp_path / "out.txt"
    formats.write(path, {"C": np.array([[np.nan, np.inf, -np.inf, -0.0]])})
    assert path.read_text().splitlines()[-1] == "NaN Inf -Inf -0"


def test_single_uses_nine_digits_and_double_seventeen(tmp_path):
    path = tmp_path / "out.txt"
    formats.write(path, {"s": np.array([[1 / 3]], np.float32), "d": np.array([[1 / 3]])})
    lines = path.read_text().splitlines()
    assert lines[lines.index("% s single 1 1") + 1] == "0.333333343"
    assert lines[lines.index("% d double 1 1") + 1] == "0.33333333333333331"


def test_numbers_after_a_comment_without_header_are_refused_with_the_format(tmp_path):
    # Headerless numbers are one matrix (bridge._formats.delimited); after a '%' line they are a
    # bridge text file that lacks its header.
    message = _error(tmp_path, "% my data\n1 2\n3 4\n")
    assert "line 2" in message and "'% NAME CLASS [complex] SIZE...'" in message


def test_a_file_of_comments_only_is_refused(tmp_path):
    assert "holds no arrays" in _error(tmp_path, "% nothing here\n")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("% A double 2 2\n1 2\n", ["'A'", "announces 2 rows of 2 numbers", "found 1 rows"]),
        ("% A double 2 2\n1 2\n3 4\n5 6\n", ["'A'", "found more (line 4 is one too many)"]),
        ("% A double 1 3\n1 2\n", ["line 2", "expected 3 numbers, found 2"]),
        ("% A double 1 2\n1 x\n", ["line 2", "'x' is not a number as MATLAB writes it"]),
        ("% A uint8 1 2\n1 256\n", ["line 2", "'256' does not fit uint8 (0..255)"]),
        ("% A int32 1 1\n1.5\n", ["'1.5' is not an integer as MATLAB writes it"]),
        ("% A logical 1 2\n1 2\n", ["'2' does not fit logical (0 or 1)"]),
        ("% A dobule 1 2\n1 2\n", ["class 'dobule'", "must be one of double, single"]),
        ("% A char 1 2\n1 2\n", ["class 'char'"]),
        ("% A double 3\n1\n", ["needs a size"]),
        ("% A double complex\n", ["needs a size"]),
        ("% 2A double 1 1\n1\n", ["'2A' is not a valid MATLAB variable name"]),
        ("% A double 1 1\n1\n% A double 1 1\n2\n", ["'A' is defined twice"]),
        ("% op conv 2\n% A double 1 1\n1\n", ["'% op VALUE'"]),
        ("% A double complex 1 1\n1\n", ["announces 2 rows", "complex"]),
        ("% A double 1 2\n1_0 2\n", ["'1_0' is not a number"]),
        ("% A int8 1 2\n1_0 2\n", ["'1_0' is not an integer"]),
        ("% A double 1 2\n0x10 2\n", ["'0x10' is not a number"]),
        ("% A double 1 2\n\uff11 2\n", ["is not a number"]),
        ("% A double 1 2\n1 infinity\n", ["'infinity' is not a number"]),
        ("% A double 1 \u00b2\n1\n", ["needs a size"]),
        ("% A double 0 99999999999999999999\n", ["beyond MATLAB's limits"]),
        ("% A double 30000000 30000000\n", ["beyond MATLAB's limits"]),
        ("% A double " + "1 " * 40 + "\n1\n", ["beyond MATLAB's limits"]),
        ("% A double 1 3\n1,,2\n", ["line 2", "one number between each two commas"]),
        ("% A double 1 3\n1, 2 3\n", ["line 2", "one number between each two commas"]),
    ],
    ids=[
        "missing-row",
        "extra-row",
        "short-row",
        "not-a-number",
        "uint8-overflow",
        "fraction-for-int",
        "logical-2",
        "class-typo",
        "char-class",
        "one-size",
        "no-size",
        "bad-name",
        "duplicate",
        "request-two-words",
        "complex-without-imaginary-rows",
        "underscore",
        "underscore-int",
        "hex",
        "fullwidth-digit",
        "infinity",
        "superscript-size",
        "size-beyond-int64",
        "size-beyond-2^48",
        "40-dimensions",
        "empty-csv-field",
        "mixed-separators",
    ],
)
def test_bad_text_files(tmp_path, text, fragments):
    message = _error(tmp_path, text)
    for fragment in fragments:
        assert fragment in message


def test_not_utf8(tmp_path):
    path = tmp_path / "job.txt"
    path.write_bytes(b"% A double 1 1\n\xff\xfe1\n")
    with pytest.raises(FileFormatError, match="invalid UTF-8"):
        formats.read(path)


def test_a_utf8_byte_order_mark_is_not_text(tmp_path):
    path = tmp_path / "job.txt"
    path.write_bytes("\ufeff% A double 1 2\n1 2\n% B double 1 1\n3\n".encode())
    variables, _ = formats.read(path)
    assert variables["A"].data.tolist() == [[1.0, 2.0]]


def test_comma_separated_rows_as_dlmwrite_writes_them(tmp_path):
    path = tmp_path / "job.txt"
    path.write_text("% A double 2 3\n1,2,3\n4, -5e-1 ,NaN\n% B int8 1 2\n-1,\t2\n")
    variables, _ = formats.read(path)
    np.testing.assert_array_equal(variables["A"].data, [[1, 2, 3], [4, -0.5, np.nan]])
    assert variables["B"].data.tolist() == [[-1, 2]]


def test_the_number_syntax_matlab_writes(tmp_path):
    path = tmp_path / "job.txt"
    tokens = ["1", "-2.5", "+3", ".5", "5.", "1e5", "-1E-05", "NaN", "-Inf", "inf", "nan", "0"]
    path.write_text(f"% A double 1 {len(tokens)}\n{' '.join(tokens)}\n")
    got = formats.read(path)[0]["A"].data
    want = [1, -2.5, 3, 0.5, 5, 1e5, -1e-5, np.nan, -np.inf, np.inf, np.nan, 0]
    np.testing.assert_array_equal(got, [want])


def test_an_empty_array_of_a_huge_size_allocates_nothing(tmp_path):
    path = tmp_path / "job.txt"
    path.write_text("% A double 0 2147483647\n% B double 1 1\n2\n")
    variables, _ = formats.read(path)
    assert variables["A"].size == (0, 2147483647) and variables["A"].data.nbytes == 0


@pytest.mark.slow
def test_many_arrays_read_in_linear_time(tmp_path):
    # 100,000 arrays (2 MB): the duplicate-name check was quadratic (over a minute).
    path = tmp_path / "job.txt"
    path.write_text("".join(f"% A{k} double 1 1\n{k}\n" for k in range(100_000)))
    variables, _ = formats.read(path)
    assert len(variables) == 100_000 and variables["A99999"].data.tolist() == [[99999.0]]

"""Class names sort as people read them ('2' before '10'), and no name can make the sort raise: a
5,000-digit number (beyond Python's int-string limit; found by the CSV fuzz) and digits that are
isdigit() but not decimal ('²') sort like any other name."""
from hypothesis import given, strategies as st

from cnn_studio.data._util import natural_key


def test_numbers_sort_as_numbers_and_huge_or_odd_digits_do_not_raise():
    names = ["10", "2", "class10", "class9", "x\u00b2", "9" * 5000, "007", "\u0663"]
    ordered = sorted(names, key=natural_key)
    assert ordered.index("2") < ordered.index("\u0663") < ordered.index("007") < ordered.index("10") < ordered.index("9" * 5000)
    assert ordered.index("class9") < ordered.index("class10")


@given(st.lists(st.text(max_size=30) | st.integers(0, 10**60).map(str), max_size=20))
def test_any_names_sort_and_small_numbers_keep_their_order(names):
    ordered = sorted(names, key=natural_key)
    assert sorted(ordered) == sorted(names)
    plain = [n for n in ordered if n.isascii() and n.isdecimal()]
    assert [int(n) for n in plain] == sorted(int(n) for n in plain)

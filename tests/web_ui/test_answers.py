"""The panel's directly encoded JSON answers."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web_ui.answers import json_answer

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_ROWS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_ROWS)
def test_an_answer_decodes_to_what_was_given(data: Any) -> None:
    answer = json_answer({"rows": data})
    assert answer.media_type == "application/json"
    assert answer.status_code == 200
    assert json.loads(bytes(answer.body)) == {"rows": data}


def test_text_stays_utf8_and_nan_is_refused() -> None:
    assert json_answer({"name": "Zoë"}).body == '{"name":"Zoë"}'.encode()
    with pytest.raises(ValueError, match="JSON"):
        json_answer({"score": math.nan})

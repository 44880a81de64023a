from __future__ import annotations

import json
import math
from datetime import date

import pytest

from kernels.errors import InvalidInputError
from plans.athlete_import import read_wearable_export
from plans.readiness import readiness_profile

CSV = """# exported by another wearable
date,sleep_h,sleep_quality,resting_hr_bpm,rmssd_ms,source
2026-03-02,7.2,4,52,61.5,ring
2026-03-01,6.9,3,54,,ring

2026-03-03,,,53,58,ring
"""


def test_csv_records_are_typed_and_sorted() -> None:
    records = read_wearable_export(CSV, source="export.csv")
    assert [r.day for r in records] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    first, second, third = records
    assert first.rmssd_ms is None
    assert first.ln_rmssd is None
    assert second.ln_rmssd == pytest.approx(math.log(61.5))
    assert second.sleep_quality == 4
    assert third.sleep_h is None
    assert third.source == "ring"
    assert third.to_row()["day"] == "2026-03-03"


def test_json_matches_csv() -> None:
    records = read_wearable_export(CSV, source="export.csv")
    as_json = json.dumps(
        {
            "records": [
                {
                    "date": r.day.isoformat(),
                    "sleep_h": r.sleep_h,
                    "sleep_quality": r.sleep_quality,
                    "resting_hr_bpm": r.resting_hr_bpm,
                    "rmssd_ms": r.rmssd_ms,
                    "source": r.source,
                }
                for r in records
            ]
        }
    )
    assert read_wearable_export(as_json, source="export.json") == records
    bare_list = json.dumps([{"date": "2026-03-01", "ln_rmssd": 4.1}])
    assert read_wearable_export(bare_list, source="x.json")[0].ln_rmssd == 4.1


def test_records_feed_the_readiness_profile() -> None:
    records = read_wearable_export(CSV, source="export.csv")
    profile = readiness_profile([r.to_daily_inputs() for r in records])
    assert profile.not_enough_data
    assert profile.component("resting_hr").value == 53


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,sleep_h\n2026-03-01,lots\n", "f.csv:2: field 'sleep_h': 'lots' is not a number"),
        ("date,sleep_h\n2026-03-01,30\n", "f.csv:2: field 'sleep_h': '30' is outside 0 to 24"),
        (
            "date,sleep_quality\n2026-03-01,3.5\n",
            "f.csv:2: field 'sleep_quality': '3.5' must be a whole number",
        ),
        ("date,steps\n2026-03-01,9000\n", "f.csv:1: unknown column 'steps'"),
        ("sleep_h\n7\n", "f.csv:1: the header needs a 'date' column"),
        ("date,sleep_h\n01/03/2026,7\n", "f.csv:2: field 'date': '01/03/2026' is not a date"),
        (
            "date,sleep_h\n2026-03-01,7\n2026-03-01,8\n",
            "f.csv:3: date 2026-03-01 already given at f.csv:2",
        ),
        ("date,sleep_h\n2026-03-01\n", "f.csv:2: has 1 fields, the header has 2"),
        ("date,sleep_h\n2026-03-01,\n", "f.csv:2: has a date but no reading"),
        ("date,rmssd_ms,ln_rmssd\n2026-03-01,60,3.0\n", "disagree"),
        ("", "f.csv: is empty"),
        (
            '{"records": [{"date": "2026-03-01", "sleep_h": "x"}]}',
            "f.csv: records[0]: field 'sleep_h'",
        ),
        ('{"records": [7]}', "records[0]: a record is an object, got int"),
        ('{"days": []}', "unknown top-level key 'days'"),
        ('{"records": [', "not valid JSON"),
        ("[" * 5000, "f.csv: not valid JSON: nested too deeply"),
        ('[{"date": "2026-03-01", "sleep_h": true}]', "True is not a number"),
    ],
)
def test_errors_name_line_and_field(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        read_wearable_export(text, source="f.csv")
    assert message in str(info.value)

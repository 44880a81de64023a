from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from controller.config import StoreConfig
from controller.store import Store
from controller.store.settings import (
    EDITABLE,
    apply_overrides,
    clear_setting,
    read_overrides,
    set_setting,
    validate,
)
from kernels.errors import InvalidInputError


async def test_overrides_are_stored_read_back_and_cleared(db_path: Path) -> None:
    async with Store(db_path) as store:
        assert await store.reader.read(read_overrides) == {}
        await store.writer.call(
            partial(set_setting, key="store.trace_retention_days", value=14, by="ana")
        )
        await store.writer.call(
            partial(set_setting, key="store.trace_retention_days", value=21, by="ben")
        )
        assert await store.reader.read(read_overrides) == {"store.trace_retention_days": 21}
        rows = await store.reader.query("SELECT updated_by FROM site_settings")
        assert rows == [{"updated_by": "ben"}]
        await store.writer.call(partial(clear_setting, key="store.trace_retention_days"))
        assert await store.reader.read(read_overrides) == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("store.trace_retention_days", 0),
        ("store.trace_retention_days", 3651),
        ("store.trace_retention_days", 7.5),
        ("store.trace_retention_days", True),
        ("store.readiness_retention_days", "30"),
        ("store.path", "/etc/passwd"),
        ("mqtt.password", "x"),
    ],
)
async def test_only_listed_keys_with_valid_values_are_stored(
    db_path: Path, key: str, value: object
) -> None:
    with pytest.raises(InvalidInputError):
        validate(key, value)
    async with Store(db_path) as store:
        with pytest.raises(InvalidInputError):
            await store.writer.call(partial(set_setting, key=key, value=value, by="x"))
        assert await store.reader.read(read_overrides) == {}


def test_overrides_apply_on_top_of_the_config() -> None:
    config = StoreConfig(trace_retention_days=90, readiness_retention_days=365)
    applied = apply_overrides(config, {"store.trace_retention_days": 7, "unknown.key": 3})
    assert applied.trace_retention_days == 7
    assert applied.readiness_retention_days == 365
    assert apply_overrides(config, {}) is config
    assert set(EDITABLE) == {"store.trace_retention_days", "store.readiness_retention_days"}

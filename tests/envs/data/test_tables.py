import re
import socket

import pandas as pd
import pytest

from prmgym.envs.data.tables import TABLES, load_table, table_file, write_tables
from prmgym.errors import TaskError


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a table tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_registry_records_source_and_licence_for_every_table():
    assert 6 <= len(TABLES) <= 12
    for name, source in TABLES.items():
        assert source.name == name
        assert source.package in {"palmerpenguins", "vega_datasets"}
        assert source.licence and source.origin and source.description


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_loads_offline(name, offline):
    frame = load_table(name)
    assert len(frame) > 40 and len(frame.columns) >= 2


def test_known_shapes_and_missing_values_are_as_published():
    penguins = load_table("penguins")
    assert penguins.shape == (344, 8)
    assert penguins["sex"].isna().sum() == 11
    assert load_table("iris")["species"].value_counts().to_dict() == {
        "setosa": 50,
        "versicolor": 50,
        "virginica": 50,
    }
    assert load_table("airports")["state"].isna().sum() == 12


def test_slash_dates_are_rewritten_as_iso_8601():
    assert load_table("seattle-weather")["date"].iloc[0] == "2012-01-01"
    for name in ("seattle-temps", "sf-temps"):
        dates = load_table(name)["date"]
        assert dates.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
        assert dates.iloc[1] == "2010-01-01 01:00"


def test_write_tables_writes_csv_that_reads_back_as_the_table(tmp_path):
    paths = write_tables(["penguins", "seattle-weather"], tmp_path)
    assert [p.name for p in paths] == ["penguins.csv", "seattle-weather.csv"]
    for path, name in zip(paths, ["penguins", "seattle-weather"], strict=True):
        pd.testing.assert_frame_equal(pd.read_csv(path), load_table(name), check_dtype=False)
    assert re.match(r"species,island,bill_length_mm", paths[0].read_text())
    assert b"\r\n" not in paths[0].read_bytes()


def test_write_tables_gives_the_same_bytes_every_time(tmp_path):
    first = write_tables(sorted(TABLES), tmp_path / "a")
    second = write_tables(sorted(TABLES), tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_write_tables_touches_nothing_outside_its_folder(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    write_tables(["cars", "cars"], tmp_path / "workspace")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "workspace"]
    assert list(home.iterdir()) == []
    assert [p.name for p in (tmp_path / "workspace").iterdir()] == ["cars.csv"]


def test_unknown_table_names_the_known_ones_and_a_close_match():
    with pytest.raises(TaskError) as info:
        load_table("pengiuns")
    message = str(info.value)
    assert "did you mean 'penguins'?" in message
    assert all(name in message for name in TABLES)


def test_write_tables_checks_every_name_before_writing(tmp_path):
    with pytest.raises(TaskError, match="unknown table 'stocks'"):
        write_tables(["iris", "stocks"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_table_file_is_the_name_with_csv():
    assert table_file("sf-temps") == "sf-temps.csv"

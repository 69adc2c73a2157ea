"""Placement as plain functions: cameras spread by count within each node's room, running ones never moved."""

from __future__ import annotations

import pytest

from gunwatch.cluster.placement import moves, node_capacity, per_node, place


@pytest.mark.parametrize(("cpus", "detector", "camera", "most", "expected"), [
    (2.0, 1.0, 0.25, None, 4),    # the CPUs beside the detector, a quarter each
    (4.0, 1.0, 0.25, 12, 12),
    (4.0, 1.0, 0.25, 3, 3),       # max_cameras_per_node caps it
    (1.0, 1.0, 0.25, None, 0),    # the detector alone fills it
    (0.0, 1.0, 0.25, None, 0),    # a head with no CPUs for cameras
    (0.5, 1.0, 0.25, 5, 0),       # not even the detector fits
    (3.0, 1.0, 0.0, 7, 7),        # cameras that reserve nothing: the cap alone
])
def test_node_capacity(cpus: float, detector: float, camera: float, most: int | None, expected: int) -> None:
    assert node_capacity(cpus, detector, camera, most) == expected


def test_cameras_spread_by_count_over_the_nodes() -> None:
    placed = place(["a", "b", "c", "d"], {}, {"n1": 4, "n2": 4})
    assert sorted(len(cameras) for cameras in per_node(placed).values()) == [2, 2]
    assert set(placed) == {"a", "b", "c", "d"}


def test_a_camera_that_runs_stays_on_its_node_even_when_the_spread_is_uneven() -> None:
    placed = place(["a", "b", "c"], {"a": "n1", "b": "n1", "c": "n1"}, {"n1": 4, "n2": 4})
    assert placed == {"a": "n1", "b": "n1", "c": "n1"}


def test_a_lost_nodes_cameras_go_to_the_least_loaded_nodes_with_room() -> None:
    before = {"a": "n1", "b": "n1", "c": "n2", "d": "n3"}
    after = place(before, {k: v for k, v in before.items() if v != "n1"}, {"n2": 2, "n3": 3})
    assert after["c"] == "n2" and after["d"] == "n3"
    assert sorted(per_node(after)["n2"] + per_node(after)["n3"]) == ["a", "b", "c", "d"]
    assert len(per_node(after)["n2"]) == 2 and len(per_node(after)["n3"]) == 2


def test_a_camera_that_fits_nowhere_stays_unplaced() -> None:
    assert place(["a", "b", "c"], {}, {"n1": 1, "n2": 1}) == {"a": "n1", "b": "n2"}
    assert place(["a"], {}, {}) == {}


def test_a_node_that_shrank_keeps_what_fits_and_the_rest_moves() -> None:
    placed = place(["a", "b", "c"], {"a": "n1", "b": "n1", "c": "n1"}, {"n1": 2, "n2": 2})
    assert placed == {"a": "n1", "b": "n1", "c": "n2"}


def test_a_camera_removed_from_the_site_is_not_placed_and_one_on_an_unknown_node_is_placed_again() -> None:
    placed = place(["a", "c"], {"a": "gone", "b": "n1"}, {"n1": 4})
    assert placed == {"a": "n1", "c": "n1"}


def test_moves_stop_where_cameras_were_and_start_where_they_go() -> None:
    change = moves({"a": "n1", "b": "n1", "c": "n2"}, {"a": "n1", "b": "n2", "d": "n2"})
    assert change.start == {"b": "n2", "d": "n2"}
    assert change.stop == {"b": "n1", "c": "n2"}


def test_placement_does_not_depend_on_the_order_cameras_or_nodes_are_listed() -> None:
    one = place(["d", "c", "b", "a"], {}, {"n2": 2, "n1": 2})
    two = place(["a", "b", "c", "d"], {}, {"n1": 2, "n2": 2})
    assert one == two

"""Rootless id maps: what an unprivileged user may write itself is checked before anything forks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from simcon.errors import SimconError
from simcon.runtime.plan import idmaps


def _maps(*triples: tuple[int, int, int]) -> list:
    return [SimpleNamespace(container_id=c, host_id=h, size=s) for c, h, s in triples]


def _linux(uid_maps: list, gid_maps: list) -> SimpleNamespace:
    return SimpleNamespace(uid_mappings=uid_maps, gid_mappings=gid_maps)


def _process(additional_gids: list[int] | None = None) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(uid=0, gid=0, additional_gids=additional_gids or []))


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idmaps.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(idmaps.os, "getegid", lambda: 1001)
    monkeypatch.setattr("shutil.which", lambda name: None)  # no newuidmap/newgidmap


def test_own_ids_single_mapping_is_accepted(as_user: None) -> None:
    uid_maps, gid_maps = idmaps.id_mappings_plan(_linux(_maps((0, 1000, 1)), _maps((0, 1001, 1))), _process(),
                                                   "config.json")
    assert uid_maps == [(0, 1000, 1)] and gid_maps == [(0, 1001, 1)]


@pytest.mark.parametrize("uid_maps, gid_maps, where", [
    (_maps((0, 1000, 1), (1, 100000, 65536)), _maps((0, 1001, 1)), "linux.uidMappings: rootless"),
    (_maps((0, 0, 1)), _maps((0, 1001, 1)), "linux.uidMappings: rootless"),
    (_maps((0, 1000, 2)), _maps((0, 1001, 1)), "linux.uidMappings: rootless"),
    (_maps((0, 1000, 1)), _maps((0, 1000, 1)), "linux.gidMappings: rootless"),
])
def test_anything_more_names_the_field_and_newuidmap(as_user: None, uid_maps: list, gid_maps: list,
                                                     where: str) -> None:
    with pytest.raises(SimconError) as info:
        idmaps.id_mappings_plan(_linux(uid_maps, gid_maps), _process(), "config.json")
    assert where in str(info.value) and "newuidmap" in str(info.value)


def test_with_newuidmap_more_ranges_are_left_to_it(as_user: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    uid_maps = _maps((0, 1000, 1), (1, 100000, 65536))
    gid_maps = _maps((0, 1001, 1), (1, 100000, 65536))
    assert idmaps.id_mappings_plan(_linux(uid_maps, gid_maps), _process([5]), "config.json")[0][1] == (1, 100000,
                                                                                                           65536)
    assert not idmaps.own_ids_only([(0, 1000, 1), (1, 100000, 65536)], [(0, 1001, 1)])


def test_additional_gids_cannot_be_set_where_setgroups_is_denied(as_user: None) -> None:
    with pytest.raises(SimconError, match="process.user.additionalGids: rootless"):
        idmaps.id_mappings_plan(_linux(_maps((0, 1000, 1)), _maps((0, 1001, 1))), _process([0]), "config.json")

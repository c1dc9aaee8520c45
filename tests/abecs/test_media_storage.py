"""The pinpad's multimedia memory on disk (virtual_devices.abecs.storage, media_store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from virtual_devices.abecs.extended.media_store import MediaFile, MediaStore
from virtual_devices.abecs.pinpad import DeviceInfo
from virtual_devices.abecs.rig import make_rig
from virtual_devices.abecs.storage import default_state_root, pinpad_dir

GIF = (b"GIF89a" + (8).to_bytes(2, "little") + (4).to_bytes(2, "little") + b"\x00\x00\x00"
       + b"\x2c" + bytes(8) + b"\x00\x02\x02\x44\x01\x00\x3b")


def _load_and_list(state_dir: Path | None, name: str = "Logo1", serial: str | None = None,
                   **kw: Any) -> tuple[list[str], Any]:
    if serial is not None:
        kw["info"] = DeviceInfo(serial=serial)
    rig = make_rig(state_dir=state_dir, **kw)

    def flow() -> Any:
        yield from rig.host.opn(secure=False)
        if name:
            yield from rig.host.load_image(name, 3, GIF)
        return (yield from rig.host.lmf())

    return rig.run(flow), rig.pinpad


def test_a_loaded_file_is_on_disk_and_back_after_a_restart(tmp_path: Path) -> None:
    names, pinpad = _load_and_list(tmp_path)
    assert names == ["LOGO1"]
    stored = pinpad_dir(tmp_path, pinpad.info.serial) / "media" / "LOGO1.gif"
    assert stored.read_bytes() == GIF
    again, _ = _load_and_list(tmp_path, name="")
    assert again == ["LOGO1"]


def test_each_pinpad_has_its_own_directory(tmp_path: Path) -> None:
    _load_and_list(tmp_path, serial="CL0000000001")
    other, _ = _load_and_list(tmp_path, name="", serial="CL0000000002")
    assert other == []


def test_without_a_directory_the_memory_lasts_as_long_as_the_process(tmp_path: Path,
                                                                       monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    names, _ = _load_and_list(None)
    assert names == ["LOGO1"] and not any(tmp_path.iterdir())
    again, _ = _load_and_list(None, name="")
    assert again == []


def test_delete_and_replace_reach_the_disk(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    store.put(MediaFile("A1", 3, GIF))
    store.put(MediaFile("A1", 1, b"\x89PNG\r\n\x1a\n"))  # same name, another format
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A1.png"]
    (tmp_path / ".A1.gif.tmp").write_bytes(b"half")  # a write cut by power loss
    (tmp_path / "notes.txt").write_text("x")
    assert list(MediaStore(tmp_path)) == ["A1"]
    store.delete("A1")
    store.delete("NOSUCH")
    assert list(MediaStore(tmp_path)) == []


@pytest.mark.parametrize(("env", "want"), [
    ({"CARDLOOP_STATE_DIR": "/x/y"}, Path("/x/y")),
    ({"XDG_STATE_HOME": "/s"}, Path("/s/cardloop")),
    ({"XDG_STATE_HOME": "relative"}, None),
])
def test_the_default_root(env: dict[str, str], want: Path | None, monkeypatch: Any,
                          tmp_path: Path) -> None:
    monkeypatch.delenv("CARDLOOP_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert default_state_root() == (want or tmp_path / ".local" / "state" / "cardloop")

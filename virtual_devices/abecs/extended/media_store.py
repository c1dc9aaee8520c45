"""The pinpad's multimedia memory (§3.4, §6.6): files loaded by MLI/MLR/MLE, listed by
LMF, deleted by DMF, shown by DSI and CLX.

Files live in memory and, when the pinpad has a storage directory
(:mod:`virtual_devices.abecs.storage`), on disk as ``media/<NAME>.<png|jpg|gif>``, read
back when the pinpad starts: a file loaded before a restart is still listed after it.
Names are 1-8 letters and digits, kept in upper case (§6.6.4), so they are safe file
names as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from virtual_devices.abecs.storage import write_atomically

EXTENSIONS = {1: "png", 2: "jpg", 3: "gif"}  # SPE_MFINFO's type byte
KINDS = {ext: kind for kind, ext in EXTENSIONS.items()}
# bytes of file memory (a typical colour pinpad's); MLR/MLE beyond it are ST_INTERR
MEDIA_MEMORY = 4 * 1024 * 1024


def extension(kind: int) -> str:
    """A type this pinpad cannot show is kept too (§6.6.1: judged only at use), as
    ``k<type in hex>``."""
    return EXTENSIONS.get(kind, f"k{kind:02x}")


def kind_of(ext: str) -> int | None:
    ext = ext.lower()
    if ext in KINDS:
        return KINDS[ext]
    if len(ext) == 3 and ext[0] == "k":
        try:
            return int(ext[1:], 16)
        except ValueError:
            return None
    return None


@dataclass
class MediaFile:
    name: str
    kind: int  # 01 PNG, 02 JPG, 03 GIF
    data: bytes


class MediaStore:
    """A name -> :class:`MediaFile` mapping that writes through to ``directory``."""

    def __init__(self, directory: Path | None = None, capacity: int = MEDIA_MEMORY) -> None:
        self.directory = directory
        self.capacity = capacity
        self._files: dict[str, MediaFile] = {}
        if directory is not None and directory.is_dir():
            for path in sorted(directory.iterdir()):
                kind = kind_of(path.suffix[1:])
                name = path.stem.upper()
                if kind is None or not name.isalnum() or len(name) > 8:
                    continue  # stray files (a half write's temporary, others) are not media
                self._files[name] = MediaFile(name, kind, path.read_bytes())

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, name: object) -> bool:
        return name in self._files

    @property
    def free_bytes(self) -> int:
        return max(0, self.capacity - sum(len(f.data) for f in self._files.values()))

    def room_for(self, name: str) -> int:
        """Bytes a file called ``name`` may take (what it replaces is freed)."""
        old = self._files.get(name)
        return self.free_bytes + (len(old.data) if old is not None else 0)

    def get(self, name: str) -> MediaFile | None:
        return self._files.get(name)

    def put(self, media: MediaFile) -> None:
        """Store a file (replacing one of the same name, whatever its format)."""
        if self.directory is not None:
            self._remove_from_disk(media.name)
            write_atomically(self.directory / f"{media.name}.{extension(media.kind)}",
                             media.data)
        self._files[media.name] = media

    def delete(self, name: str) -> None:
        """Delete a file; an unknown name is ignored (§6.6.5)."""
        if self._files.pop(name, None) is not None and self.directory is not None:
            self._remove_from_disk(name)

    def _remove_from_disk(self, name: str) -> None:
        assert self.directory is not None
        for path in self.directory.glob(f"{name}.*"):
            if path.stem == name and kind_of(path.suffix[1:]) is not None:
                path.unlink(missing_ok=True)

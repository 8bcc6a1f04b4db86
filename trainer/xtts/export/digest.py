"""A package file as a manifest records it: its sha256 and its size, which the engine checks."""
import hashlib
import os


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(path: str) -> dict:
    """The manifest's `files` entry for the file at path."""
    return {"sha256": file_sha256(path), "bytes": os.path.getsize(path)}

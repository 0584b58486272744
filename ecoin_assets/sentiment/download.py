"""Download TweetEval's sentiment splits from their public source, checked against checksums.

The files are those of github.com/cardiffnlp/tweeteval (`datasets/sentiment/`); their sizes
and SHA-256 sums are the ones Hugging Face's `tweet_eval` loader pinned for the same URLs.
Each file is written to a temporary name, checked, then renamed: a failed or corrupted download
leaves nothing behind, and files already present with the right checksum are not fetched again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from ecoin_assets.errors import SourceError, UserError

TWEETEVAL_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets/sentiment/"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str


TWEETEVAL_FILES = (
    RemoteFile(
        "train_text.txt",
        4970029,
        "368f01052ea6fd8ffc408a2a2e6ac9669e31542581a0396ef16591ea26eb98a6",
    ),
    RemoteFile(
        "train_labels.txt",
        91230,
        "122bfb1732fb6995b0e5c5f726c0ba457c469c3b6e60513007ce5037f23e65d4",
    ),
    RemoteFile(
        "val_text.txt",
        219137,
        "e5b021e6fc45064c260b09814b803d8f56cada519c4d952d72f43d48a350a964",
    ),
    RemoteFile(
        "val_labels.txt",
        4000,
        "b4566926c72e2e4e2916c864def94e76c4cdde52446af2c7ba4fc2006e057e51",
    ),
    RemoteFile(
        "test_text.txt",
        1156877,
        "09a93a55c63fd93f97485ef7302889d7edb4091cd49733aa37da094f0bfa0675",
    ),
    RemoteFile(
        "test_labels.txt",
        24568,
        "6afb4afe9374d1f983bcf9a7c79b108d0f37fdf020a83f30488309bed215db9d",
    ),
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_tweeteval(
    dest: Path,
    base_url: str = TWEETEVAL_URL,
    files: tuple[RemoteFile, ...] = TWEETEVAL_FILES,
    timeout: float = 60.0,
    progress: Callable[[str, str], None] | None = None,
) -> list[Path]:
    """Download every file into `dest` (created if needed) and return their paths."""
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    done = []
    with requests.Session() as session:
        for remote in files:
            target = dest / remote.name
            if target.exists() and _sha256(target) == remote.sha256:
                done.append(target)
                if progress:
                    progress(remote.name, "already there")
                continue
            _download(session, base_url + remote.name, target, remote, timeout)
            done.append(target)
            if progress:
                progress(remote.name, f"{remote.size:,} bytes, checksum ok")
    return done


def _download(
    session: requests.Session, url: str, target: Path, remote: RemoteFile, timeout: float
) -> None:
    tmp = target.with_name(target.name + ".part")
    try:
        try:
            with session.get(url, stream=True, timeout=timeout) as answer:
                if answer.status_code != 200:
                    raise SourceError(f"{url} answered HTTP {answer.status_code}")
                with tmp.open("wb") as out:
                    for chunk in answer.iter_content(1 << 16):
                        out.write(chunk)
        except requests.RequestException as exc:
            raise SourceError(
                f"cannot download {url} ({type(exc).__name__}); this command needs internet "
                "access (or --url pointing at a mirror)"
            ) from None
        size, digest = tmp.stat().st_size, _sha256(tmp)
        if size != remote.size or digest != remote.sha256:
            raise UserError(
                f"{url}: checksum mismatch (got {size:,} bytes, sha256 {digest[:12]}…; expected "
                f"{remote.size:,} bytes, sha256 {remote.sha256[:12]}…); nothing was kept"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)

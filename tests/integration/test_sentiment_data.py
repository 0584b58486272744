"""The TweetEval-layout loaders and the checked TweetEval download, offline.

Loaders read tiny folders written under `tmp_path` (and the seed set the project ships); the
download talks to a local HTTP server started on a free port for each test.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ecoin_assets.errors import SourceError, UserError
from ecoin_assets.sentiment.data import (
    LABELS,
    LabelledSet,
    load_seed,
    load_split,
    resolve,
    splits,
)
from ecoin_assets.sentiment.download import RemoteFile, fetch_tweeteval


def write_split(folder: Path, split: str, text: bytes | str, labels: bytes | str) -> Path:
    """Write `{split}_text.txt` and `{split}_labels.txt` (bytes as given, str as UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in ((f"{split}_text.txt", text), (f"{split}_labels.txt", labels)):
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


# --- loaders: valid folders ------------------------------------------------------------------


def test_load_split_reads_a_tiny_folder(tmp_path: Path) -> None:
    folder = write_split(
        tmp_path / "te",
        "train",
        "Bitcoin to the moon \nmeh, flat day\nworst dip ever  \n",
        "2\n1 \n0\n",
    )
    data = load_split(folder, "train")
    assert isinstance(data, LabelledSet)
    assert data.texts == ["Bitcoin to the moon", "meh, flat day", "worst dip ever"]
    assert data.labels == [2, 1, 0]
    assert len(data) == 3
    assert data.counts() == {"negative": 1, "neutral": 1, "positive": 1}
    assert data.source == f"{folder}:train"


def test_load_split_accepts_crlf_lines(tmp_path: Path) -> None:
    folder = write_split(tmp_path, "val", b"up only\r\nsideways \r\n", b"2\r\n1\r\n")
    data = load_split(folder, "val")
    assert data.texts == ["up only", "sideways"]
    assert data.labels == [2, 1]


@pytest.mark.parametrize("final_newline", [True, False])
def test_load_split_with_or_without_final_newline(tmp_path: Path, final_newline: bool) -> None:
    end = "\n" if final_newline else ""
    folder = write_split(tmp_path, "test", "one\ntwo" + end, "0\n2" + end)
    data = load_split(str(folder), "test")  # a str folder works too
    assert data.texts == ["one", "two"]
    assert data.labels == [0, 2]


def test_splits_lists_only_complete_splits(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "a\n", "0\n")
    write_split(tmp_path, "val", "b\n", "1\n")
    (tmp_path / "test_text.txt").write_text("c\n")  # no labels: not a split
    assert splits(tmp_path) == ["train", "val"]
    assert splits(tmp_path / "no-such-folder") == []


def test_resolve_reads_a_folder_or_the_seed(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "a\n", "1\n")
    assert resolve(str(tmp_path), "train").labels == [1]
    assert resolve("seed", "test").source == "seed:test"


# --- loaders: the seed set -------------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test"])
def test_seed_set_loads(split: str) -> None:
    data = load_seed(split)
    assert data.source == f"seed:{split}"
    assert len(data) > 100
    assert len(data.texts) == len(data.labels)
    counts = data.counts()
    assert set(counts) == set(LABELS)
    assert all(counts[name] > 0 for name in LABELS), counts
    assert all(text and text == text.strip() for text in data.texts)


def test_seed_posts_appear_once_and_never_in_both_splits() -> None:
    """What seed/README.md promises: posts compared lower-cased without punctuation or spaces."""

    def key(text: str) -> str:
        return re.sub(r"[\W_]+", "", text.lower())

    train, test = ([key(t) for t in load_seed(split).texts] for split in ("train", "test"))
    assert len(set(train)) == len(train) and len(set(test)) == len(test)
    assert not set(train) & set(test)


def test_seed_default_split_is_train() -> None:
    assert load_seed().source == "seed:train"


# --- loaders: malformed input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "line", "shown"),
    [
        ("0\n3\n1\n", 2, "'3'"),
        ("0\n1\nx\n", 3, "'x'"),
        ("0\n\n1\n", 2, "''"),
        ("-1\n1\n1\n", 1, "'-1'"),
    ],
    ids=["label-3", "label-x", "empty-label-line", "label-minus-1"],
)
def test_bad_label_names_file_and_line(tmp_path: Path, labels: str, line: int, shown: str) -> None:
    write_split(tmp_path, "train", "a\nb\nc\n", labels)
    with pytest.raises(UserError) as caught:
        load_split(tmp_path, "train")
    message = str(caught.value)
    assert f"train_labels.txt, line {line}:" in message
    assert f"label {shown}" in message
    assert "0 (negative), 1 (neutral) or 2 (positive)" in message


def test_line_count_mismatch(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "a\nb\nc\n", "0\n1\n")
    with pytest.raises(UserError, match=r"train_text\.txt has 3 lines but train_labels\.txt has 2"):
        load_split(tmp_path, "train")


def test_empty_post_line(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "a\n   \nc\n", "0\n1\n2\n")
    with pytest.raises(UserError, match=r"train_text\.txt, line 2: empty post"):
        load_split(tmp_path, "train")


def test_non_utf8_text_names_the_line(tmp_path: Path) -> None:
    write_split(tmp_path, "train", b"fine\nalso fine\nbad \xff\xfe byte\n", b"0\n1\n2\n")
    with pytest.raises(UserError, match=r"train_text\.txt, line 3: not UTF-8 text"):
        load_split(tmp_path, "train")


def test_missing_labels_file(tmp_path: Path) -> None:
    (tmp_path / "train_text.txt").write_text("a\n")
    with pytest.raises(UserError, match=r"train_labels\.txt is missing"):
        load_split(tmp_path, "train")


def test_missing_text_file(tmp_path: Path) -> None:
    (tmp_path / "train_labels.txt").write_text("0\n")
    with pytest.raises(UserError, match=r"train_text\.txt is missing"):
        load_split(tmp_path, "train")


def test_missing_split_lists_the_splits_found(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "a\n", "0\n")
    write_split(tmp_path, "test", "b\n", "1\n")
    with pytest.raises(UserError) as caught:
        load_split(tmp_path, "val")
    message = str(caught.value)
    assert "no split 'val'" in message
    assert "splits found: test, train" in message


def test_missing_split_in_a_folder_with_none(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="splits found: none"):
        load_split(tmp_path, "train")


def test_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(UserError, match=re.escape(f"{missing} is not a folder")):
        load_split(missing, "train")


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x\n")
    with pytest.raises(UserError, match="is not a folder"):
        resolve(str(path), "train")


def test_empty_files(tmp_path: Path) -> None:
    write_split(tmp_path, "train", "", "")
    with pytest.raises(UserError, match=r"train_text\.txt is empty"):
        load_split(tmp_path, "train")


# --- download --------------------------------------------------------------------------------


@dataclass
class FileServer:
    """A local HTTP server of one folder, counting the requests for each path."""

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def file_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root = tmp_path / "served"
    root.mkdir()
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep the test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FileServer(root=root, url=f"http://{host}:{port}/data", requests=seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def serve(server: FileServer, name: str, data: bytes) -> RemoteFile:
    """Put `data` on the server under `data/name`; the `RemoteFile` that describes it."""
    path = server.root / "data" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return RemoteFile(name, len(data), hashlib.sha256(data).hexdigest())


CONTENTS = {
    "train_text.txt": b"up only\nsideways\n",
    "train_labels.txt": b"2\n1\n",
    "test_text.txt": "dip \N{CHART WITH DOWNWARDS TREND}\n".encode(),
    "test_labels.txt": b"0\n",
}


def test_fetch_downloads_every_file(tmp_path: Path, file_server: FileServer) -> None:
    files = tuple(serve(file_server, name, data) for name, data in CONTENTS.items())
    dest = tmp_path / "out" / "tweeteval"  # created by the download
    paths = fetch_tweeteval(dest, base_url=file_server.url, files=files, timeout=5)
    assert paths == [dest / name for name in CONTENTS]
    for name, data in CONTENTS.items():
        assert (dest / name).read_bytes() == data
    assert sorted(p.name for p in dest.iterdir()) == sorted(CONTENTS)  # no .part files left
    assert sorted(file_server.requests) == sorted(f"/data/{name}" for name in CONTENTS)
    assert load_split(dest, "train").labels == [2, 1]


def test_fetch_again_requests_nothing(tmp_path: Path, file_server: FileServer) -> None:
    files = tuple(serve(file_server, name, data) for name, data in CONTENTS.items())
    fetch_tweeteval(tmp_path, base_url=file_server.url + "/", files=files, timeout=5)
    assert len(file_server.requests) == len(CONTENTS)
    progress: list[tuple[str, str]] = []
    paths = fetch_tweeteval(
        tmp_path,
        base_url=file_server.url,
        files=files,
        timeout=5,
        progress=lambda *args: progress.append(args),
    )
    assert len(file_server.requests) == len(CONTENTS)  # not one more
    assert paths == [tmp_path / name for name in CONTENTS]
    assert progress == [(name, "already there") for name in CONTENTS]


def test_fetch_replaces_a_corrupted_file(tmp_path: Path, file_server: FileServer) -> None:
    remote = serve(file_server, "train_labels.txt", b"0\n1\n2\n")
    (tmp_path / "train_labels.txt").write_bytes(b"garbage")
    fetch_tweeteval(tmp_path, base_url=file_server.url, files=(remote,), timeout=5)
    assert (tmp_path / "train_labels.txt").read_bytes() == b"0\n1\n2\n"
    assert file_server.requests == ["/data/train_labels.txt"]


@pytest.mark.parametrize("wrong", ["sha256", "size"])
def test_wrong_checksum_keeps_nothing(tmp_path: Path, file_server: FileServer, wrong: str) -> None:
    good = serve(file_server, "train_text.txt", b"some posts\n")
    remote = (
        RemoteFile(good.name, good.size, "0" * 64)
        if wrong == "sha256"
        else RemoteFile(good.name, good.size + 1, good.sha256)
    )
    dest = tmp_path / "out"
    with pytest.raises(UserError, match="checksum") as caught:
        fetch_tweeteval(dest, base_url=file_server.url, files=(remote,), timeout=5)
    assert not isinstance(caught.value, SourceError)
    assert "nothing was kept" in str(caught.value)
    assert not (dest / "train_text.txt").exists()
    assert not (dest / "train_text.txt.part").exists()
    assert list(dest.iterdir()) == []


def test_http_404_is_a_source_error(tmp_path: Path, file_server: FileServer) -> None:
    present = serve(file_server, "train_text.txt", b"a\n")
    absent = RemoteFile("train_labels.txt", 2, hashlib.sha256(b"0\n").hexdigest())
    dest = tmp_path / "out"
    with pytest.raises(SourceError, match="HTTP 404") as caught:
        fetch_tweeteval(dest, base_url=file_server.url, files=(present, absent), timeout=5)
    assert isinstance(caught.value, UserError)
    assert "train_labels.txt" in str(caught.value)
    assert not (dest / "train_labels.txt").exists()
    assert not (dest / "train_labels.txt.part").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["train_text.txt"]  # the good one stays


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_asks_for_internet_access(tmp_path: Path) -> None:
    remote = RemoteFile("train_text.txt", 2, hashlib.sha256(b"a\n").hexdigest())
    url = f"http://127.0.0.1:{_closed_port()}/sentiment/"
    dest = tmp_path / "out"
    with pytest.raises(SourceError, match="internet access") as caught:
        fetch_tweeteval(dest, base_url=url, files=(remote,), timeout=5)
    assert "ConnectionError" in str(caught.value)
    assert list(dest.iterdir()) == []


def test_progress_gets_each_file_name(tmp_path: Path, file_server: FileServer) -> None:
    files = tuple(serve(file_server, name, data) for name, data in CONTENTS.items())
    (tmp_path / "train_text.txt").write_bytes(CONTENTS["train_text.txt"])  # already there
    progress: list[tuple[str, str]] = []
    fetch_tweeteval(
        tmp_path,
        base_url=file_server.url,
        files=files,
        timeout=5,
        progress=lambda name, note: progress.append((name, note)),
    )
    assert [name for name, _ in progress] == list(CONTENTS)
    notes = dict(progress)
    assert notes["train_text.txt"] == "already there"
    size = len(CONTENTS["test_text.txt"])
    assert notes["test_text.txt"] == f"{size:,} bytes, checksum ok"
    assert "/data/train_text.txt" not in file_server.requests

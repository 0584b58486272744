"""The real-time ingestion service: X posts from the filtered stream (or polling), stored and
scored in batches of about a second.

Three threads meet at one queue:

- the **collector** follows X's filtered stream (`sources.x.FilteredStream`, one rule per topic
  tagged `ecoin:<topic>`);
- the **recoverer** runs recent search at start, again once the stream has first connected
  (posts created between the two reach neither), and after every gap the stream reports (X
  offers no backfill below Enterprise), and, in poll mode, in rounds paced to spread the app's
  15-minute budget (`x-rate-limit-*` headers) evenly, never closer than `poll_interval`. The
  topics' queries are combined into as few queries as X's 512 characters allow
  (`sources.x_query.combine`), each searched from the lowest cursor of its topics (`since_id`),
  and the posts are routed back to their topics locally;
- the **writer** (the calling thread) takes what arrived in the last `batch_seconds`, and
  stores it with `ingest.store_posts`: posts, topic links, scores and cursors in one
  transaction, each post once by id.

With `refresh` (the CLI passes the stored topics, `tweets.topics`), the writer reads the topics
again every couple of seconds: a new topic is recovered from its cursor and gets its stream
rule, a removed one stops being linked and loses its rule.

A topic's cursor only moves past posts that are known to be stored with nothing missing below
them: while a recovery of the topic is pending, stream posts are stored but do not move it.
So a process killed at any moment restarts from a cursor below every post it may have missed,
and the primary keys skip what it had already stored: nothing lost, nothing twice.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ecoin_assets.errors import InvalidInputError, Remedy, SourceError, UserError
from ecoin_assets.sources.x import FilteredStream, StreamAccessError, StreamGap, Tweet, XSource
from ecoin_assets.sources.x_query import PostText, QueryGroup, combine
from ecoin_assets.storage import Database
from ecoin_assets.tweets.ingest import RecentKeys, read_cursors, store_posts
from ecoin_assets.tweets.reporting import DagsterReporter, lag_percentiles
from ecoin_assets.tweets.topics import as_queries

if TYPE_CHECKING:
    from ecoin_assets.sentiment.registry import Classifier

MODES = ("auto", "stream", "poll")
RECOVERY_CHUNK = 200  # recovered posts per batch, so that live posts never wait behind a backlog
TOPICS_REFRESH_SECONDS = 2.0  # how often the stored topics are read again
log = logging.getLogger(__name__)


@dataclass
class StreamReport:
    """What a run did; `lags`: seconds from `created_at` to the commit of each post that came
    live (from the stream, or from a poll after the first)."""

    mode: str = ""
    received: int = 0  # posts the stream delivered
    recovered: int = 0  # posts the searches returned
    stored: int = 0
    kept: int = 0
    scored: int = 0
    batches: int = 0
    searches: int = 0
    gaps: int = 0
    unrouted: int = 0  # searched posts that no topic's query matched locally (linked loosely)
    lags: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "lags"} | lag_percentiles(self.lags)


@dataclass(frozen=True)
class _Delivered:
    tweet: Tweet
    topics: tuple[str, ...]


@dataclass(frozen=True)
class _Recovered:
    topics: tuple[str, ...]  # of the query searched
    tweets: list[Tweet]
    links: list[tuple[int, str]]  # (post id, topic)
    newest_id: int | None
    generation: int
    last: bool  # the search's last chunk: the topics' recovery is done


class StreamService:
    """Ingest `topics` until `stop()` (or `duration` seconds): see the module docstring."""

    def __init__(
        self,
        db: Database,
        search: XSource,
        topics: Mapping[str, str] | Sequence[str],
        *,
        stream: FilteredStream | None = None,
        mode: str = "auto",
        classifier: Classifier | None = None,
        batch_seconds: float = 1.0,
        poll_interval: float = 2.0,
        languages: Sequence[str] = ("en",),
        on_batch: Callable[[dict], None] | None = None,
        reporter: DagsterReporter | None = None,
        refresh: Callable[[], Mapping[str, str]] | None = None,
    ):
        if mode not in MODES:
            raise UserError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.queries = as_queries(topics)  # topic name -> X query
        if not self.queries:
            raise InvalidInputError("no topics to follow", remedy=Remedy.FOLLOW_TOPICS)
        self.topics = list(self.queries)
        self.groups: list[QueryGroup] = combine(self.queries)
        self.refresh = refresh  # the topics as stored, read every TOPICS_REFRESH_SECONDS
        if mode != "poll" and stream is None:
            raise UserError("stream mode needs a filtered stream client")
        self.db, self.search, self.stream, self.mode = db, search, stream, mode
        self.classifier, self.languages = classifier, tuple(languages)
        self.batch_seconds, self.poll_interval = batch_seconds, poll_interval
        self.on_batch = on_batch
        self.reporter = reporter
        self.report = StreamReport()
        self._queue: queue.Queue = queue.Queue()  # live posts
        self._backlog: queue.Queue = queue.Queue()  # recovered posts, in chunks
        self._stop = threading.Event()
        self._recover = threading.Event()
        self._generation = 0
        self._pending: set[str] = set(self.topics)  # topics whose recovery is not done
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._rules_stale = False  # the topics changed: the stream's rules must follow
        self._refreshed = time.monotonic()
        self._cursors: dict[str, int] = {}  # as committed
        self._searched: dict[str, int] = {}  # the newest post searches have queued, per topic
        self._recent = RecentKeys()  # duplicate keys of the last two hours, kept up to date
        self._connected = False  # the stream has connected once

    # -- control ----------------------------------------------------------------------------
    def stop(self) -> None:
        """End `run()` after the batch in hand is written (any thread, signal handlers too)."""
        self._stop.set()
        self._recover.set()
        if self.stream is not None:
            self.stream.close()

    def run(self, duration: float | None = None) -> StreamReport:
        deadline = None if duration is None else time.monotonic() + duration
        self._cursors = read_cursors(self.db, self.topics)  # as committed; only the writer
        self._request_recovery()  # touches the database (one connection mode per process)
        threads = [threading.Thread(target=self._guard(self._recoverer), daemon=True)]
        if self.mode == "poll":
            self.report.mode = "poll"
        else:
            threads.append(threading.Thread(target=self._guard(self._collector), daemon=True))
        for thread in threads:
            thread.start()
        try:
            while not self._stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self._errors:
                    raise self._errors[0]
                self._write_batch(self._take_batch(deadline))
                self._follow_topics()
        finally:
            self.stop()
            for thread in threads:
                thread.join(timeout=5)
            self._write_batch(self._drain(self._queue))  # the backlog is searched again later
        if self._errors:
            raise self._errors[0]
        return self.report

    # -- threads ----------------------------------------------------------------------------
    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported to the writer, which re-raises it
                self._errors.append(exc)
                self._stop.set()

        return run

    def _collector(self) -> None:
        assert self.stream is not None
        self.stream.on_gap = self._on_gap
        self.stream.on_connect = self._on_connect
        try:
            self.stream.sync_rules(self.queries)
            self.report.mode = "stream"
            for post in self.stream.events():
                self._queue.put(_Delivered(post.tweet, post.topics))
                if self._stop.is_set():
                    return
        except StreamAccessError as exc:
            if self.mode == "stream":
                raise
            log.warning("no filtered stream for this app (%s): polling recent search", exc)
            self.report.mode = "poll"
            self._recover.set()  # the recoverer paces its rounds from now on
        except Exception:
            if not self._stop.is_set():
                raise
            # `stop()` closed the connection under the read, which may end it with any error

    def _on_connect(self) -> None:
        """At the first connection, search again: the start's search may have run before it,
        and posts created between the two reached neither."""
        if not self._connected:
            self._connected = True
            self._request_recovery()

    def _on_gap(self, gap: StreamGap) -> None:
        self.report.gaps += 1
        log.warning("stream gap (%s): recovering it through recent search", gap.reason)
        self._request_recovery()

    def _request_recovery(self) -> None:
        with self._lock:
            self._generation += 1
            self._pending = set(self.topics)
        self._recover.set()

    def _recoverer(self) -> None:
        delay: float | None = None  # until the next poll round; None: until a gap or stop
        while not self._stop.is_set():
            if not self._recover.wait(delay):
                self._request_recovery()  # a poll round is due
            if self._stop.is_set():
                return
            self._recover.clear()
            with self._lock:
                generation, cursors = self._generation, dict(self._cursors)
                groups, rules_stale, self._rules_stale = self.groups, self._rules_stale, False
            if rules_stale and self.stream is not None and self.report.mode == "stream":
                try:
                    self.stream.sync_rules(self.queries)
                except SourceError as exc:  # tried again at the next change or gap
                    log.warning("could not update the stream rules: %s", exc)
            for group in groups:
                if self._stop.is_set():
                    return
                self._search_group(group, cursors, generation)
            delay = self._poll_delay() if self.report.mode == "poll" else None

    def _poll_delay(self) -> float:
        """Until the next round, which costs one call a query once caught up (what a backlog's
        extra pages cost already shows in the budget's `remaining`)."""
        budget = self.search.budget
        if budget is None:
            return self.poll_interval
        return budget.pace(len(self.groups), self.poll_interval, time.time())

    def _search_group(self, group: QueryGroup, cursors: dict[str, int], generation: int) -> None:
        """Search `group` from the lowest cursor of its topics and queue what it found, routed
        to its topics."""
        known = [max(cursors.get(t, 0), self._searched.get(t, 0)) or None for t in group.topics]
        since_id = None if None in known else min(k for k in known if k is not None)
        try:
            result = self.search.search(group.text, since_id)
        except SourceError as exc:  # retried at the next gap or poll, cursors unmoved
            log.warning("recent search for %r failed: %s", group.text, exc)
            return
        self.report.searches += result.calls
        # oldest first: a chunk's newest post has every older one of the search before it, so
        # each chunk may move the cursors; the last one also ends the recovery
        chunks = [
            result.tweets[i : i + RECOVERY_CHUNK]
            for i in range(0, len(result.tweets), RECOVERY_CHUNK)
        ] or [[]]
        topics = tuple(group.topics)
        for k, chunk in enumerate(chunks):
            last = k == len(chunks) - 1
            newest = result.newest_id if last else chunk[-1].id
            links = [(tweet.id, topic) for tweet in chunk for topic in self._route(group, tweet)]
            self._backlog.put(_Recovered(topics, chunk, links, newest, generation, last))
        if result.newest_id is not None:  # queued: the next round starts above it
            for topic in topics:
                self._searched[topic] = max(self._searched.get(topic, 0), result.newest_id)

    def _route(self, group: QueryGroup, tweet: Tweet) -> list[str]:
        """The topics of `group` that `tweet` belongs to. X matched it to one of them; when no
        query matches it locally (X also reads what a post's text does not show, such as
        expanded links), it goes to every topic of the group rather than being lost."""
        topics = group.route(PostText(tweet.text, tweet.lang, tweet.is_retweet))
        if topics:
            return topics
        self.report.unrouted += 1
        return list(group.topics)

    # -- topics -----------------------------------------------------------------------------
    def _follow_topics(self) -> None:
        """Every TOPICS_REFRESH_SECONDS, take up the stored topics: new ones are recovered from
        their cursors and get stream rules, removed ones stop being linked and lose theirs."""
        if self.refresh is None or time.monotonic() - self._refreshed < TOPICS_REFRESH_SECONDS:
            return
        self._refreshed = time.monotonic()
        queries = as_queries(self.refresh())
        if queries == self.queries:
            return
        added = {n for n, q in queries.items() if self.queries.get(n) != q}  # or changed
        gone = {n for n, q in self.queries.items() if queries.get(n) != q}
        log.info(
            "topics changed: now %s (new %s, dropped %s)",
            ", ".join(queries) or "none",
            ", ".join(sorted(added)) or "none",
            ", ".join(sorted(gone)) or "none",
        )
        fresh = read_cursors(self.db, list(added))
        with self._lock:
            self.queries, self.topics = queries, list(queries)
            self.groups = combine(queries)
            self._rules_stale = True
            for topic in gone:
                self._cursors.pop(topic, None)
                self._searched.pop(topic, None)
            self._cursors.update(fresh)
        self._request_recovery()

    # -- writing ----------------------------------------------------------------------------
    def _take_batch(self, deadline: float | None) -> list:
        """Live posts that arrive within `batch_seconds`, then one chunk of recovered posts."""
        items = self._live(deadline)
        with contextlib.suppress(queue.Empty):
            items.append(self._backlog.get_nowait())
        return items

    def _live(self, deadline: float | None) -> list:
        items = []
        if not self._backlog.empty():  # a backlog is waiting: take only what is here now
            return self._drain(self._queue)
        until = time.monotonic() + self.batch_seconds
        if deadline is not None:
            until = min(until, deadline)
        while not self._stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                items.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return items

    @staticmethod
    def _drain(source: queue.Queue) -> list:
        items = []
        while True:
            try:
                items.append(source.get_nowait())
            except queue.Empty:
                return items

    def _write_batch(self, items: list) -> None:
        if not items:
            return
        tweets: dict[int, Tweet] = {}
        links: set[tuple[int, str]] = set()
        cursors: dict[str, int] = {}
        live: set[int] = set()  # posts that came as they were posted (stream, or later polls)
        with self._lock:
            for item in items:
                if isinstance(item, _Delivered):
                    self.report.received += 1
                    tweets[item.tweet.id] = item.tweet
                    live.add(item.tweet.id)
                    for topic in item.topics:
                        links.add((item.tweet.id, topic))
                        if topic not in self._pending:
                            cursors[topic] = max(cursors.get(topic, 0), item.tweet.id)
                else:
                    self.report.recovered += len(item.tweets)
                    for tweet in item.tweets:
                        tweets[tweet.id] = tweet
                        if self.report.mode == "poll" and item.generation > 1:
                            live.add(tweet.id)
                    links.update(item.links)
                    for topic in item.topics:
                        if item.newest_id is not None:
                            cursors[topic] = max(cursors.get(topic, 0), item.newest_id)
                        if item.last and item.generation == self._generation:
                            self._pending.discard(topic)
        links = {(i, t) for i, t in links if t in self.topics}
        result = store_posts(
            self.db,
            tweets,
            links,
            cursors,
            f"x:{self.search.base_url}",
            self.languages,
            self.classifier,
            self._recent,
        )
        committed = datetime.now(UTC)
        lags = [
            (committed - tweets[tid].created_at).total_seconds()
            for tid in result.new_ids & live
            if tweets[tid].created_at is not None
        ]
        with self._lock:
            for topic, newest in cursors.items():
                self._cursors[topic] = max(self._cursors.get(topic, 0), newest)
        self.report.lags += lags
        self.report.batches += 1
        self.report.stored += result.stored
        self.report.kept += result.kept
        self.report.scored += result.scored
        if self.on_batch is not None:
            self.on_batch(result.as_dict() | {"items": len(items)})
        if self.reporter is not None:
            self.reporter.add(result.stored, result.kept, lags)
            self.reporter.maybe_report(self.report.mode, self.topics, self.report.gaps)

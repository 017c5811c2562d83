"""News as text: each news item and research reading becomes a short headline.

Heuristic teams read the numbers (:mod:`~llm_market.information.beliefs`); language-model teams
read headlines. A headline says which index, which way, how strongly, about which day, from
which source (public wire, private contact, the team's own research desk; a private item a
neighbour passes on keeps its headline, see :func:`relayed`) and how
reliable the source is, in words rather than numbers, so a model has to forecast rather than
copy a probability.

The default generator, :class:`TemplateHeadlines`, fills templates and picks among phrasings with
its own seeded stream (``streams["headlines"]``), so headlines are replayable and no other
component's draws change. Any object with a ``headline(item) -> str`` method is a generator
(:class:`HeadlineGenerator`); ``headline_generator="package.module:Class"`` plugs one in
(:func:`make_generator`), built as ``Class(rng)``.

Words for the numbers (documented in ``docs/llm.md``). A reading ``y`` of a standardised shock
(prior N(0, 1), so 1 is a typical day's move) with noise sd ``s`` suggests a move of
``m = y / (1 + s^2)`` on its own (the one-reading posterior mean, no other information):

* direction: the sign of ``m``; ``|m| < 0.1`` is "flat";
* strength: ``|m|`` below 0.4 "slight", below 1 "moderate", else "strong";
* reliability: ``s`` at most 0.5 "reliable", at most 1 "fair", else "shaky".
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ParameterError
from .news import PUBLIC

SOURCES = ("public", "private", "research")
FLAT = 0.1
STRENGTHS = ((0.4, "slight"), (1.0, "moderate"), (math.inf, "strong"))
RELIABILITY = ((0.5, "reliable"), (1.0, "fair"), (math.inf, "shaky"))


@dataclass(frozen=True)
class NewsItem:
    """One piece of news or research, as numbers.

    Attributes:
        index: The index it is about.
        value: The reading of a standardised shock (for research, of the standardised sum of the
            shocks over ``span`` days).
        noise_sd: The reading's noise sd.
        about_day: The (first) day it is about.
        source: ``public``, ``private`` or ``research``.
        span: Days it covers (1 for a news item).
        team: The receiving team (-1 for public news).
    """

    index: int
    value: float
    noise_sd: float
    about_day: int
    source: str
    span: int = 1
    team: int = -1

    @property
    def public(self) -> bool:
        """Whether every team received it."""
        return self.source == "public"

    @property
    def suggested(self) -> float:
        """The move the reading suggests on its own: ``value / (1 + noise_sd^2)``."""
        return self.value / (1.0 + self.noise_sd**2)

    @property
    def direction(self) -> str:
        """``up``, ``down`` or ``flat``."""
        m = self.suggested
        if abs(m) < FLAT:
            return "flat"
        return "up" if m > 0 else "down"

    @property
    def strength(self) -> str:
        """``slight``, ``moderate`` or ``strong``."""
        return next(word for bound, word in STRENGTHS if abs(self.suggested) < bound)

    @property
    def reliability(self) -> str:
        """``reliable``, ``fair`` or ``shaky``."""
        return next(word for bound, word in RELIABILITY if self.noise_sd <= bound)


@runtime_checkable
class HeadlineGenerator(Protocol):
    """Anything that turns a news item into a headline."""

    def headline(self, item: NewsItem) -> str:
        """Return the item's headline (one line)."""
        ...


_MOVE = {
    ("up", "slight"): "edge up",
    ("up", "moderate"): "rise",
    ("up", "strong"): "jump",
    ("down", "slight"): "edge down",
    ("down", "moderate"): "fall",
    ("down", "strong"): "slump",
}
_NOUN = {"up": "gain", "down": "drop"}

# Phrasings per source; {when} is "on day N" for news, "over days N-M" for research.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "public": (
        "Wire: index {k} expected to {move} {when} ({rel} source, public)",
        "Public report: {strength} {noun} seen for index {k} {when} ({rel}, public)",
        "Markets news: analysts see index {k} {move} {when} ({rel}, public)",
    ),
    "private": (
        "A contact tells you index {k} will {move} {when} ({rel} source, private)",
        "Private tip: {strength} {noun} for index {k} {when} ({rel}, private)",
        "Your network hears index {k} may {move} {when} ({rel}, private)",
    ),
    "research": (
        "Your research desk: index {k} looks set to {move} {when} ({rel} estimate)",
        "Research note: {strength} {noun} for index {k} {when} ({rel} estimate)",
    ),
}
_FLAT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "public": ("Wire: little change expected for index {k} {when} ({rel} source, public)",),
    "private": ("A contact expects index {k} to hold steady {when} ({rel} source, private)",),
    "research": ("Your research desk: index {k} looks flat {when} ({rel} estimate)",),
}


class TemplateHeadlines:
    """Headlines from fixed templates, the phrasing drawn from a seeded stream.

    Args:
        rng: The generator's own stream (one draw per headline).
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def headline(self, item: NewsItem) -> str:
        """Return the item's headline."""
        if item.source not in SOURCES:
            raise ValueError(f"unknown news source {item.source!r}")
        flat = item.direction == "flat"
        choices = (_FLAT_TEMPLATES if flat else _TEMPLATES)[item.source]
        template = choices[int(self.rng.integers(len(choices)))]
        if item.span > 1:
            when = f"over days {item.about_day}-{item.about_day + item.span - 1}"
        else:
            when = f"on day {item.about_day}"
        key = (item.direction, item.strength)
        return template.format(
            k=item.index,
            move=_MOVE.get(key, "hold"),
            strength=item.strength,
            noun=_NOUN.get(item.direction, "move"),
            when=when,
            rel=item.reliability,
        )

    def news_headlines(self, log: dict[str, np.ndarray]) -> list[str]:
        """The headlines of a day's news log, as ``headline`` gives them item by item.

        The same words, templates and draws, without building an item per headline: the
        templates are picked in one draw of the stream (a single phrasing draws nothing, so
        the flat items are skipped as ``integers(1)`` would skip them).
        """
        sources = ["public" if kind == PUBLIC else "private" for kind in log["kind"].tolist()]
        values, noise = log["value"].tolist(), log["noise_sd"].tolist()
        days = log["about_day"].tolist()
        out = self._fill(sources, values, noise, log["index"].tolist(), days, [1] * len(days))
        return [self.headline(item) for item in news_items(log)] if out is None else out

    def item_headlines(self, items: list[NewsItem]) -> list[str]:
        """The headlines of ``items``, in order, as ``headline`` gives them one by one.

        The same words, templates and draws as :meth:`news_headlines` makes them.
        """
        if any(item.source not in SOURCES for item in items):
            return [self.headline(item) for item in items]  # raises as it would
        out = self._fill(
            [item.source for item in items],
            [item.value for item in items],
            [item.noise_sd for item in items],
            [item.index for item in items],
            [item.about_day for item in items],
            [item.span for item in items],
        )
        return [self.headline(item) for item in items] if out is None else out

    def _fill(self, sources, values, noise, indices, days, spans) -> list[str] | None:
        """Headlines from the items' fields, the phrasings drawn in one batch.

        None when a value is not a number, which the item by item path reports as it would.
        """
        suggested = [v / (1.0 + sd**2) for v, sd in zip(values, noise, strict=True)]
        if not all(math.isfinite(m) for m in suggested) or any(sd != sd for sd in noise):
            return None
        flat = [abs(m) < FLAT for m in suggested]
        counts = [
            len((_FLAT_TEMPLATES if f else _TEMPLATES)[src])
            for f, src in zip(flat, sources, strict=True)
        ]
        drawn = [n for n in counts if n > 1]
        if len(set(drawn)) > 1:  # phrasings of unequal counts: one draw each, in order
            picks = [int(self.rng.integers(n)) for n in counts]
        else:
            batch = iter(self.rng.integers(drawn[0], size=len(drawn)).tolist() if drawn else ())
            picks = [next(batch) if n > 1 else 0 for n in counts]
        out = []
        for src, m, sd, f, pick, k, day, span in zip(
            sources, suggested, noise, flat, picks, indices, days, spans, strict=True
        ):
            strength = _word(STRENGTHS, abs(m), at_bound=False)
            rel = _word(RELIABILITY, sd, at_bound=True)
            direction = "flat" if f else "up" if m > 0 else "down"
            key = (src, pick, direction, strength, rel)
            phrase = _PHRASES.get(key)
            if phrase is None:
                phrase = _PHRASES[key] = _phrase(*key)
            when = f"over days {day}-{day + span - 1}" if span > 1 else f"on day {day}"
            out.append(phrase.format(k=k, when=when))
        return out


# Templates with every word but the index and the day filled in, by (source, phrasing,
# direction, strength, reliability): at most a few hundred, so a day's headlines only fill in
# two fields each.
_PHRASES: dict[tuple[str, int, str, str, str], str] = {}


def _phrase(source: str, pick: int, direction: str, strength: str, rel: str) -> str:
    """A template with its words filled in and ``{k}`` and ``{when}`` left to fill."""
    template = (_FLAT_TEMPLATES if direction == "flat" else _TEMPLATES)[source][pick]
    return template.format(
        k="{k}",
        move=_MOVE.get((direction, strength), "hold"),
        strength=strength,
        noun=_NOUN.get(direction, "move"),
        when="{when}",
        rel=rel,
    )


def _word(table: tuple[tuple[float, str], ...], x: float, at_bound: bool) -> str:
    """The word of the first bound above ``x`` (or at ``x`` too, with ``at_bound``)."""
    for bound, word in table:
        if x < bound or (at_bound and x == bound):
            return word
    raise ValueError(f"no word for {x}")  # unreachable: finite x, the last bound is inf


def item_headlines(generator: HeadlineGenerator, items: list[NewsItem]) -> list[str]:
    """The headline of every item, in order.

    The template generator writes them in one pass (:meth:`TemplateHeadlines.item_headlines`);
    any other generator (a subclass too) is handed the items one by one.
    """
    if type(generator) is TemplateHeadlines:
        return generator.item_headlines(items)
    return [generator.headline(item) for item in items]


def log_headlines(generator: HeadlineGenerator, log: dict[str, np.ndarray]) -> list[str]:
    """The headline of every item of a day's news log, in the log's order.

    The template generator writes them in one pass (:meth:`TemplateHeadlines.news_headlines`);
    any other generator (a subclass too, which may change ``headline``) is handed the items.
    """
    if type(generator) is TemplateHeadlines:
        return generator.news_headlines(log)
    return [generator.headline(item) for item in news_items(log)]


def make_generator(spec: str, rng: np.random.Generator) -> HeadlineGenerator:
    """The headline generator a ``headline_generator`` setting names.

    Args:
        spec: ``templates`` (the default) or an import path ``package.module:Class``; the class
            is built as ``Class(rng)`` and must have a ``headline(item) -> str`` method.
        rng: The stream the generator draws from.

    Raises:
        ParameterError: The path does not import, names nothing, or names no generator.
    """
    if spec == "templates":
        return TemplateHeadlines(rng)
    label = f"headline_generator={spec!r}"
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ParameterError(f"{label}: give 'templates' or an import path 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ParameterError(f"{label}: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise ParameterError(f"{label}: module {module_name!r} has no {attr!r}")
    try:
        generator = factory(rng)
    except Exception as err:  # a user's class: report whatever it raises, in one line
        raise ParameterError(f"{label}: {attr}(rng) failed ({type(err).__name__}: {err})") from None
    if not isinstance(generator, HeadlineGenerator):
        raise ParameterError(f"{label}: {attr}(rng) has no headline(item) method")
    return generator


def relayed(headline: str) -> str:
    """The headline of a private item a neighbour passes on (no draw: relays are not logged)."""
    return f"A neighbour passes on: {headline}"


def news_items(log: dict[str, np.ndarray]) -> list[NewsItem]:
    """The items of a day's news log (:meth:`~.news.NewsProcess.draw`), in the log's order."""
    return [
        NewsItem(
            index=int(k),
            value=float(v),
            noise_sd=float(sd),
            about_day=int(d),
            source="public" if kind == PUBLIC else "private",
            team=int(t),
        )
        for kind, t, k, d, v, sd in zip(
            log["kind"],
            log["team"],
            log["index"],
            log["about_day"],
            log["value"],
            log["noise_sd"],
            strict=True,
        )
    ]


def research_items(
    team: int, day: int, values: np.ndarray, precision: float, spans: tuple[int, ...]
) -> list[NewsItem]:
    """One item per index and span from a team's research readings of every future day.

    Args:
        team: The team.
        day: The first day the readings are about (tomorrow).
        values: Readings of each index's next days, shape (K, H).
        precision: The precision of each reading.
        spans: How many days ahead each item sums (each at most H).

    The value is the sum of the readings over the span over ``sqrt(span)``: a reading of the
    standardised sum of the span's shocks, with noise sd ``1 / sqrt(precision)``.
    """
    noise = 1.0 / math.sqrt(precision) if precision > 0 else math.inf
    return [
        NewsItem(
            index=k,
            value=float(values[k, :span].sum() / math.sqrt(span)),
            noise_sd=noise,
            about_day=day,
            source="research",
            span=span,
            team=team,
        )
        for k in range(values.shape[0])
        for span in spans
    ]

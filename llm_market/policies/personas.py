"""Personas: a language-model team's traits told as a character in its system prompt.

A heuristic team acts on its :class:`~.base.Profile` (confidence, herding, research intensity,
skill) through formulas; a language-model team is told them as a persona instead. By default the
persona follows from the traits (:func:`persona_from_profile`), deterministically:

=============  ====================================================================
name           when (checked in this order)
=============  ====================================================================
``herder``     herding >= 0.3: leans on what its neighbours forecast
``contrarian`` herding < 0.1 and confidence >= 1.25: trusts itself against the crowd
``bold``       confidence >= 1.1: states strong views
``cautious``   confidence <= 0.9: hedges toward 50%
``researcher`` research intensity >= 1.5: buys information heavily
``frugal``     research intensity <= 0.67: spends little on research
``steady``     otherwise: a balanced team
=============  ====================================================================

Skill adds a clause ("a sharp analyst" at skill >= 1.25, "with a modest track of insight" at
skill <= 0.8). A user can give their own personas in a TOML file (``llm_personas=``)::

    [[persona]]
    name = "quant"
    text = "You trust only numbers and state them plainly."

and they are handed to the language-model teams in turn, in team order (:class:`PersonaBook`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError, read_toml
from .base import Profile

HERDER_MIN = 0.3
CONTRARIAN_HERDING_MAX = 0.1
CONTRARIAN_CONFIDENCE_MIN = 1.25
BOLD_MIN = 1.1
CAUTIOUS_MAX = 0.9
RESEARCHER_MIN = 1.5
FRUGAL_MAX = 0.67
SHARP_SKILL = 1.25
MODEST_SKILL = 0.8
# A persona's text is one or two sentences: a long one would crowd the instructions out.
MAX_PERSONA_CHARS = 400


@dataclass(frozen=True)
class Persona:
    """A named character.

    Attributes:
        name: Short name (logs and league tables).
        text: What the system prompt says about the team.
    """

    name: str
    text: str


_TEXTS = {
    "herder": "You are a herder: you put real weight on what your neighbours and the crowd "
    "forecast, and move away from them only on strong evidence.",
    "contrarian": "You are a contrarian: you trust your own reading of the evidence and do not "
    "mind standing apart from the crowd when your information says so.",
    "bold": "You are bold: when the evidence points one way you say so with a clear, "
    "confident probability.",
    "cautious": "You are cautious: you hedge toward 50% unless the evidence is clear, and keep "
    "a reserve in your research budget.",
    "researcher": "You are research-minded: you buy information readily and base your "
    "forecasts on it.",
    "frugal": "You are frugal: you spend little on research and rely on public information "
    "and the index's own behaviour.",
    "steady": "You are a steady, balanced team: you weigh your information, the crowd and "
    "your costs evenly.",
}


def archetype(profile: Profile) -> str:
    """The persona's name for a team's traits (see the module's table)."""
    if profile.herding >= HERDER_MIN:
        return "herder"
    if profile.herding < CONTRARIAN_HERDING_MAX and profile.confidence >= CONTRARIAN_CONFIDENCE_MIN:
        return "contrarian"
    if profile.confidence >= BOLD_MIN:
        return "bold"
    if profile.confidence <= CAUTIOUS_MAX:
        return "cautious"
    if profile.research_intensity >= RESEARCHER_MIN:
        return "researcher"
    if profile.research_intensity <= FRUGAL_MAX:
        return "frugal"
    return "steady"


def persona_from_profile(profile: Profile) -> Persona:
    """The persona a team's traits imply."""
    name = archetype(profile)
    text = _TEXTS[name]
    if profile.skill >= SHARP_SKILL:
        text += " Your analysts are sharp: your private information is better than most."
    elif profile.skill <= MODEST_SKILL:
        text += " Your analysts are modest: your private information is noisier than most."
    return Persona(name, text)


def load_personas(path: str | Path) -> list[Persona]:
    """Read a TOML file of ``[[persona]]`` tables, each with a ``name`` and a ``text``.

    Raises:
        UsageError: The file is missing, not TOML, or not a non-empty list of personas with a
            non-empty string name and text (at most :data:`MAX_PERSONA_CHARS` characters).
    """
    label = f"llm_personas {path}"
    data = read_toml(Path(path), label)
    entries = data.get("persona")
    if not isinstance(entries, list) or not entries:
        raise UsageError(
            f'{label}: needs one or more [[persona]] tables with name = "..." and text = "..."'
        )
    personas = []
    for i, entry in enumerate(entries, start=1):
        where = f"{label}: persona {i}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: not a table")
        extra = set(entry) - {"name", "text"}
        if extra:
            raise UsageError(f"{where}: unknown keys {', '.join(sorted(extra))}")
        for key in ("name", "text"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{where}: {key} must be a non-empty string")
        if len(entry["text"]) > MAX_PERSONA_CHARS:
            raise UsageError(f"{where}: text longer than {MAX_PERSONA_CHARS} characters")
        personas.append(Persona(entry["name"].strip(), " ".join(entry["text"].split())))
    return personas


class PersonaBook:
    """Which persona each language-model team is played with.

    Args:
        personas: A user's personas (handed out in turn, in team order), or None to derive each
            team's persona from its traits.
    """

    def __init__(self, personas: list[Persona] | None = None):
        self.personas = personas
        self._order: dict[int, int] = {}
        self._of: dict[int, Persona] = {}
        # The persona each team's traits implied last time, with those traits: a team's
        # profile is fixed, so the persona is derived once, not on every call of every day.
        self._derived: dict[int, tuple[Profile, Persona]] = {}

    def assign(self, teams) -> None:
        """Name the language-model teams, so user personas go round in team order."""
        self._order = {int(t): i for i, t in enumerate(sorted(int(t) for t in teams))}

    def persona(self, team: int, profile: Profile) -> Persona:
        """The persona of ``team`` (remembered, so :meth:`name` can tell it later)."""
        team = int(team)
        if self.personas:
            rank = self._order.get(team, team)
            found = self.personas[rank % len(self.personas)]
        else:
            hit = self._derived.get(team)
            if hit is not None and (hit[0] is profile or hit[0] == profile):
                found = hit[1]
            else:
                found = persona_from_profile(profile)
                self._derived[team] = (profile, found)
        self._of[team] = found
        return found

    def name(self, team: int) -> str:
        """The short name of ``team``'s persona ("" before the team has been seen)."""
        team = int(team)
        if team in self._of:
            return self._of[team].name
        if self.personas:
            return self.personas[self._order.get(team, team) % len(self.personas)].name
        return ""

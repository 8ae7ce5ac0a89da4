"""The Bible retrieval pairs (hpc_itt.assets.bible): Debian's SWORD KJV and Reina-Valera 1909,
installed by the project where missing, read with pysword and aligned verse by verse."""
import json

import pytest

from hpc_itt.assets import dataset_asset

pytestmark = pytest.mark.slow  # the first build reads 2 x 31,102 verses (~1 min)


@pytest.fixture(scope="module")
def pairs():
    with open(dataset_asset("bible-en-es"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_verses_align_by_index(pairs):
    assert len(pairs) == 31_084 and len({p["id"] for p in pairs}) == len(pairs)
    first = pairs[0]
    assert first["en"] == "In the beginning God created the heaven and the earth."
    assert first["es"] == "EN el principio crió Dios los cielos y la tierra."
    last = pairs[-1]  # Revelation 22:21
    assert last["en"] == "The grace of our Lord Jesus Christ be with you all. Amen."
    assert last["es"] == "La gracia de nuestro Señor Jesucristo sea con todos vosotros. Amén."
    matthew = next(p for p in pairs if p["en"].startswith("Now the birth of Jesus Christ was on this wise"))
    assert matthew["es"].startswith("Y el nacimiento de Jesucristo fué así")  # Matthew 1:18, ¶ removed


def test_no_markup_is_left(pairs):
    assert not [p for p in pairs if any(c in p["en"] + p["es"] for c in "<>¶")]
    assert all(p["en"] == " ".join(p["en"].split()) and p["es"] == " ".join(p["es"].split()) for p in pairs)

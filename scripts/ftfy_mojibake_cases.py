#!/usr/bin/env python3
"""
Builds the test data of test/ftfy.test.ts that needs Python:

1. test/data/ftfy/mojibake20.json: a sentence in each of 20 languages (written for this project,
   describing a pedestrian as the datasets' captions do), turned into mojibake the way it happens
   (UTF-8 bytes decoded with another encoding), with each encoding that ftfy repairs:
   - once, twice (the mojibake encoded as UTF-8 and misread again), and in part of the sentence
     (only its second half garbled), for Latin-1, Windows-1250/1251/1252/1253/1254/1257
     (decoded "sloppily": an undefined byte becomes the Latin-1 character of that byte, as
     browsers and ftfy do), ISO-8859-2, MacRoman and CP437;
   - CESU-8 (the sentence with an emoji, its surrogates encoded one by one, as Java does) read
     as Latin-1 and as Windows-1252.
   Each case records ftfy 6.3's `fix_text` of the garbled text, and whether that equals
   `fix_text` of the sentence itself (ftfy restored it).

2. test/data/ftfy/random.json: 2,000 random strings (seeded) built from the characters ftfy's
   heuristics look at (its badness categories and UTF-8 clues, spaces, `&`, `<`, line breaks,
   entities, ligatures) and from garbled words, with ftfy 6.3's `fix_text` of each.

3. The field "ftfy-6.3" in test/data/ftfy/{negative,synthetic,in-the-wild}.json, on the cases
   where ftfy 6.3's output differs from the file's "fixed" (cases added to ftfy's tests after
   6.3, for later heuristics).

Needs ftfy 6.3 (`pip install ftfy==6.3.1`); the encodings come from Python's standard codecs.
Run: python3 scripts/ftfy_mojibake_cases.py
"""

import json
import random
import sys
from pathlib import Path

import ftfy
from ftfy.badness import MOJIBAKE_CATEGORIES
from ftfy.chardata import UTF8_CLUES

if not ftfy.__version__.startswith("6.3"):
    raise SystemExit(f"needs ftfy 6.3 (the reference's version), found {ftfy.__version__}")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "test" / "data" / "ftfy"

SENTENCES = {
    "French": "Une femme aux cheveux châtains porte une veste bleue, un pantalon noir et des chaussures à talons ; elle tient un sac en cuir.",
    "German": "Ein älterer Mann trägt einen grünen Mantel, eine graue Mütze und weiße Schuhe; er schiebt ein Fahrrad über die Straße.",
    "Spanish": "Un niño pequeño lleva una camiseta roja, pantalones cortos y zapatillas; camina junto a su señora madre por la acera.",
    "Portuguese": "A mulher usa um vestido amarelo, óculos de sol e sandálias; ela está à espera do ônibus na estação.",
    "Polish": "Młoda kobieta ma na sobie różową kurtkę, czarne spodnie i białe buty; niesie torbę na ramieniu.",
    "Czech": "Muž středního věku má tmavě modrou bundu, šedé kalhoty a hnědé boty; v ruce drží deštník.",
    "Hungarian": "Egy idős nő hosszú kabátot, kötött sapkát és fekete csizmát visel; a járdán sétál a kutyájával.",
    "Romanian": "Un bărbat înalt poartă o cămașă albă, pantaloni gri și pantofi maro; ține în mână o geantă.",
    "Turkish": "Uzun boylu bir kız kırmızı bir ceket, siyah pantolon ve beyaz ayakkabı giyiyor; sırtında çanta taşıyor.",
    "Swedish": "En kvinna i blå jacka och svarta byxor går över gatan; hon bär en väska på höger axel.",
    "Icelandic": "Ungur maður í grænni úlpu og gallabuxum gengur með hundinn sinn; hann er með húfu á höfðinu.",
    "Lithuanian": "Jaunas vyras dėvi tamsią striukę, pilkas kelnes ir baltus batus; jis neša kuprinę ant peties.",
    "Latvian": "Sieviete valkā sarkanu mēteli, melnas bikses un brūnus zābakus; viņa tur rokā lietussargu.",
    "Russian": "Молодая женщина в красном пальто и чёрных брюках идёт по улице; в руке у неё сумка.",
    "Ukrainian": "Чоловік у сірій куртці та синіх джинсах стоїть біля входу; на плечі в нього рюкзак.",
    "Greek": "Μια γυναίκα με μπλε φόρεμα και λευκά παπούτσια περπατά στον δρόμο· κρατά μια τσάντα.",
    "Hebrew": "אישה צעירה לובשת מעיל אדום ומכנסיים שחורים, והיא מחזיקה תיק גדול ביד.",
    "Arabic": "رجل طويل يرتدي قميصًا أبيض وسروالًا أسود، ويحمل حقيبة ظهر زرقاء.",
    "Vietnamese": "Một người phụ nữ mặc áo khoác màu xanh, quần đen và giày trắng; cô ấy đang đeo túi xách.",
    "Japanese": "赤いコートを着た若い女性が、黒いバッグを持って歩道を歩いている。",
}

# ftfy's name -> (Python codec, sloppy)
ENCODINGS = {
    "latin-1": ("latin-1", False),
    "windows-1252": ("cp1252", True),
    "windows-1251": ("cp1251", True),
    "windows-1250": ("cp1250", True),
    "windows-1253": ("cp1253", True),
    "windows-1254": ("cp1254", True),
    "windows-1257": ("cp1257", True),
    "iso-8859-2": ("iso8859_2", False),
    "macroman": ("mac_roman", False),
    "cp437": ("cp437", False),
}

EMOJI = "\N{DRESS}"


def dumps(value: object) -> str:
    """JSON with readable text: only characters that do not print (controls, no-break and other
    spaces, soft hyphens, surrogates) are written as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return "".join(ch if ch.isprintable() or ch == "\n" else f"\\u{ord(ch):04x}" for ch in text) + "\n"


def misread(data: bytes, encoding: str) -> str:
    """`data` decoded with `encoding`; in a sloppy one an undefined byte is its Latin-1 character."""
    codec, sloppy = ENCODINGS[encoding]
    if not sloppy:
        return data.decode(codec)
    return "".join(
        ch if ch != "\ufffd" else chr(b) for b, ch in zip(data, data.decode(codec, errors="replace"))
    )


def garble(text: str, encoding: str) -> str:
    return misread(text.encode("utf-8"), encoding)


def cesu8(text: str) -> bytes:
    """CESU-8: UTF-8 of the UTF-16 code units (an astral character becomes two 3-byte surrogates)."""
    units = text.encode("utf-16-be")
    out = bytearray()
    for i in range(0, len(units), 2):
        out += chr(int.from_bytes(units[i : i + 2], "big")).encode("utf-8", errors="surrogatepass")
    return bytes(out)


def second_half_garbled(sentence: str, encoding: str) -> str:
    words = sentence.split(" ")
    if len(words) == 1:  # Japanese: no spaces, cut by characters
        cut = len(sentence) // 2
        return sentence[:cut] + garble(sentence[cut:], encoding)
    cut = len(words) // 2
    return " ".join(words[:cut] + [garble(" ".join(words[cut:]), encoding)])


def case(lang: str, sentence: str, encoding: str, mode: str, text: str) -> dict:
    fixed = ftfy.fix_text(text)
    return {
        "language": lang,
        "encoding": encoding,
        "mode": mode,
        "sentence": sentence,
        "text": text,
        "ftfy": fixed,
        "restored": fixed == ftfy.fix_text(sentence),
    }


def mojibake_cases() -> list[dict]:
    cases = []
    for lang, sentence in SENTENCES.items():
        for encoding in ENCODINGS:
            once = garble(sentence, encoding)
            cases.append(case(lang, sentence, encoding, "once", once))
            cases.append(case(lang, sentence, encoding, "twice", garble(once, encoding)))
            cases.append(case(lang, sentence, encoding, "part", second_half_garbled(sentence, encoding)))
        with_emoji = f"{sentence} {EMOJI}"
        for encoding in ("latin-1", "windows-1252"):
            cases.append(case(lang, with_emoji, encoding, "cesu-8", misread(cesu8(with_emoji), encoding)))
    return cases


def random_cases(count: int = 2000, seed: int = 13) -> list[dict]:
    rng = random.Random(seed)
    heuristic_chars = sorted(set("".join(MOJIBAKE_CATEGORIES.values()) + "".join(UTF8_CLUES.values())) - {"-"})
    pieces = heuristic_chars + list("abcXYZ  .,?!\n\r&<;é\xa0\xad") + [
        "Ã", "Â", "â€", "Ã©", "&amp;", "&eacute;", "&EACUTE;", "\x1b[1m", "ﬁ", "Ａ", "\u2028",
    ]
    words = ["café", "naïve", "Straße", "Привет", "Ελλάδα", "שלום", "日本語", "✔", "😍", "—", "“q”", "…", "Øresund"]
    cases = []
    while len(cases) < count:
        if rng.random() < 0.4:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        else:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
            for _ in range(rng.choice([1, 1, 2])):
                text = garble(text, rng.choice(list(ENCODINGS)))
            if rng.random() < 0.3:
                text = rng.choice(words) + " " + text
            if rng.random() < 0.2:
                text = text.replace("\xa0", " ")
        cases.append({"text": text, "ftfy": ftfy.fix_text(text)})
    return cases


def annotate_ftfy_cases() -> None:
    for name in ("negative", "synthetic", "in-the-wild"):
        path = DATA / f"{name}.json"
        cases = json.loads(path.read_text(encoding="utf-8"))
        for c in cases:
            c.pop("ftfy-6.3", None)
            out = ftfy.fix_text(c["original"])
            if out != c["fixed"]:
                c["ftfy-6.3"] = out
        path.write_text(dumps(cases), encoding="utf-8")


def main() -> None:
    cases = mojibake_cases()
    (DATA / "mojibake20.json").write_text(dumps(cases), encoding="utf-8")
    (DATA / "random.json").write_text(dumps(random_cases()), encoding="utf-8")
    annotate_ftfy_cases()
    restored = sum(c["restored"] for c in cases)
    print(f"{len(cases)} mojibake cases, ftfy 6.3 restores {restored}", file=sys.stderr)


if __name__ == "__main__":
    main()

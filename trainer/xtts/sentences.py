"""Fixture sentences, one per language: the raw text and the text after Coqui's cleaning
(lowercase, quotes removed; zh as pypinyin TONE3 syllables joined without spaces, ja as cutlet
romaji, ko as academic romanisation). Numbers are avoided so the cleaned text does not depend on
the num2words version. The cleaned forms were written by hand from those rules."""

SENTENCES = [
    ("en", "Hello, world! This is a test.", "hello, world! this is a test."),
    ("es", "Hola, ¿cómo estás? Buenos días.", "hola, ¿cómo estás? buenos días."),
    ("fr", "Bonjour, le monde! Ça va très bien.", "bonjour, le monde! ça va très bien."),
    ("de", "Guten Morgen, schöne Grüße aus Köln.", "guten morgen, schöne grüße aus köln."),
    ("it", "Buongiorno, come stai oggi?", "buongiorno, come stai oggi?"),
    ("pt", "Olá, tudo bem com você?", "olá, tudo bem com você?"),
    ("pl", "Dzień dobry, jak się masz?", "dzień dobry, jak się masz?"),
    ("tr", "İyi günler, nasılsınız?", "iyi günler, nasılsınız?"),
    ("ru", "Привет, как дела?", "привет, как дела?"),
    ("nl", "Goedemorgen, hoe gaat het?", "goedemorgen, hoe gaat het?"),
    ("cs", "Dobrý den, jak se máte?", "dobrý den, jak se máte?"),
    ("ar", "مرحبا، كيف حالك؟", "مرحبا، كيف حالك؟"),
    ("zh-cn", "你好，世界。", "ni3hao3，shi4jie4。"),
    ("hu", "Jó napot, hogy vagy?", "jó napot, hogy vagy?"),
    ("ko", "안녕하세요", "annyeonghaseyo"),
    ("ja", "こんにちは、世界。", "konnichiha, sekai."),
    ("hi", "नमस्ते, आप कैसे हैं?", "नमस्ते, आप कैसे हैं?"),
]

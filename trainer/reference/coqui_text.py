"""Reference text cleaning and token ids from Coqui's own XTTS-v2 tokenizer, over a generated corpus.

Generates a deterministic corpus (numbers, decimals, ordinals, currencies, percentages, years and
dates, abbreviations, punctuation including full-width forms, mixed scripts; at least 200 sentences
in each of the 17 XTTS-v2 languages), runs every sentence through Coqui's `VoiceBpeTokenizer`
(`preprocess_text` for the cleaned text the BPE sees, `encode` for the ids) exactly as `Xtts.inference`
calls it (stripped and lowercased first), and writes one JSON fixture with the package versions used.

Coqui's code is imported from an unpacked coqui-tts wheel (its `TTS/` folder); only the tokenizer
module and what it imports are loaded (the package `__init__`s, which pull in the whole model stack,
are bypassed). The released XTTS-v2 vocab.json is not redistributable here, so ids are computed with
the vocabulary given by --vocab (the tiny test model's); the cleaned text is what decides the ids under
any vocabulary.

usage: python coqui_text.py COQUI_SRC VOCAB_JSON OUT_JSON
(trainer/reference/regenerate.sh sets up the environment and runs it.)"""
import hashlib
import importlib
import importlib.metadata
import json
import os
import random
import sys
import types

SEED = 13
PER_LANGUAGE = 220
LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi"]
PACKAGES = ["coqui-tts", "num2words", "cutlet", "fugashi", "unidic-lite", "pypinyin", "hangul-romanize",
            "jieba", "tokenizers", "inflect", "anyascii", "torch"]

# Carrier sentences: "{}" takes the generated item. Plain sentences carry no number.
FRAMES = {
    "en": ["I counted {} of them.", "The report says {} in total.", "She paid {} yesterday!", "Was it really {}?",
           "We will meet on {}, I think.", "Mr. Smith wrote {} in the letter."],
    "es": ["Conté {} en total.", "El informe dice {} hoy.", "¿Pagó {} ayer?", "¡Fueron {} personas!",
           "Nos vemos el {}, creo.", "La Sra. García escribió {} en la carta."],
    "fr": ["J'ai compté {} en tout.", "Le rapport indique {} aujourd'hui.", "Elle a payé {} hier !",
           "Était-ce vraiment {} ?", "On se voit le {}, je crois.", "Mme. Moreau a écrit {} dans la lettre."],
    "de": ["Ich habe {} gezählt.", "Der Bericht nennt {} insgesamt.", "Sie hat gestern {} bezahlt!",
           "War es wirklich {}?", "Wir treffen uns am {}, glaube ich.", "Frau Dr. Müller schrieb {} in den Brief."],
    "it": ["Ho contato {} in tutto.", "Il rapporto dice {} oggi.", "Ha pagato {} ieri!", "Era davvero {}?",
           "Ci vediamo il {}, credo.", "Il Sig. Rossi ha scritto {} nella lettera."],
    "pt": ["Contei {} no total.", "O relatório diz {} hoje.", "Ela pagou {} ontem!", "Foi mesmo {}?",
           "Vemo-nos no dia {}, acho eu.", "O Sr. Silva escreveu {} na carta."],
    "pl": ["Policzyłem {} razem.", "Raport podaje {} dzisiaj.", "Zapłaciła wczoraj {}!", "Czy to naprawdę {}?",
           "Spotkamy się {}, chyba.", "Dr. Kowalski napisał {} w liście."],
    "tr": ["Toplam {} saydım.", "Rapor bugün {} diyor.", "Dün {} ödedi!", "Gerçekten {} miydi?",
           "Sanırım {} tarihinde buluşacağız.", "Dr. Yılmaz mektupta {} yazdı."],
    "ru": ["Я насчитал {} всего.", "В отчёте сказано {} сегодня.", "Она заплатила {} вчера!",
           "Неужели это было {}?", "Встретимся {}, наверное.", "Д-р Смирнов написал {} в письме."],
    "nl": ["Ik heb {} geteld.", "Het rapport noemt {} vandaag.", "Ze betaalde gisteren {}!", "Was het echt {}?",
           "We zien elkaar op {}, denk ik.", "Dhr. Jansen schreef {} in de brief."],
    "cs": ["Napočítal jsem {} celkem.", "Zpráva uvádí {} dnes.", "Včera zaplatila {}!", "Bylo to opravdu {}?",
           "Uvidíme se {}, myslím.", "Dr. Novák napsal {} v dopise."],
    "ar": ["لقد عددت {} في المجموع.", "يقول التقرير {} اليوم.", "دفعت {} أمس!", "هل كان حقا {}؟",
           "سنلتقي في {}، على ما أظن.", "كتب الطبيب {} في الرسالة."],
    "zh-cn": ["我一共数了{}。", "报告说今天是{}。", "她昨天付了{}！", "真的是{}吗？", "我们{}见面，好吗？",
              "王先生在信里写了{}。"],
    "hu": ["Összesen {} számoltam.", "A jelentés szerint ma {}.", "Tegnap {} fizetett!", "Tényleg {} volt?",
           "Azt hiszem, {} találkozunk.", "Dr. Szabó {} írt a levélben."],
    "ko": ["모두 {} 세었어요.", "보고서에 오늘 {}라고 나와요.", "그녀는 어제 {} 냈어요!", "정말 {}였나요?",
           "우리는 {}에 만나요, 아마도.", "김 선생님이 편지에 {} 썼어요."],
    "ja": ["全部で{}数えました。", "報告書には今日{}とあります。", "彼女は昨日{}払いました！", "本当に{}でしたか？",
           "私たちは{}に会います、たぶん。", "田中さんは手紙に{}と書きました。"],
    "hi": ["मैंने कुल {} गिने।", "रिपोर्ट में आज {} लिखा है।", "उसने कल {} चुकाए!", "क्या सच में {} था?",
           "हम {} को मिलेंगे, शायद।", "डॉ. शर्मा ने पत्र में {} लिखा।"],
}

PLAIN = {
    "en": ["Hello, world! How are you today?", "The quick brown fox jumps over the lazy dog.",
           "Dr. Jones & Mr. Brown met at St. Paul's.", "Wait... what? \"Really,\" she said — no; yes!"],
    "es": ["¡Hola! ¿Cómo estás hoy?", "El Dr. Pérez y la Dra. López llegaron tarde.",
           "«Ven aquí», dijo; luego se fue.", "Nos vemos @ la fiesta & después en casa."],
    "fr": ["Bonjour ! Comment ça va ?", "Mme. Dupont et Mr. Martin sont arrivés.",
           "« Viens ici », dit-il ; puis il partit.", "On se voit @ la fête & après à la maison."],
    "de": ["Guten Morgen! Wie geht's?", "Fr. Schmidt und Dr. Weber sind da.",
           "„Komm her“, sagte er; dann ging er.", "Wir sehen uns @ der Feier & danach zu Hause."],
    "it": ["Ciao! Come stai oggi?", "Il Dr. Bianchi e il Sig. Verdi sono arrivati.",
           "«Vieni qui», disse; poi se ne andò.", "Ci vediamo @ la festa & poi a casa."],
    "pt": ["Olá! Como você está hoje?", "O Dr. Costa e a Dra. Souza chegaram tarde.",
           "«Vem cá», disse ele; depois saiu.", "Vemo-nos @ festa & depois em casa."],
    "pl": ["Dzień dobry! Jak się masz?", "P. Nowak i Dr. Wiśniewski już są.",
           "„Chodź tu”, powiedział; potem wyszedł.", "Widzimy się @ imprezie & potem w domu."],
    "tr": ["İyi günler! Nasılsınız?", "B. Yılmaz ve Dr. Öztürk geldi.", "“Buraya gel” dedi; sonra gitti.",
           "Partide görüşürüz @ sonra & evde."],
    "ru": ["Здравствуйте! Как дела?", "Г-н Иванов и д-р Петров пришли.", "«Иди сюда», — сказал он; потом ушёл.",
           "Увидимся @ вечеринке & потом дома."],
    "nl": ["Goedemorgen! Hoe gaat het?", "Mevr. de Vries en Dhr. Jansen zijn er.",
           "„Kom hier”, zei hij; toen ging hij.", "Tot ziens @ het feest & daarna thuis."],
    "cs": ["Dobrý den! Jak se máte?", "Ing. Dvořák a Dr. Svoboda přišli.", "„Pojď sem“, řekl; pak odešel.",
           "Uvidíme se @ večírku & pak doma."],
    "ar": ["مرحبا! كيف حالك اليوم؟", "وصل الطبيب والمهندس معا.", "«تعال هنا»، قال؛ ثم ذهب.",
           "نلتقي @ الحفلة & بعدها في البيت."],
    "zh-cn": ["你好，世界！今天怎么样？", "他说：“我们走吧。”", "《红楼梦》是一本书；我很喜欢。",
              "这是P2P和B2B的区别……对吗？"],
    "hu": ["Jó napot! Hogy van?", "Dr. Kovács és B. Nagy megérkeztek.", "„Gyere ide”, mondta; aztán elment.",
           "Találkozunk @ buliban & utána otthon."],
    "ko": ["안녕하세요! 오늘 어때요?", "김 박사님과 이 선생님이 왔어요.", "“여기로 와”라고 말했어요; 그리고 갔어요.",
           "파티 @ 에서 봐요 & 그 다음 집에서."],
    "ja": ["こんにちは、世界！今日はどうですか？", "東京へ行きます。", "コーヒーを飲みたいです。", "「はい」と彼は言った。"],
    "hi": ["नमस्ते! आप कैसे हैं?", "डॉ. शर्मा और श्री वर्मा आ गए।", "“यहाँ आओ”, उसने कहा; फिर चला गया।",
           "पार्टी @ में मिलते हैं & फिर घर पर।"],
}

# Everyday prose for the languages whose romanisation depends on a dictionary (word readings,
# segmentation, polyphonic characters), beyond the carrier sentences above.
PROSE = {
    "ja": ["毎朝六時に起きて、公園を散歩します。", "駅までバスで行きましょう。", "この本はとても面白かったです。",
           "明日は雨が降るかもしれません。", "日本語を勉強してから三年になります。", "彼はまだ学校に来ていない。",
           "窓を開けてもいいですか？", "新しいパソコンを買いたいと思っています。", "昨日の会議は長すぎました。",
           "子供たちが庭で遊んでいる。", "お茶をもう一杯いかがですか。", "電車が遅れたので、遅刻してしまった。",
           "この町には古いお寺がたくさんあります。", "山田先生は優しくて、親切な人です。", "夏休みに北海道へ旅行しました。",
           "ここで写真を撮らないでください。", "もう少しゆっくり話してくれませんか。", "猫が机の上で寝ています。",
           "来週の金曜日までに報告書を出してください。", "私の趣味は料理と音楽です。", "道に迷ったので、警察官に聞きました。",
           "雪が降っていて、とても寒い。", "彼女は毎日ピアノを練習している。", "このレストランのラーメンは有名です。",
           "図書館は何時まで開いていますか？", "兄は銀行で働いています。", "週末は家でゆっくり休みたい。",
           "その映画はまだ見ていません。", "大きな地震があったが、けが人はいなかった。", "テレビのニュースによると、台風が近づいている。",
           "スーパーで牛乳と卵とパンを買ってきてください。", "この問題について、もう一度考えてみましょう。",
           "彼は若い頃、アメリカの大学で経済を学んだ。", "会議室のエアコンが壊れているようです。",
           "天気がよければ、海で泳ぎたいです。", "妹は将来、医者になりたいと言っています。",
           "このソフトウェアは無料でダウンロードできます。", "駅の近くに新しいホテルが建ちました。",
           "母が作ったカレーはいつもおいしい。", "試験の結果は来月発表されます。",
           "友達と一緒にサッカーの試合を見に行った。", "部屋の掃除が終わったら、買い物に行こう。",
           "彼女の説明はとても分かりやすかった。", "冬になると、日が短くなります。",
           "メールの返事が遅くなって、すみません。", "この道をまっすぐ行くと、右側に郵便局があります。",
           "週に三回、ジムで運動しています。", "外国人観光客が年々増えている。",
           "新幹線で大阪まで二時間半かかります。", "難しい漢字は辞書で調べてください。",
           # written after the engine's Japanese rules, none drawn from them
           "今朝は電車がとても混んでいました。", "来年の春に引っ越す予定です。", "このケーキは誰が作ったんですか？", "新しいスマートフォンの電池はすぐになくなる。", "政府は経済対策を発表した。",
           "昨夜は遅くまで友達と話していた。", "この店は日曜日も営業しています。", "彼の話を聞いて、みんな驚いた。", "先週、祖母の家に遊びに行きました。", "窓の外から鳥の声が聞こえる。",
           "会社の近くに美味しいパン屋があります。", "もし時間があれば、手伝ってもらえますか。", "子供の頃、よく川で魚を釣った。", "このボタンを押すと、ドアが開きます。",
           "大学を卒業してから、東京で働いている。", "明後日までに返事をください。", "最近、運動不足で体が重い。", "コンサートのチケットは売り切れでした。", "病院の待合室はとても静かだった。",
           "秋になると、木の葉が赤くなります。", "インターネットで飛行機の予約をした。", "彼女は笑いながら手を振った。", "この漢字の読み方を教えてください。", "今夜は星がきれいに見えますね。",
           "古い写真を見て、昔を思い出した。", "店員さんに道を聞きましたが、分かりませんでした。", "毎晩寝る前に日記を書いています。", "会議は午後三時から始まります。",
           "駅前のカフェで待ち合わせしましょう。", "このプロジェクトは来月完成する予定だ。"],
    "zh-cn": ["我每天早上六点起床，然后去公园散步。", "我们坐公共汽车去火车站吧。", "这本书非常有意思。",
              "明天可能会下雨，别忘了带伞。", "我学习汉语已经三年了。", "他还没有到学校。", "我可以打开窗户吗？",
              "我想买一台新电脑。", "昨天的会议开得太长了。", "孩子们在院子里玩。", "你要不要再喝一杯茶？",
              "因为火车晚点了，所以我迟到了。", "这个城市有很多古老的寺庙。", "王老师又热情又耐心。",
              "暑假我们去北京旅行了。", "请不要在这里拍照。", "你能说得慢一点吗？", "猫在桌子上睡觉。",
              "请在下周五之前交报告。", "我的爱好是做饭和听音乐。", "我迷路了，就问了警察。", "外面下着雪，非常冷。",
              "她每天都练习弹钢琴。", "这家饭馆的面条很有名。", "图书馆几点关门？", "我哥哥在银行工作。",
              "周末我想在家好好休息。", "那部电影我还没看过。", "发生了大地震，但是没有人受伤。", "新闻说台风快要来了。",
              "请到超市买一些牛奶、鸡蛋和面包。", "关于这个问题，我们再想一想。", "他年轻的时候在美国的大学学习经济。",
              "会议室的空调好像坏了。", "如果天气好的话，我想去海边游泳。", "妹妹说将来想当医生。",
              "这个软件可以免费下载。", "车站附近新开了一家酒店。", "妈妈做的饭总是很好吃。", "考试结果下个月公布。",
              "我和朋友一起去看了足球比赛。", "打扫完房间以后，我们去买东西吧。", "她的解释非常清楚。",
              "到了冬天，白天就变短了。", "对不起，回信晚了。", "沿着这条路一直走，右边就是邮局。",
              "我每个星期去健身房锻炼三次。", "外国游客一年比一年多。", "坐高铁到上海要五个小时。",
              "不认识的汉字请查字典。",
              # written after the engine's Chinese rules, none drawn from them
              "今天早上地铁特别挤。", "我们明年春天打算搬家。", "这个蛋糕是谁做的？", "新手机的电池很快就没电了。", "政府公布了新的经济政策。", "昨天晚上我和朋友聊到很晚。",
              "这家店星期天也营业。", "听了他的话，大家都很吃惊。", "上个星期我去奶奶家玩了。", "窗外传来了小鸟的叫声。", "公司附近有一家好吃的面包店。", "如果你有时间，能帮我一下吗？",
              "小时候我常常在河边钓鱼。", "按这个按钮，门就会打开。", "大学毕业以后，他一直在北京工作。", "请在后天之前给我回复。", "最近运动太少，身体觉得很重。", "音乐会的票已经卖完了。",
              "医院的候诊室非常安静。", "到了秋天，树叶就变红了。", "我在网上订了机票。", "她一边笑一边挥手。", "请告诉我这个字怎么读。", "今晚的星星看得很清楚。", "看着老照片，我想起了过去。",
              "我问了店员怎么走，可是他也不知道。", "我每天晚上睡觉前写日记。", "会议下午三点开始。", "我们在车站前面的咖啡馆见面吧。", "这个项目预计下个月完成。"],
}

# Ordinal suffixes the language's ordinal rule in Coqui's tokenizer recognises (and some it does not).
ORDINAL_SUFFIX = {
    "en": ["st", "nd", "rd", "th"], "es": ["º", "ª", "er", "o"], "fr": ["er", "e", "ème", "re"],
    "de": [".", "º"], "it": ["º", "°", "o", "a"], "pt": ["º", "ª", "o", "a"], "pl": [".", "º"],
    "tr": [".", "inci", "nci"], "ru": ["-й", "-я", "-е", "-го"], "nl": ["e", "ste", "de"], "cs": ["."],
    "ar": ["ر", "ث"], "zh-cn": ["第"], "hu": [".", "ik"], "ko": ["번째", "번", "차"], "ja": ["番目", "位"],
    "hi": ["th", "st"],
}
DECIMAL_SEP = {"en": ".", "ru": ".", "zh-cn": ".", "ja": ".", "ko": ".", "hi": "."}
THOUSANDS_SEP = {"en": ",", "ru": ",", "zh-cn": ",", "ja": ",", "ko": ",", "hi": ","}
MONTH_WORD = {
    "en": "May", "es": "mayo", "fr": "mai", "de": "Mai", "it": "maggio", "pt": "maio", "pl": "maja", "tr": "Mayıs",
    "ru": "мая", "nl": "mei", "cs": "května", "ar": "مايو", "hu": "május", "hi": "मई",
}
MIXED = {
    "en": ["the Москва office", "a café in Zürich", "the iPhone 15 Pro", "version 2.0.1"],
    "ru": ["iPhone 15", "офис Google", "COVID-19", "версия 2.0.1"],
    "zh-cn": ["iPhone 15", "Google公司", "COVID-19疫情", "第3版"],
    "ja": ["iPhone 15", "Googleの会社", "COVID-19", "ＡＢＣ"],
    "ko": ["iPhone 15", "Google 회사", "COVID-19", "버전 2.0"],
    "ar": ["iPhone 15", "شركة Google", "COVID-19", "الإصدار 2.0"],
    "hi": ["iPhone 15", "Google कंपनी", "COVID-19", "संस्करण 2"],
}
DEFAULT_MIXED = ["iPhone 15", "Google", "COVID-19", "Москва", "version 2.0.1"]
FULLWIDTH = ["１２３", "５０％", "（注意）", "「はい」", "【重要】", "ＡＢＣ", "１，０００", "！？", "：；"]


def _thousands(rng: random.Random, lang: str) -> str:
    n = rng.choice([rng.randint(1000, 99999), rng.randint(100000, 9999999)])
    sep = THOUSANDS_SEP.get(lang, ".")
    return f"{n:,}".replace(",", sep)


def _decimal(rng: random.Random, lang: str) -> str:
    whole = rng.choice([0, 1, 2, rng.randint(3, 99), rng.randint(100, 9999)])
    frac = rng.choice(["5", "25", "75", "05", "1", "333", "0"])
    sep = DECIMAL_SEP.get(lang, ",") if rng.random() < 0.8 else rng.choice([".", ","])
    return f"{whole}{sep}{frac}"


def _currency(rng: random.Random, lang: str) -> str:
    amount = rng.choice([str(rng.randint(1, 999)), str(rng.randint(1000, 99999)),
                         f"{rng.randint(0, 999)}{rng.choice(['.', ','])}{rng.randint(0, 99):02d}"])
    sym = rng.choice(["$", "€", "£"])
    return f"{sym}{amount}" if rng.random() < 0.5 else f"{amount}{sym}"


def _percent(rng: random.Random, lang: str) -> str:
    n = rng.choice([str(rng.randint(1, 100)), _decimal(rng, lang)])
    return rng.choice([f"{n}%", f"{n} %", f"%{n}"]) if lang == "tr" else rng.choice([f"{n}%", f"{n} %"])


def _year(rng: random.Random, lang: str) -> str:
    y = rng.randint(1800, 2035)
    if lang == "zh-cn":
        return rng.choice([f"{y}年", f"{y}年{rng.randint(1, 12)}月", f"{y}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                           f"{rng.randint(1, 12)}月{rng.randint(1, 28)}号", f"{y}"])
    if lang == "ja":
        return rng.choice([f"{y}年", f"{y}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日", f"{rng.randint(1, 12)}月"])
    if lang == "ko":
        return rng.choice([f"{y}년", f"{y}년 {rng.randint(1, 12)}월 {rng.randint(1, 28)}일"])
    return rng.choice([str(y), f"{rng.randint(1, 28)} {MONTH_WORD[lang]} {y}"])


def _date(rng: random.Random, lang: str) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1990, 2030)
    return rng.choice([f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}", f"{m}/{d}/{y}", f"{rng.randint(0, 23)}:{rng.randint(0, 59):02d}"])


def _ordinal(rng: random.Random, lang: str) -> str:
    n = rng.choice([rng.randint(1, 31), rng.randint(32, 120)])
    suffix = rng.choice(ORDINAL_SUFFIX[lang])
    return f"第{n}" if suffix == "第" else f"{n}{suffix}"


def _integer(rng: random.Random, lang: str) -> str:
    return str(rng.choice([rng.randint(0, 20), rng.randint(21, 199), rng.randint(200, 9999), rng.randint(10000, 10**7)]))


def _symbol(rng: random.Random, lang: str) -> str:
    return rng.choice([f"{rng.randint(2, 40)}°", "A & B", "a@b.com", f"#{rng.randint(1, 99)}", f"C# {rng.randint(2, 9)}"])


def _mixed(rng: random.Random, lang: str) -> str:
    return rng.choice(MIXED.get(lang, DEFAULT_MIXED))


def _fullwidth(rng: random.Random, lang: str) -> str:
    return rng.choice(FULLWIDTH)


def _special(rng: random.Random, lang: str) -> str:
    """Language-specific number forms: Chinese phone numbers, fractions and measure words; Devanagari
    digits; Korean counters; Japanese counters."""
    if lang == "zh-cn":
        return rng.choice([f"13{rng.randint(100000000, 999999999)}", f"{rng.randint(1, 9)}/{rng.randint(2, 12)}",
                           f"{rng.randint(2, 99)}个人", f"{rng.randint(1, 9)}.{rng.randint(1, 9)}元", f"{rng.randint(2, 20)}多块",
                           f"{rng.randint(1, 9)}万元", f"两{rng.choice(['个', '本', '次'])}"])
    if lang == "hi":
        digits = "०१२३४५६७८९"
        return "".join(digits[int(c)] for c in str(rng.randint(1, 9999)))
    if lang == "ko":
        return f"{rng.randint(1, 99)}{rng.choice(['개', '명', '번', '살', '시'])}"
    if lang == "ja":
        return f"{rng.randint(1, 99)}{rng.choice(['人', '個', '枚', '回', '時'])}"
    return rng.choice([f"{rng.randint(1, 9)}/{rng.randint(2, 12)}", f"-{rng.randint(1, 99)}", f"{rng.randint(1, 9)}x{rng.randint(1, 9)}"])


CATEGORIES = [("integer", _integer), ("thousands", _thousands), ("decimal", _decimal), ("ordinal", _ordinal),
              ("currency", _currency), ("percent", _percent), ("year", _year), ("date", _date), ("symbol", _symbol),
              ("mixed", _mixed), ("fullwidth", _fullwidth), ("special", _special)]


def corpus():
    """[(lang, category, text)], PER_LANGUAGE generated sentences per language (a few plain ones
    among them), then the prose sentences of ja and zh-cn."""
    rng = random.Random(SEED)
    out = []
    for lang in LANGUAGES:
        plain = PLAIN[lang]
        for i in range(PER_LANGUAGE):
            if i < len(plain):
                out.append((lang, "plain", plain[i]))
                continue
            name, gen = CATEGORIES[i % len(CATEGORIES)]
            out.append((lang, name, rng.choice(FRAMES[lang]).format(gen(rng, lang))))
        out.extend((lang, "prose", text) for text in PROSE.get(lang, []))
    return out


def load_coqui(src: str):
    """Coqui's tokenizer module from an unpacked coqui-tts source tree, without running the package
    `__init__`s (they import the whole model stack)."""
    for name in ["TTS", "TTS.tts", "TTS.tts.layers", "TTS.tts.layers.xtts", "TTS.tts.utils", "TTS.tts.utils.text"]:
        mod = types.ModuleType(name)
        mod.__path__ = [os.path.join(src, *name.split("."))]
        sys.modules[name] = mod
    return importlib.import_module("TTS.tts.layers.xtts.tokenizer")


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(src: str, vocab: str, out_path: str) -> None:
    tok_mod = load_coqui(src)
    tok = tok_mod.VoiceBpeTokenizer(vocab)
    entries = []
    for lang, category, text in corpus():
        model_input = text.strip().lower()  # what Xtts.inference hands to encode
        entry = {"lang": lang, "category": category, "text": text}
        try:
            entry["cleaned"] = tok.preprocess_text(model_input, lang.split("-")[0])
            entry["ids"] = tok.encode(model_input, lang)
        except Exception as e:  # noqa: BLE001 - the reference's failures are part of the record
            entry["error"] = f"{type(e).__name__}: {e}".rstrip(": ")
        entries.append(entry)
    xtts = os.path.join(src, "TTS", "tts", "layers", "xtts")
    doc = {
        "generator": "trainer/reference/coqui_text.py",
        "seed": SEED,
        "coqui": {
            "package": "coqui-tts",
            "version": importlib.metadata.version("coqui-tts") if _installed("coqui-tts") else _wheel_version(src),
            "tokenizer_py_sha256": sha256(os.path.join(xtts, "tokenizer.py")),
            "zh_num2words_py_sha256": sha256(os.path.join(xtts, "zh_num2words.py")),
        },
        "packages": {p: importlib.metadata.version(p) for p in PACKAGES if _installed(p)},
        "python": sys.version.split()[0],
        "vocab": {"file": os.path.relpath(vocab, os.getcwd()), "sha256": sha256(vocab)},
        "entries": entries,
    }
    doc["packages"]["coqui-tts"] = doc["coqui"]["version"]
    # One entry per line, so a regenerated fixture diffs line by line.
    head = json.dumps({k: v for k, v in doc.items() if k != "entries"}, ensure_ascii=False, indent=1)
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(f'{head[:-2]},\n "entries": [\n{lines}\n]}}\n')
    failed = sum(1 for e in entries if "error" in e)
    print(f"{len(entries)} sentences, {failed} where Coqui raises -> {out_path}")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def _wheel_version(src: str) -> str:
    for entry in os.listdir(src):
        if entry.startswith("coqui_tts-") and entry.endswith(".dist-info"):
            return entry[len("coqui_tts-") : -len(".dist-info")]
    raise SystemExit(f"{src}: no coqui_tts-*.dist-info beside TTS/; unpack the whole coqui-tts wheel there")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])

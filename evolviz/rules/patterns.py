"""Phrases that recur in what chat models say instead of doing the task: refusals, requests
for missing input, chat preambles. Shared by the rewrite stage (an evolver that refuses)
and the answer stage (an answerer that refuses or asks).

Each pattern is searched near the start of the text (refusals open with them) and the
match is kept as evidence, so a person sees exactly which words decided.
"""

from __future__ import annotations

import re

__all__ = ["ASKS_FOR_INPUT", "REFUSAL", "find_asks_for_input", "find_no_answer", "find_refusal",
           "is_error_page"]

_I = re.IGNORECASE
_ACT = (r"(?:help|assist|comply|fulfil+|provide|create|write|rewrite|generate|complete|"
        r"answer|do (?:that|this|so)|make|produce|support|continue|engage|respond|perform|"
        r"share|give)")
REFUSAL = [re.compile(p, _I) for p in (
    r"^\W*(?:i'?m|i am)\s+(?:so\s+|very\s+|really\s+)?sorry\b",
    r"^\W*sorry\b",
    r"^\W*(?:my\s+)?apologies\b",
    r"^\W*i\s+apologi[sz]e\b",
    r"^\W*as an? (?:ai|artificial intelligence|language model|large language model|llm|"
    r"ai language model|ai assistant|assistant)\s*(?:developed by \w+\s*)?,",
    r"^\W*(?:unfortunately,?\s+)?(?:i\s+(?:can\s*not|can't|cant|won't|will not|"
    r"must decline to|do not feel comfortable|don't feel comfortable|am unable to|"
    r"am not able to)|i'm\s+(?:unable|not able) to)\b(?:\W+\w+){0,3}?\W+" + _ACT + r"\b",
    r"^\W*i\s+(?:must|have to)\s+decline\b",
    r"^\W*(?:i'?m|i am|i'm)\s+not\s+(?:comfortable|in a position)\b",
    r"^\W*i'?m afraid i\s+(?:can'?t|cannot|can not)\s+(?:\w+\s+){0,2}?" + _ACT + r"\b",
    r"^\W*(?:that|this) (?:is not something|isn't something) i can\b",
    r"^\W*i (?:do not|don't) have (?:access|the ability|enough information)\b",
    r"^\W*i(?:'?d| would) (?:rather|prefer) not\b",
    r"\bi(?:'ll| will)? (?:have to|must|need to) pass on (?:this|that|it)\b|"
    r"^\W*(?:that'?s|this is) (?:a request|something) i(?:'ll| will)? (?:have to|must) "
    r"pass on\b",
    r"^\W*(?:üzgünüm|maalesef)\b|yardımcı olamam",
    r"^\W*(?:helaas|het spijt me)\b|^\W*sorry,? (?:dat|ik) kan ik niet|ik kan (?:je |u )?"
    r"(?:daar )?niet (?:mee )?helpen",
    r"^\W*przepraszam\b|nie mogę (?:pomóc|tego zrobić|odpowiedzieć)",
    r"^\W*xin lỗi\b|tôi không thể (?:giúp|trả lời|làm)",
    r"^\W*maaf\b[^.]{0,40}\b(?:tidak bisa|tidak dapat)|saya tidak (?:bisa|dapat) membantu",
    r"^\W*(?:however|but|sadly),?\s+i\s+(?:can\s*not|can't|cannot|won't|will not|am unable "
    r"to|am not able to)\b",
    r"^\W*i'?m (?:not (?:going|allowed|permitted|able)|unable) to\b",
    r"^\W*i (?:won'?t|will not) be (?:able to )?" + _ACT + r"\b",
    r"^\W*i don'?t think i (?:can|should|am able to)\b",
    r"^\W*(?:unfortunately|regrettably)\b[^.!?]{0,80}\b(?:can'?t|cannot|"
    r"unable|not able|won'?t|not possible|not something)\b",
    r"^\W*(?:that|this|your) (?:request|question|task|prompt)? ?(?:is|goes|falls) "
    r"(?:outside|beyond|against)\b",
    r"\bi (?:must|have to|need to|will have to) (?:respectfully |politely )?(?:decline|refuse)\b",
    r"\b(?:violates?|goes against|against) (?:my|our|the|openai's) (?:guidelines|polic(?:y|ies)|"
    r"usage polic(?:y|ies)|content polic(?:y|ies)|terms)\b",
    r"^\W*(?:i|we) (?:can'?t|cannot|won'?t) (?:help|assist) (?:you )?with (?:that|this)\b",
    r"^\W*(?:that'?s|that is) not something i\b",
    r"^\W*lamentablemente\b[^.]{0,60}\bno (?:puedo|es posible)",
    r"^\W*no me es posible\b",
    r"^\W*(?:desculpe|lamento)\b",
    r"^\W*não posso (?:ajudar|fazer|responder|fornecer|cumprir)",
    r"^\W*mi dispiace\b",
    r"^\W*non posso (?:aiutare|fare|rispondere|fornire|soddisfare)",
    r"^\W*(?:das|dabei) kann ich (?:leider )?nicht\b",
    r"^\W*ich darf (?:das |dabei )?(?:leider )?nicht\b",
    r"^\W*je ne suis pas en mesure\b",
    r"^\W*malheureusement,? je ne (?:peux|suis)\b",
    r"^\W*(?:я не в состоянии|не могу помочь|я не могу с этим помочь)",
    r"(?:无法提供|不能提供|无法为您|不能为您)",
    r"(?:できません|いたしかねます)(?:。|$)",
    r"^\W*(?:죄송합니다|죄송하지만|미안합니다)",
    r"(?:도와드릴 수 없|할 수 없습니다|제공할 수 없)",
    # Other languages: the opening of a refusal, or "I cannot" with a verb of helping
    # (so "I can't sleep, suggest remedies" stays a task).
    r"^\W*lo siento\b",
    r"^\W*no puedo (?:ayudar|hacer|proporcionar|cumplir|responder)",
    r"^\W*(?:es )?tut mir (?:sehr )?leid\b",
    r"^\W*(?:leider )?kann ich (?:dabei |das |ihnen |dir )?nicht\b",
    r"^\W*ich kann (?:dabei |das |ihnen |dir )?nicht helfen",
    r"^\W*(?:je suis )?d[ée]sol[ée]e?\b",
    r"^\W*je ne peux pas (?:vous |t')?"
    r"(?:aider|répondre|fournir|faire|reformuler|écrire|accéder|traiter)",
    r"^\W*(?:извините|простите|к сожалению)\b",
    r"^\W*я не могу (?:вам |тебе )?"
    r"(?:помочь|ответить|выполнить|предоставить|сделать|написать|переписать|обсуждать)",
    r"^\W*(?:抱歉|对不起|很抱歉|非常抱歉|不好意思)",
    r"^\W*我(?:无法|不能|没办法)(?:为你|为您|帮你|帮您)?"
    r"(?:帮助|帮|完成|提供|回答|处理|满足|协助|生成|改写|执行|做)",
    r"^\W*(?:申し訳|すみません|ごめんなさい)",
    r"(?:お応え|お答え|対応|お手伝い|回答|提供|協力)(?:することは)?できません",
    r"^\W*(?:عذرًا|عذرا|آسف|أعتذر|للأسف)",
    r"^\W*(?:لا أستطيع|لا يمكنني)\s+"
    r"(?:المساعدة|مساعدتك|الإجابة|تقديم|القيام|إعادة|تلبية)",
    r"^\W*(?:क्षमा करें|माफ़ कीजिए|माफ कीजिए|मुझे खेद है)",
    r"(?:मदद|सहायता|उत्तर|जवाब)[^।]{0,20}नहीं (?:कर|दे) (?:सकता|सकती)",
)]

_INPUT = (r"(?:text|passage|article|paragraph|sentence|sentences|code|snippet|data|dataset|"
          r"table|list|document|essay|story|poem|email|file|details|information|content|"
          r"input|numbers|values|question|topic|context|image|link|url|message|words|"
          r"function|program|query|example|examples)")
ASKS_FOR_INPUT = [re.compile(p, _I) for p in (
    r"\bplease\s+(?:provide|share|paste|send|give|supply|specify|include|upload|attach)\b",
    r"\b(?:could|can|would) you\s+(?:please\s+)?(?:provide|share|paste|send|give|supply|"
    r"specify|clarify|tell me)\b",
    r"\bi (?:would )?need (?:the|more|some|a|an|you to provide)\b",
    r"\byou (?:haven'?t|have not|did not|didn'?t|forgot to) (?:provide|include|share|paste|"
    r"give|attach|specify)",
    r"\b(?:no|the) " + _INPUT + r" (?:was|were|has been|have been|is|are) (?:not )?"
    r"(?:provided|given|included|attached|missing)\b",
    r"\bwhat (?:" + _INPUT + r") (?:would|do|should|did) you\b",
    r"\bwhich (?:" + _INPUT + r") (?:would|do|should|did) you\b",
    r"\bonce you (?:provide|share|paste|send)\b",
    r"\b(?:what|which) (?:\w+ ){0,3}(?:would you like|do you want|are you (?:looking for|"
    r"referring to|asking about|working on))\b",
    r"\bcould you (?:please )?(?:clarify|be more specific|provide more|elaborate on what)\b",
    r"\bi'?d (?:be happy|love|be glad) to help(?:,? but| once| if| with that)",
    r"\bi need (?:more|a bit more|some more) (?:information|details|context)\b",
    r"\b(?:kindly|please) (?:provide|share|specify|send|paste|upload|give)\b",
    r"\bit (?:seems|looks) (?:like )?you (?:forgot|haven'?t|didn'?t|have not)\b",
    r"\bthere(?:'s| is) no (?:text|passage|code|data|table|list|input|sentence|paragraph|"
    r"article|document|file|image)s? (?:provided|given|attached|included|here)\b",
    r"\bwhich (?:one|text|passage|sentence|list|paragraph|file|document) (?:do|would|are) you\b",
    r"\b(?:which|what) (?:\w+ ){0,3}(?:do|did|does|are|were|would|should) you (?:have|use|own|"
    r"mean|need|want|prefer|like|have in mind)\b",
    r"\bproszę (?:podać|przesłać|wkleić|udostępnić)|\b(?:kun je|kunt u) (?:\w+ ){0,4}"
    r"(?:geven|delen|sturen|plakken)\b|\blütfen (?:\w+ ){0,3}(?:paylaşın|verin|gönderin|"
    r"belirtin)|\btolong (?:berikan|kirimkan|sebutkan)|\bvui lòng (?:cung cấp|gửi)",
    r"\bpor favor,? (?:comparte|indica|especifica|proporciona)",
    r"\bpoderia (?:fornecer|compartilhar)\b|\bpor favor,? (?:forneça|envie|compartilhe)",
    r"\bpotresti (?:fornire|condividere|indicare)\b|\bper favore,? (?:fornisci|indica)",
    r"\bkönnten sie (?:mir )?(?:bitte )?(?:den|die|das|mehr)\b",
    r"\bpourriez-vous (?:me )?(?:fournir|préciser|partager|donner)\b",
    r"\b(?:не могли бы вы|уточните)\b",
    r"(?:请问您|您能提供|能否提供|请您提供)",
    r"(?:教えていただけますか|提供していただけますか|共有してください)",
    r"\bpor favor,?\s+(?:proporciona|proporcione|comparte|indica|env[ií]a)",
    r"\bbitte (?:geben|stellen|teilen|senden|nennen) sie\b",
    r"\bveuillez (?:fournir|indiquer|partager)\b",
    r"\b(?:пожалуйста,?\s+)?(?:предоставьте|пришлите|укажите|отправьте)\b",
    r"请(?:提供|给出|分享|发送|告诉我)", r"(?:提供|教えて|送って)(?:ください|下さい)",
    r"(?:يرجى|من فضلك)\s+(?:تقديم|تزويدي|إرسال|مشاركة)",
    r"कृपया .{0,40}(?:प्रदान करें|दें|बताएं|भेजें)",
)]


def _first(patterns: list[re.Pattern[str]], text: str) -> str | None:
    for p in patterns:
        m = p.search(text)
        if m:
            return m.group(0).strip()
    return None


def _opening(text: str, limit: int) -> str:
    """The first `limit` characters, curly apostrophes straightened, a leading "Thank you
    for ..." sentence dropped (refusals and requests often follow one)."""
    head = text.strip().replace("\u2019", "'")
    head = re.sub(r"^\W*(?:thanks?|thank you)\b[^.!?\n]{0,120}[.!?]\s*", "", head, flags=_I)
    return head[:limit]


_AS_AN_AI = re.compile(r"^\W*as an? (?:ai|artificial intelligence|language model|large "
                       r"language model|llm|ai language model|ai assistant|assistant)", _I)
# "As an AI, I don't own a fridge, but here is how..." goes on to answer.
_GOES_ON = re.compile(r"^[^.!?\n]*\b(?:but|however|that said|here is|here's|here are)\b",
                      _I)
_NO_ANSWER = re.compile(
    r"^\W*(?:n/?a|none|nothing|no answer|see (?:above|below)|i don'?t know|not sure|no idea|"
    r"i'?m not sure|unknown|tbd|to be determined|(?:good|great|interesting) question|"
    r"let me think(?: about (?:it|that|this))?|hmm+)\b[^.!?\n]{0,40}[.!?…]*\s*"
    r"(?:(?:let me think(?: about (?:it|that|this))?|i'?ll think about it)[.!?…]*)?\W*$", _I)


def find_refusal(text: str) -> str | None:
    """The words that make `text` read as a refusal, looking at its opening only."""
    head = _opening(text, 300)
    found = _first(REFUSAL, head)
    if found and _AS_AN_AI.match(head) and _GOES_ON.match(head):
        return None
    return found


def find_no_answer(text: str) -> str | None:
    """A reply that is no answer at all: "N/A", "See above.", "I don't know.", "Good
    question! Let me think about that." (all of it, not the opening of a longer reply)."""
    m = _NO_ANSWER.match(text.strip().replace("\u2019", "'"))
    return m.group(0).strip() if m else None


def find_asks_for_input(text: str) -> str | None:
    """The words with which `text` asks for input it was not given.

    Only an ask that opens the reply counts (within its first 250 characters): a full
    answer that ends "if you share your code, I can say more" has answered.
    """
    return _first(ASKS_FOR_INPUT, _opening(text, 250))


_ERROR_PAGE = re.compile(r"\b(?:50[0234]|bad gateway|service unavailable|gateway time-?out|"
                         r"internal server error|too many requests|nginx|cloudflare|"
                         r"access denied|forbidden)\b", _I)


def is_error_page(text: str) -> bool:
    """An HTTP error page (a proxy's 502, say) delivered as if it were the model's reply."""
    head = text.lstrip()[:600]
    return head[:15].lower().startswith(("<!doctype html", "<html")) and bool(
        _ERROR_PAGE.search(head))

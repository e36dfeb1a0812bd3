"""Phrases that recur in what chat models say instead of doing the task: refusals, requests
for missing input, chat preambles. Shared by the rewrite stage (an evolver that refuses)
and the answer stage (an answerer that refuses or asks).

Each pattern is searched near the start of the text (refusals open with them) and the
match is kept as evidence, so a person sees exactly which words decided.
"""

from __future__ import annotations

import re

__all__ = ["ASKS_FOR_INPUT", "REFUSAL", "find_asks_for_input", "find_refusal", "is_error_page"]

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


def find_refusal(text: str) -> str | None:
    """The words that make `text` read as a refusal, looking at its opening only."""
    return _first(REFUSAL, text.strip()[:300].replace("\u2019", "'"))


def find_asks_for_input(text: str) -> str | None:
    """The words with which `text` asks for input it was not given.

    Only an ask that opens the reply counts (within its first 160 characters): a full
    answer that ends "if you share your code, I can say more" has answered.
    """
    return _first(ASKS_FOR_INPUT, text.strip()[:160].replace("\u2019", "'"))


_ERROR_PAGE = re.compile(r"\b(?:50[0234]|bad gateway|service unavailable|gateway time-?out|"
                         r"internal server error|too many requests|nginx|cloudflare|"
                         r"access denied|forbidden)\b", _I)


def is_error_page(text: str) -> bool:
    """An HTTP error page (a proxy's 502, say) delivered as if it were the model's reply."""
    head = text.lstrip()[:600]
    return head[:15].lower().startswith(("<!doctype html", "<html")) and bool(
        _ERROR_PAGE.search(head))
